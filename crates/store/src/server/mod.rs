//! The client-facing etcd v3 gRPC services, and serving them and the peer service on listeners.

pub mod auth;
pub mod cluster;
pub mod kv;
pub mod lease;
pub mod maintenance;
pub mod watch;

use std::net::SocketAddr;
use std::sync::Arc;

use etcd_api::etcdserverpb::auth_server::AuthServer;
use etcd_api::etcdserverpb::cluster_server::ClusterServer;
use etcd_api::etcdserverpb::kv_server::KvServer;
use etcd_api::etcdserverpb::lease_server::LeaseServer;
use etcd_api::etcdserverpb::maintenance_server::MaintenanceServer;
use etcd_api::etcdserverpb::watch_server::WatchServer;
use etcd_api::raftpeer::raft_peer_server::RaftPeerServer;
use tokio::net::TcpListener;
use tokio::sync::watch as signal;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Server, ServerTlsConfig};

use crate::error::{Error, Result};
use crate::member::Member;
use crate::peer::PeerService;

/// gRPC allows this much beyond `--max-request-bytes`, as etcd does, so that an oversized request
/// still reaches the store and gets etcd's own "request is too large".
const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// A bound listener and whether it speaks TLS.
pub struct Listener {
    pub url: String,
    pub tcp: TcpListener,
    pub tls: bool,
}

/// Binds every URL up front, so a taken port fails the start with a clear message.
pub async fn bind(urls: &[String], flag: &str) -> Result<Vec<Listener>> {
    let mut out = Vec::new();
    for url in urls {
        let parsed = crate::config::check_url(url, flag)?;
        let host = parsed
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = parsed.port().unwrap_or_default();
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| Error::InvalidArgument(format!("{flag}: cannot resolve {url}: {e}")))?
            .collect();
        let addr = addrs
            .first()
            .ok_or_else(|| Error::InvalidArgument(format!("{flag}: {url} resolves to nothing")))?;
        let tcp = TcpListener::bind(addr).await.map_err(|e| {
            Error::InvalidArgument(format!(
                "{flag}: cannot listen on {url}: {e} (is another etcd or hakube using it?)"
            ))
        })?;
        out.push(Listener {
            url: url.clone(),
            tcp,
            tls: parsed.scheme() == "https",
        });
    }
    Ok(out)
}

fn builder(tls: Option<&ServerTlsConfig>, listener: &Listener) -> Result<Server> {
    let mut server = Server::builder().tcp_nodelay(true);
    if listener.tls {
        let tls = tls.ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{} is https but no certificate is configured",
                listener.url
            ))
        })?;
        server = server
            .tls_config(tls.clone())
            .map_err(|e| Error::InvalidArgument(format!("TLS for {}: {e}", listener.url)))?;
    }
    Ok(server)
}

/// Serves the etcd API on the client listeners until `stop` is set.
pub fn serve_clients(
    member: Arc<Member>,
    listeners: Vec<Listener>,
    tls: Option<ServerTlsConfig>,
) -> Result<()> {
    let max = member.config.max_request_bytes + GRPC_OVERHEAD_BYTES;
    for listener in listeners {
        let mut server = builder(tls.as_ref(), &listener)?;
        let m = member.clone();
        let mut stop = member.stop.subscribe();
        let router = server
            .add_service(
                KvServer::new(kv::KvService { member: m.clone() }).max_decoding_message_size(max),
            )
            .add_service(
                WatchServer::new(watch::WatchService { member: m.clone() })
                    .max_decoding_message_size(max),
            )
            .add_service(
                LeaseServer::new(lease::LeaseService { member: m.clone() })
                    .max_decoding_message_size(max),
            )
            .add_service(
                ClusterServer::new(cluster::ClusterService { member: m.clone() })
                    .max_decoding_message_size(max),
            )
            .add_service(
                MaintenanceServer::new(maintenance::MaintenanceService { member: m.clone() })
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(usize::MAX),
            )
            .add_service(AuthServer::new(auth::AuthService));
        let url = listener.url.clone();
        tokio::spawn(async move {
            let incoming = no_delay(listener.tcp);
            if let Err(e) = router
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
            {
                tracing::error!(%url, error = %e, "client listener stopped");
            }
        });
    }
    Ok(())
}

/// Serves the peer service on the peer listeners until `stop` is set.
pub fn serve_peers(
    member: Arc<Member>,
    listeners: Vec<Listener>,
    tls: Option<ServerTlsConfig>,
) -> Result<()> {
    for listener in listeners {
        let mut server = builder(tls.as_ref(), &listener)?;
        let mut stop = member.stop.subscribe();
        let service = RaftPeerServer::new(PeerService {
            member: member.clone(),
            seen: Default::default(),
        })
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
        let router = server.add_service(service);
        let url = listener.url.clone();
        tokio::spawn(async move {
            let incoming = no_delay(listener.tcp);
            if let Err(e) = router
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
            {
                tracing::error!(%url, error = %e, "peer listener stopped");
            }
        });
    }
    Ok(())
}

/// Accepted connections with Nagle's algorithm off. tonic's own `tcp_nodelay` only reaches the
/// listeners it binds itself; without this, small replies wait for delayed ACKs (about 40 ms),
/// which stalls every forwarded proposal and every replication round.
fn no_delay(
    tcp: TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    TcpListenerStream::new(tcp).map(|accepted| {
        let stream = accepted?;
        stream.set_nodelay(true)?;
        Ok(stream)
    })
}

/// Waits until `stop` is set.
pub async fn stopped(mut stop: signal::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
