//! TLS for the client and peer listeners and for peer connections, from etcd's certificate flags.
//!
//! As in etcd, a trusted CA only makes the server demand client certificates when
//! `--client-cert-auth` (or `--peer-client-cert-auth`) is set.

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::config::TlsFiles;
use crate::error::{Error, Result};

fn read(path: &std::path::Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| Error::InvalidArgument(format!("cannot read {what} {}: {e}", path.display())))
}

/// The server side, or `None` when no certificate is configured.
pub fn server_config(files: &TlsFiles) -> Result<Option<ServerTlsConfig>> {
    let (Some(cert), Some(key)) = (&files.cert_file, &files.key_file) else {
        return Ok(None);
    };
    let identity = Identity::from_pem(read(cert, "certificate")?, read(key, "key")?);
    let mut config = ServerTlsConfig::new().identity(identity);
    if files.client_cert_auth {
        let ca = files.trusted_ca_file.as_ref().ok_or_else(|| {
            Error::InvalidArgument(
                "client certificate authentication needs --trusted-ca-file".into(),
            )
        })?;
        config = config.client_ca_root(Certificate::from_pem(read(ca, "trusted CA")?));
    }
    Ok(Some(config))
}

/// The client side of peer connections: trust the peer CA and present this member's certificate.
pub fn peer_client_config(files: &TlsFiles) -> Result<Option<ClientTlsConfig>> {
    if files.cert_file.is_none() && files.trusted_ca_file.is_none() {
        return Ok(None);
    }
    let mut config = ClientTlsConfig::new();
    if let Some(ca) = &files.trusted_ca_file {
        config = config.ca_certificate(Certificate::from_pem(read(ca, "trusted CA")?));
    }
    if let (Some(cert), Some(key)) = (&files.cert_file, &files.key_file) {
        config = config.identity(Identity::from_pem(
            read(cert, "certificate")?,
            read(key, "key")?,
        ));
    }
    Ok(Some(config))
}
