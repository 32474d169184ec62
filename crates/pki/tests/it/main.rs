//! The pki crate's integration tests: a PKI generated into a temporary directory, read back with
//! x509-parser, verified with rustls's WebPKI verifiers and, where installed, with openssl and
//! kubectl.

mod certs;
mod chain;
mod kubeconfig;
mod layout;
mod tools;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use anyhow::{Context, Result, bail};
use pki::{NodeSpec, Pki, PkiSpec};
use tempfile::TempDir;
use x509_parser::extensions::GeneralName;

/// A three-node cluster: two control-plane nodes and a worker, behind a VIP.
fn spec() -> PkiSpec {
    PkiSpec {
        cluster_name: "hakube".into(),
        service_ip: Ipv4Addr::new(10, 96, 0, 1),
        vip: Some(ip("192.168.49.254")),
        nodes: vec![
            node("hakube", "192.168.49.2", true),
            node("hakube-m02", "192.168.49.3", true),
            node("hakube-m03", "192.168.49.4", false),
        ],
    }
}

fn node(name: &str, addr: &str, control_plane: bool) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        ip: ip(addr),
        control_plane,
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// [`spec`]'s PKI in a fresh temporary directory (kept alive by the returned guard).
fn generate() -> Result<(TempDir, Pki)> {
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(dir.path(), &spec())?;
    Ok((dir, pki))
}

/// What the tests check of a certificate, read with x509-parser.
#[derive(Debug)]
struct CertInfo {
    common_name: String,
    organizations: Vec<String>,
    issuer: String,
    dns_names: Vec<String>,
    ips: Vec<IpAddr>,
    is_ca: bool,
    digital_signature: bool,
    key_cert_sign: bool,
    server_auth: bool,
    client_auth: bool,
    not_before: i64,
    not_after: i64,
    serial: Vec<u8>,
    public_key: Vec<u8>,
}

impl CertInfo {
    fn read(path: &Path) -> Result<CertInfo> {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let (_, pem) = x509_parser::pem::parse_x509_pem(&text)?;
        let cert = pem.parse_x509()?;
        let names = |name: &x509_parser::x509::X509Name, common: bool| -> Vec<String> {
            let attrs: Vec<_> = match common {
                true => name.iter_common_name().collect(),
                false => name.iter_organization().collect(),
            };
            attrs
                .into_iter()
                .map(|attr| attr.as_str().unwrap().to_string())
                .collect()
        };
        let mut dns_names = Vec::new();
        let mut ips = Vec::new();
        if let Some(san) = cert.subject_alternative_name()? {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => dns_names.push(dns.to_string()),
                    GeneralName::IPAddress(octets) => ips.push(match octets.len() {
                        4 => IpAddr::from(<[u8; 4]>::try_from(*octets)?),
                        16 => IpAddr::from(<[u8; 16]>::try_from(*octets)?),
                        n => bail!("{}: an IP SAN of {n} bytes", path.display()),
                    }),
                    other => bail!("{}: unexpected SAN {other:?}", path.display()),
                }
            }
        }
        let key_usage = cert.key_usage()?.map(|ext| *ext.value);
        let eku = cert.extended_key_usage()?.map(|ext| ext.value.clone());
        Ok(CertInfo {
            common_name: names(cert.subject(), true).join(","),
            organizations: names(cert.subject(), false),
            issuer: names(cert.issuer(), true).join(","),
            dns_names,
            ips,
            is_ca: cert.basic_constraints()?.is_some_and(|bc| bc.value.ca),
            digital_signature: key_usage.is_some_and(|ku| ku.digital_signature()),
            key_cert_sign: key_usage.is_some_and(|ku| ku.key_cert_sign()),
            server_auth: eku.as_ref().is_some_and(|eku| eku.server_auth),
            client_auth: eku.as_ref().is_some_and(|eku| eku.client_auth),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            serial: cert.raw_serial().to_vec(),
            public_key: cert.public_key().raw.to_vec(),
        })
    }
}
