//! Encryption at rest: Kubernetes EncryptionConfiguration and its providers (aesgcm, aescbc, secretbox, identity).
