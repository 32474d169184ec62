//! The node agent (hakube's kubelet), registration part: the Node object, its Lease, mirror pods
//! for the node's roles, and the kubelet API on port 10250.
//!
//! [`start`] binds the kubelet API and health ports (failing at once if it cannot), then spawns
//! three loops that retry until the API server answers and keep going after: registration and
//! node status, the node Lease, and the mirror pods. Deciding what to write is pure (`node`,
//! `lease`, `mirror`); the loops (`registration`, `lease::run`, `mirror_sync`) only read,
//! compare and write.

mod call;
mod error;
mod host;
mod lease;
mod logs;
mod mirror;
mod mirror_sync;
mod node;
mod registration;
mod server;
mod tls;

use std::net::{SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::host::HostFacts;
use crate::mirror::{Run, StaticPod};
use crate::mirror_sync::MirrorSync;
use crate::node::Registration;
use crate::registration::Registrar;
use crate::server::KubeletApi;

pub use error::{Error, Result};

/// How long [`Kubelet::shutdown`] waits for a loop to notice the stop before cancelling it.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Everything a node's kubelet needs.
#[derive(Clone)]
pub struct KubeletConfig {
    pub node_name: String,
    pub node_ip: std::net::Ipv4Addr,
    pub control_plane: bool,
    /// A client with the node's credentials (CN `system:node:<name>`, O `system:nodes`).
    pub client: kube::Client,
    /// The kubelet API's port (10250).
    pub port: u16,
    /// The plain health port (10248).
    pub healthz_port: u16,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    /// The CA the kubelet API's clients must present a certificate of.
    pub client_ca: PathBuf,
    /// kubeletVersion, e.g. `v1.33.0`.
    pub version: String,
    pub mirror_pods: Vec<MirrorPod>,
}

/// A role of the node shown as a static pod `<role>-<node>` in kube-system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorPod {
    /// `etcd`, `kube-apiserver`, `kube-vip`...; also the container's name.
    pub role: String,
    /// e.g. `hakube/etcd:0.1.0`.
    pub image: String,
    /// Where the role writes its log; served as the container's log.
    pub log_file: PathBuf,
}

/// A running kubelet.
pub struct Kubelet {
    address: SocketAddr,
    healthz_address: SocketAddr,
    node_uid: watch::Receiver<Option<String>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    pods_api: Api<Pod>,
    static_pods: Arc<[StaticPod]>,
}

/// Starts the kubelet: binds the kubelet API (HTTPS, mTLS) and the health port, then registers
/// the Node, renews its Lease and keeps its mirror pods in the background.
pub async fn start(config: KubeletConfig) -> Result<Kubelet> {
    let tls = tls::server_config(&config.serving_cert, &config.serving_key, &config.client_ca)?;
    let (api_listener, address) =
        server::bind(SocketAddrV4::new(config.node_ip, config.port).into()).await?;
    let (healthz_listener, healthz_address) =
        server::bind(SocketAddrV4::new(config.node_ip, config.healthz_port).into()).await?;

    let started = jiff::Timestamp::now();
    let run = Run::new(&config.node_name, started, std::process::id());
    let static_pods: Arc<[StaticPod]> = config
        .mirror_pods
        .iter()
        .map(|m| StaticPod::new(m, &config.node_name))
        .collect();
    let registration = Registration {
        name: config.node_name.clone(),
        ip: config.node_ip,
        control_plane: config.control_plane,
        version: config.version.clone(),
        port: address.port(),
        arch: host::go_arch(std::env::consts::ARCH).to_string(),
    };
    // A few small reads from /proc and /etc, done once.
    let host = HostFacts::read();

    let (stop, stopped) = watch::channel(false);
    let (uid_tx, node_uid) = watch::channel(None);
    let pods_api: Api<Pod> = Api::namespaced(config.client.clone(), mirror::NAMESPACE);
    let kubelet_api = Arc::new(KubeletApi {
        node_ip: config.node_ip,
        pods: static_pods.clone(),
        run: run.clone(),
    });
    let handler = move |request| kubelet_api.clone().handle(request);
    let tasks = vec![
        tokio::spawn(server::serve(
            api_listener,
            Some(TlsAcceptor::from(Arc::new(tls))),
            handler,
            stopped.clone(),
        )),
        tokio::spawn(server::serve(
            healthz_listener,
            None,
            server::healthz,
            stopped.clone(),
        )),
        tokio::spawn(
            Registrar::new(Api::all(config.client.clone()), registration, host, uid_tx)
                .run(stopped.clone()),
        ),
        tokio::spawn(lease::run(
            Api::<Lease>::namespaced(config.client.clone(), lease::NAMESPACE),
            config.node_name.clone(),
            node_uid.clone(),
            stopped.clone(),
        )),
        tokio::spawn(
            MirrorSync {
                api: pods_api.clone(),
                pods: static_pods.clone(),
                node_ip: config.node_ip,
                run,
            }
            .run(node_uid.clone(), stopped),
        ),
    ];
    tracing::info!(target: "kubelet", node = %config.node_name, %address, %healthz_address, "kubelet started");
    Ok(Kubelet {
        address,
        healthz_address,
        node_uid,
        stop,
        tasks,
        pods_api,
        static_pods,
    })
}

impl Kubelet {
    /// Where the kubelet API listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Where the plain health endpoint listens.
    pub fn healthz_address(&self) -> SocketAddr {
        self.healthz_address
    }

    /// The registered Node's uid, if it is registered.
    pub fn node_uid(&self) -> Option<String> {
        self.node_uid.borrow().clone()
    }

    /// Resolves once the Node exists in the API server.
    pub async fn registered(&self) {
        let mut uid = self.node_uid.clone();
        let _ = uid.wait_for(Option::is_some).await;
    }

    /// Stops the listeners and loops. The Node and its Lease stay (the node lifecycle
    /// controller notices the Lease lapse); the mirror pods stay too unless
    /// `remove_mirror_pods`, for a node leaving the cluster for good.
    pub async fn shutdown(self, remove_mirror_pods: bool) {
        let _ = self.stop.send(true);
        for mut task in self.tasks {
            if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
        if remove_mirror_pods {
            mirror_sync::remove(&self.pods_api, &self.static_pods).await;
        }
        tracing::info!(target: "kubelet", "kubelet stopped");
    }
}
