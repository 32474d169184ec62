//! ServiceAccount tokens: signed JWTs, as kube-apiserver issues and verifies them.
