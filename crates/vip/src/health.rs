//! The backend health check: an HTTPS `GET /readyz` straight to one API server, verified against
//! the cluster CA, that passes only on status 200.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::error::{Error, Result};

/// How often each candidate is checked.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(200);
/// How long one check may take before it counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_millis(500);
/// `/readyz` answers a few bytes; anything much longer is not an API server, and reading on would
/// let a broken backend hold the check for the whole timeout.
const MAX_RESPONSE: usize = 16 * 1024;

/// Why a backend failed its check, for the log line that removes it.
#[derive(Debug, thiserror::Error)]
pub enum Unhealthy {
    /// The check did not finish within its timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The TCP connection failed (typically refused: nothing listens).
    #[error("connect: {0}")]
    Connect(#[source] std::io::Error),
    /// The TLS handshake failed, e.g. a certificate not signed by the cluster CA or not valid for
    /// the backend's IP.
    #[error("TLS handshake: {0}")]
    Handshake(#[source] std::io::Error),
    /// Writing the request or reading the answer failed.
    #[error("request: {0}")]
    Io(#[source] std::io::Error),
    /// The answer was not an HTTP response.
    #[error("not an HTTP response")]
    Malformed,
    /// The server answered, but not ready.
    #[error("/readyz answered {0}")]
    Status(u16),
}

/// Checks API servers' `/readyz` over TLS.
#[derive(Clone)]
pub struct HealthCheck {
    connector: TlsConnector,
    timeout: Duration,
}

impl HealthCheck {
    /// A check that trusts the PEM CA certificates in `ca_file`.
    pub fn from_ca_file(ca_file: &Path, timeout: Duration) -> Result<HealthCheck> {
        let pem = std::fs::read(ca_file).map_err(|source| Error::CaFile {
            path: ca_file.to_owned(),
            source,
        })?;
        let bad = |reason: String| Error::BadCa {
            path: ca_file.to_owned(),
            reason,
        };
        let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut pem.as_slice())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no PEM certificate".into()));
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in certs {
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(HealthCheck::new(tls, timeout))
    }

    /// A check with this TLS client configuration (its ALPN is set to HTTP/1.1, which is all the
    /// check speaks).
    pub fn new(mut tls: rustls::ClientConfig, timeout: Duration) -> HealthCheck {
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        HealthCheck {
            connector: TlsConnector::from(Arc::new(tls)),
            timeout,
        }
    }

    /// Checks the API server at `addr`, with its IP as the TLS server name.
    pub async fn check(&self, addr: SocketAddr) -> Result<(), Unhealthy> {
        tokio::time::timeout(self.timeout, self.check_unbounded(addr))
            .await
            .unwrap_or(Err(Unhealthy::Timeout(self.timeout)))
    }

    async fn check_unbounded(&self, addr: SocketAddr) -> Result<(), Unhealthy> {
        let tcp = TcpStream::connect(addr).await.map_err(Unhealthy::Connect)?;
        // The request fits in one segment; without this it may wait on Nagle for the handshake's
        // last ACK.
        tcp.set_nodelay(true).map_err(Unhealthy::Connect)?;
        let name = ServerName::IpAddress(addr.ip().into());
        let mut tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(Unhealthy::Handshake)?;
        let request = format!(
            "GET /readyz HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: hakube-vip\r\n\
             Accept: */*\r\nConnection: close\r\n\r\n"
        );
        tls.write_all(request.as_bytes())
            .await
            .map_err(Unhealthy::Io)?;
        // Read the whole (short) answer: the server closes after it, and leaving first would make
        // it log an aborted connection five times a second.
        let mut answer = Vec::with_capacity(256);
        let mut chunk = [0u8; 2048];
        loop {
            match tls.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => {
                    answer.extend_from_slice(&chunk[..n]);
                    if answer.len() >= MAX_RESPONSE {
                        break;
                    }
                }
                // A server that closes without close_notify has still answered in full.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) if answer.is_empty() => return Err(Unhealthy::Io(e)),
                Err(_) => break,
            }
        }
        // Best effort: the server may have gone already.
        let _ = tls.shutdown().await;
        match status_code(&answer) {
            Some(200) => Ok(()),
            Some(code) => Err(Unhealthy::Status(code)),
            None => Err(Unhealthy::Malformed),
        }
    }
}

/// The status code of an HTTP/1.x response, from its status line.
pub fn status_code(response: &[u8]) -> Option<u16> {
    let end = response.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&response[..end]).ok()?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes() {
        let cases: [(&[u8], Option<u16>); 9] = [
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Some(200)),
            (b"HTTP/1.0 200 OK\r\n\r\n", Some(200)),
            (b"HTTP/1.1 500 Internal Server Error\r\n\r\n", Some(500)),
            (b"HTTP/1.1 403 \r\n\r\n", Some(403)),
            (b"HTTP/1.1 200\r\n\r\n", Some(200)),
            (b"HTTP/1.1 200 OK", None),
            (b"HTTP/2 200\r\n", None),
            (b"SSH-2.0-OpenSSH\r\n", None),
            (b"HTTP/1.1 20 OK\r\n", None),
        ];
        for (response, want) in cases {
            assert_eq!(
                status_code(response),
                want,
                "{}",
                String::from_utf8_lossy(response)
            );
        }
    }

    #[test]
    fn ca_file_errors() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path();
        let missing = dir.join("missing.crt");
        assert!(matches!(
            HealthCheck::from_ca_file(&missing, CHECK_TIMEOUT),
            Err(Error::CaFile { .. })
        ));
        let empty = dir.join("empty.crt");
        std::fs::write(&empty, b"not a certificate\n").expect("write");
        assert!(matches!(
            HealthCheck::from_ca_file(&empty, CHECK_TIMEOUT),
            Err(Error::BadCa { .. })
        ));
    }
}
