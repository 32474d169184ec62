//! Probes a node's roles directly, the way `hakube status` and `profile list` see them: the
//! API server's `/readyz` over HTTPS (verified against the cluster CA), the kubelet's plain
//! `/healthz`, and the store member's status call.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{Error, Result};

/// How long one probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A TLS client that trusts the cluster CA only.
pub fn tls_client(ca: &Path) -> Result<Arc<rustls::ClientConfig>> {
    let pem = std::fs::read(ca).map_err(Error::io(ca))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| Error::Invalid(format!("{}: {e}", ca.display())))?;
        roots
            .add(cert)
            .map_err(|e| Error::Invalid(format!("{}: {e}", ca.display())))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Invalid(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Whether `GET path` on `addr` answers 200, over TLS when `tls` is given.
pub async fn http_ok(addr: SocketAddr, path: &str, tls: Option<Arc<rustls::ClientConfig>>) -> bool {
    tokio::time::timeout(PROBE_TIMEOUT, get_status(addr, path, tls))
        .await
        .ok()
        .and_then(|r| r.ok())
        .map(|code| code == 200)
        .unwrap_or(false)
}

async fn get_status(
    addr: SocketAddr,
    path: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> std::io::Result<u16> {
    let tcp = TcpStream::connect(addr).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: hakube\r\nConnection: close\r\n\r\n"
    );
    let mut head = Vec::new();
    match tls {
        Some(config) => {
            let name = ServerName::IpAddress(addr.ip().into());
            let mut stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            stream.write_all(request.as_bytes()).await?;
            let _ = stream.read_to_end(&mut head).await;
        }
        None => {
            let mut stream = tcp;
            stream.write_all(request.as_bytes()).await?;
            let _ = stream.read_to_end(&mut head).await;
        }
    }
    Ok(status_code(&head).unwrap_or(0))
}

/// The status code of an HTTP/1.x response's first line.
fn status_code(response: &[u8]) -> Option<u16> {
    let line = response.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    words.next().filter(|v| v.starts_with("HTTP/"))?;
    words.next()?.parse().ok()
}

/// Whether the API server on `ip` is ready.
pub async fn apiserver_ready(ip: IpAddr, tls: &Arc<rustls::ClientConfig>) -> bool {
    http_ok(
        SocketAddr::new(ip, crate::ports::APISERVER),
        "/readyz",
        Some(tls.clone()),
    )
    .await
}

/// Whether the kubelet on `ip` answers its health check.
pub async fn kubelet_healthy(ip: IpAddr) -> bool {
    http_ok(
        SocketAddr::new(ip, crate::ports::KUBELET_HEALTHZ),
        "/healthz",
        None,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_lines() {
        let cases: &[(&[u8], Option<u16>)] = &[
            (b"HTTP/1.1 200 OK\r\n\r\nok", Some(200)),
            (b"HTTP/1.1 500 Internal Server Error\r\n", Some(500)),
            (b"", None),
            (b"garbage", None),
        ];
        for (input, want) in cases {
            assert_eq!(status_code(input), *want);
        }
    }
}
