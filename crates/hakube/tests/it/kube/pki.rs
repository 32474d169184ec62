//! The Kubernetes side of a test cluster's PKI: a cluster CA, the API server's serving
//! certificate, client certificates for an administrator and for a user with no grants, a
//! ServiceAccount signing key, and an EncryptionConfiguration with a fresh AES-GCM key.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// A client identity: the PEM certificate and key kubectl presents.
#[derive(Clone, Debug)]
pub struct Identity {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The PEM and YAML files `hakube apiserver` and kubectl are given.
#[derive(Clone, Debug)]
pub struct ApiPki {
    /// The CA that signed the serving certificate and the client certificates.
    pub ca: PathBuf,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    /// CN `kubernetes-admin`, O `system:masters`: the administrator kubeadm writes.
    pub admin: Identity,
    /// CN `bob` and no groups: a user whom the default RBAC policy grants nothing.
    pub bob: Identity,
    /// A certificate for `kubernetes-admin` in `system:masters` that another CA signed.
    pub forged_admin: Identity,
    /// An EC P-256 private key (PKCS#8) for `--service-account-signing-key-file`.
    pub service_account_key: PathBuf,
    /// Its public half, for `--service-account-key-file`.
    pub service_account_public_key: PathBuf,
    /// An EncryptionConfiguration that encrypts Secrets with AES-GCM under the key `key1`.
    pub encryption_config: PathBuf,
}

/// A CA and the parameters it was made from, so it can sign.
struct Authority {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    fn new(name: &str) -> Result<Authority> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        Ok(Authority {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Signs a client certificate for `user` in `groups` and writes it as `<file>.pem` and
    /// `<file>-key.pem`.
    fn client(&self, dir: &Path, file: &str, user: &str, groups: &[&str]) -> Result<Identity> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, user);
        for group in groups {
            params
                .distinguished_name
                .push(DnType::OrganizationName, *group);
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?;
        let identity = Identity {
            cert: dir.join(format!("{file}.pem")),
            key: dir.join(format!("{file}-key.pem")),
        };
        write(&identity.cert, &cert.pem())?;
        write(&identity.key, &key.serialize_pem())?;
        Ok(identity)
    }
}

impl ApiPki {
    /// Writes everything into `dir`, with a serving certificate valid for `server_ip`.
    pub fn generate(dir: &Path, server_ip: Ipv4Addr) -> Result<ApiPki> {
        std::fs::create_dir_all(dir)?;
        let ca = Authority::new("hakube test kubernetes CA")?;

        // The names kubeadm puts on an API server's certificate, plus the loopback address the
        // test dials.
        let serving_key = KeyPair::generate()?;
        let mut serving = CertificateParams::new(vec![
            "kubernetes".to_string(),
            "kubernetes.default".to_string(),
            "kubernetes.default.svc".to_string(),
            "kubernetes.default.svc.cluster.local".to_string(),
            "localhost".to_string(),
        ])?;
        serving.subject_alt_names.extend([
            SanType::IpAddress(IpAddr::V4(server_ip)),
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::new(10, 96, 0, 1))),
        ]);
        serving
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        serving.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        serving.use_authority_key_identifier_extension = true;
        let serving_cert = serving.signed_by(&serving_key, &ca.issuer)?;

        let admin = ca.client(dir, "admin", "kubernetes-admin", &["system:masters"])?;
        let bob = ca.client(dir, "bob", "bob", &[])?;
        let forger = Authority::new("hakube test forger CA")?;
        let forged_admin =
            forger.client(dir, "forged-admin", "kubernetes-admin", &["system:masters"])?;

        // rcgen's default key is ECDSA P-256, the curve the flag accepts besides RSA.
        let sa_key = KeyPair::generate()?;

        let pki = ApiPki {
            ca: dir.join("ca.pem"),
            serving_cert: dir.join("apiserver.pem"),
            serving_key: dir.join("apiserver-key.pem"),
            admin,
            bob,
            forged_admin,
            service_account_key: dir.join("sa-key.pem"),
            service_account_public_key: dir.join("sa.pub"),
            encryption_config: dir.join("encryption-config.yaml"),
        };
        write(&pki.ca, &ca.pem)?;
        write(&pki.serving_cert, &serving_cert.pem())?;
        write(&pki.serving_key, &serving_key.serialize_pem())?;
        write(&pki.service_account_key, &sa_key.serialize_pem())?;
        write(&pki.service_account_public_key, &sa_key.public_key_pem())?;
        write(&pki.encryption_config, &encryption_config(&rand::random()))?;
        Ok(pki)
    }
}

/// Secrets are encrypted with AES-GCM under `key1`; `identity` second lets data written
/// before encryption was turned on still be read, as the Kubernetes docs set it up.
fn encryption_config(secret: &[u8; 32]) -> String {
    let secret = base64::engine::general_purpose::STANDARD.encode(secret);
    format!(
        "\
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
    providers:
      - aesgcm:
          keys:
            - name: key1
              secret: {secret}
      - identity: {{}}
"
    )
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
