//! A running API server: its shared state, the HTTPS listener (TLS 1.2+, client certificates
//! optional and verified against `--client-ca-file`), and its background duties (RBAC cache,
//! default objects, the `kubernetes` endpoints, etcd compaction).

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::authn::Authenticator;
use crate::config::ApiServerConfig;
use crate::encryption::Encryption;
use crate::endpoints::EndpointReconciler;
use crate::error::{Error, Result};
use crate::etcd::Etcd;
use crate::kubelet_client::KubeletClient;
use crate::rbac::Policy;
use crate::services::Ipv4Range;
use crate::storage::Storage;
use crate::token::{TokenIssuer, TokenVerifier};
use crate::{bootstrap, handler, tls};

/// How long a shutdown waits for the store to take this server out of the Endpoints.
const WITHDRAW_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The shared state every request handler reads.
#[derive(Debug)]
pub struct ApiServer {
    pub config: ApiServerConfig,
    pub storage: Storage,
    pub authenticator: Authenticator,
    /// The RBAC objects, kept current by a watch on etcd.
    pub policy: RwLock<Policy>,
    pub issuer: Option<TokenIssuer>,
    pub service_range: Ipv4Range,
    /// The client for kubelet subresources; `None` without the `--kubelet-*` flags.
    pub kubelet: Option<KubeletClient>,
    /// This server's master lease and the `kubernetes` Endpoints it keeps.
    pub endpoints: EndpointReconciler,
}

/// A started API server: where it listens, and how to stop it.
#[derive(Debug)]
pub struct Running {
    pub address: SocketAddr,
    pub server: Arc<ApiServer>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Leaves the `kubernetes` Endpoints (so clients stop coming here before the lease would
    /// lapse), then stops accepting connections and ends the background duties.
    pub async fn shutdown(self) {
        // A store that is gone must not hold the shutdown up; the lease then lapses by itself.
        match tokio::time::timeout(
            WITHDRAW_TIMEOUT,
            self.server.endpoints.withdraw(&self.server),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "leaving the kubernetes endpoints failed"),
            Err(_) => tracing::warn!("leaving the kubernetes endpoints timed out"),
        }
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Waits until the server stops by itself (it does not, unless its listener fails).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

/// Builds the server from its configuration, binds its port and starts serving.
pub async fn start(config: ApiServerConfig) -> Result<Running> {
    let etcd = Etcd::connect(&config.etcd)?;
    let encryption = match &config.encryption_provider_config {
        Some(path) => Encryption::load(path)
            .map_err(|e| Error::Config(format!("--encryption-provider-config: {e}")))?,
        None => Encryption::identity(),
    };
    let service_range = Ipv4Range::parse(&config.service_cluster_ip_range)
        .map_err(|e| Error::Config(format!("--service-cluster-ip-range: {e}")))?;
    let issuer = match &config.service_account_signing_key_file {
        Some(path) => Some(
            TokenIssuer::from_pem(&read(path)?, &config.service_account_issuer).map_err(|e| {
                Error::Config(format!(
                    "--service-account-signing-key-file {}: {e}",
                    path.display()
                ))
            })?,
        ),
        None => None,
    };
    let mut verifier_keys = Vec::new();
    for path in config
        .service_account_key_files
        .iter()
        .chain(config.service_account_signing_key_file.iter())
    {
        verifier_keys.push(read(path)?);
    }
    let verifier = if verifier_keys.is_empty() {
        None
    } else {
        Some(
            TokenVerifier::from_pems(
                &verifier_keys,
                vec![config.service_account_issuer.clone()],
                vec![config.service_account_issuer.clone()],
            )
            .map_err(|e| Error::Config(format!("--service-account-key-file: {e}")))?,
        )
    };
    let tls_config = tls::server_config(&config)?;
    let kubelet = KubeletClient::from_config(&config)?;
    let addr = SocketAddr::new(config.bind_address, config.secure_port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let address = listener.local_addr().map_err(|source| Error::Bind {
        addr: addr.to_string(),
        source,
    })?;
    let server = Arc::new(ApiServer {
        storage: Storage::new(etcd, Arc::new(encryption)),
        authenticator: Authenticator { verifier },
        policy: RwLock::new(Policy::default()),
        issuer,
        service_range,
        kubelet,
        endpoints: EndpointReconciler::new(config.public_address(), address.port()),
        config,
    });
    let (stop, stopped) = watch::channel(false);
    bootstrap::spawn_duties(server.clone(), stopped.clone());
    let task = tokio::spawn(serve(
        listener,
        TlsAcceptor::from(Arc::new(tls_config)),
        server.clone(),
        stopped,
    ));
    tracing::info!(%address, "API server listening");
    Ok(Running {
        address,
        server,
        stop,
        task,
    })
}

async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    server: Arc<ApiServer>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let server = server.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(stream).await {
                Ok(tls) => tls,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let certificate = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|cert| Arc::new(cert.as_ref().to_vec()));
            let service = service_fn(move |request| {
                let server = server.clone();
                let certificate = certificate.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        handler::handle(server, request, certificate).await,
                    )
                }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
            tokio::select! {
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                _ = stopped.changed() => {}
            }
        });
    }
}
