//! Bootstrap tokens and discovery, as kubeadm uses them to join a node: a token
//! `<id>.<secret>` stored as the Secret `kube-system/bootstrap-token-<id>`, and the CA's
//! public key hash (`sha256:<hex>`) that a joining node checks the cluster's CA against.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The group a joining node's token authenticates into, kubeadm's default.
pub const NODE_TOKEN_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";

/// A bootstrap token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    pub id: String,
    pub secret: String,
}

impl BootstrapToken {
    /// A fresh random token: 6 and 16 characters of `[a-z0-9]`, the format Kubernetes checks.
    pub fn generate() -> BootstrapToken {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        let mut pick = |n: usize| -> String {
            (0..n)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect()
        };
        BootstrapToken {
            id: pick(6),
            secret: pick(16),
        }
    }

    /// `<id>.<secret>`, what a client sends as its bearer token.
    pub fn bearer(&self) -> String {
        format!("{}.{}", self.id, self.secret)
    }

    /// Reads `<id>.<secret>`.
    pub fn parse(text: &str) -> Result<BootstrapToken> {
        let valid = |s: &str, n: usize| {
            s.len() == n
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        match text.split_once('.') {
            Some((id, secret)) if valid(id, 6) && valid(secret, 16) => Ok(BootstrapToken {
                id: id.into(),
                secret: secret.into(),
            }),
            _ => Err(Error::Invalid(
                "the token must look like abcdef.0123456789abcdef ([a-z0-9]{6}.[a-z0-9]{16})"
                    .into(),
            )),
        }
    }

    /// The Secret that makes the token valid until `expiration` (RFC 3339).
    pub fn secret_object(&self, expiration: &str, description: &str) -> Secret {
        let data: BTreeMap<String, String> = [
            ("token-id", self.id.as_str()),
            ("token-secret", self.secret.as_str()),
            ("expiration", expiration),
            ("usage-bootstrap-authentication", "true"),
            ("usage-bootstrap-signing", "true"),
            ("auth-extra-groups", NODE_TOKEN_GROUP),
            ("description", description),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Secret {
            metadata: ObjectMeta {
                name: Some(format!("bootstrap-token-{}", self.id)),
                namespace: Some("kube-system".into()),
                ..Default::default()
            },
            type_: Some("bootstrap.kubernetes.io/token".into()),
            string_data: Some(data),
            ..Default::default()
        }
    }
}

/// `sha256:<hex>` of the CA certificate's SubjectPublicKeyInfo, kubeadm's
/// `--discovery-token-ca-cert-hash`.
pub fn ca_cert_hash(ca_pem: &str) -> Result<String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(ca_pem.as_bytes())
        .map_err(|e| Error::Invalid(format!("the CA certificate is not PEM: {e}")))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| Error::Invalid(format!("the CA certificate does not parse: {e}")))?;
    let digest = Sha256::digest(cert.tbs_certificate.subject_pki.raw);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sha256:{hex}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let token = BootstrapToken::generate();
        assert_eq!(BootstrapToken::parse(&token.bearer()).unwrap(), token);
        for bad in [
            "",
            "abc.def",
            "ABCDEF.0123456789abcdef",
            "abcdef0123456789abcdef",
        ] {
            assert!(BootstrapToken::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_has_kubeadm_fields() {
        let token = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        let secret = token.secret_object("2026-01-01T00:00:00Z", "joins ha-demo-m02");
        assert_eq!(
            secret.metadata.name.as_deref(),
            Some("bootstrap-token-abcdef")
        );
        assert_eq!(
            secret.type_.as_deref(),
            Some("bootstrap.kubernetes.io/token")
        );
        let data = secret.string_data.unwrap();
        assert_eq!(data["usage-bootstrap-authentication"], "true");
        assert_eq!(data["auth-extra-groups"], NODE_TOKEN_GROUP);
    }

    #[test]
    fn hash_is_stable() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["ca".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let a = ca_cert_hash(&cert.pem()).unwrap();
        assert!(a.starts_with("sha256:") && a.len() == 7 + 64, "{a}");
        assert_eq!(a, ca_cert_hash(&cert.pem()).unwrap());
        assert!(ca_cert_hash("not pem").is_err());
    }
}
