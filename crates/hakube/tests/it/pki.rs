//! Generates a throw-away certificate authority and the member and client certificates a TLS
//! cluster needs, written as PEM files into the cluster's temp dir.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// The PEM files of one cluster's PKI.
#[derive(Clone, Debug)]
pub struct Pki {
    pub ca: PathBuf,
    /// One certificate for every member, used both for clients and for peers: it names every
    /// loopback address of the cluster's block so members added later can use it too.
    pub member_cert: PathBuf,
    pub member_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Pki {
    /// Writes a CA, a member certificate valid for `ips`, and a client certificate into `dir`.
    pub fn generate(dir: &Path, ips: &[Ipv4Addr]) -> Result<Pki> {
        std::fs::create_dir_all(dir)?;
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "hakube test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        // Members dial each other as clients on the peer port, so their certificate carries both
        // purposes; etcd's --peer-client-cert-auth checks the client one.
        let member_key = KeyPair::generate()?;
        let mut member = CertificateParams::new(vec!["localhost".to_string()])?;
        member
            .subject_alt_names
            .extend(ips.iter().map(|ip| SanType::IpAddress(IpAddr::V4(*ip))));
        member
            .distinguished_name
            .push(DnType::CommonName, "hakube member");
        member.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        member.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        member.use_authority_key_identifier_extension = true;
        let member_cert = member.signed_by(&member_key, &issuer)?;

        let client_key = KeyPair::generate()?;
        let mut client = CertificateParams::new(Vec::<String>::new())?;
        client.distinguished_name.push(DnType::CommonName, "root");
        client.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        client.use_authority_key_identifier_extension = true;
        let client_cert = client.signed_by(&client_key, &issuer)?;

        let pki = Pki {
            ca: dir.join("ca.pem"),
            member_cert: dir.join("member.pem"),
            member_key: dir.join("member-key.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client-key.pem"),
        };
        write(&pki.ca, &ca_cert.pem())?;
        write(&pki.member_cert, &member_cert.pem())?;
        write(&pki.member_key, &member_key.serialize_pem())?;
        write(&pki.client_cert, &client_cert.pem())?;
        write(&pki.client_key, &client_key.serialize_pem())?;
        Ok(pki)
    }
}

fn write(path: &Path, pem: &str) -> Result<()> {
    std::fs::write(path, pem).with_context(|| format!("writing {}", path.display()))
}
