//! Probes a node's roles directly, the way `hakube status` and `profile list` see them: the
//! API server's `/readyz` over HTTPS with the VIP agent's own check (verified against the
//! cluster CA), and the kubelet's plain `/healthz`. The store member's probe is in `etcd`.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{Error, Result};
use crate::ports;

/// How long one probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Checks API servers' `/readyz`, trusting the cluster CA only.
#[derive(Clone)]
pub struct ApiProbe(vip::HealthCheck);

impl ApiProbe {
    /// A probe that trusts the CA in `ca`.
    pub fn new(ca: &Path) -> Result<ApiProbe> {
        vip::HealthCheck::from_ca_file(ca, PROBE_TIMEOUT)
            .map(ApiProbe)
            .map_err(|e| Error::Invalid(e.to_string()))
    }

    /// Whether the API server on `ip` (a node, or the VIP) is ready.
    pub async fn ready(&self, ip: IpAddr) -> bool {
        self.0
            .check(SocketAddr::new(ip, ports::APISERVER))
            .await
            .is_ok()
    }
}

/// Whether the kubelet on `ip` answers its plain health check with 200.
pub async fn kubelet_healthy(ip: IpAddr) -> bool {
    let addr = SocketAddr::new(ip, ports::KUBELET_HEALTHZ);
    let probe = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
        Ok(Ok(answer)) => vip::status_code(&answer) == Some(200),
        _ => false,
    }
}
