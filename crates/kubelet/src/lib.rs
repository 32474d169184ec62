//! The node agent (hakube's kubelet): the Node object, its Lease, mirror pods for the node's
//! roles, the pods bound to the node run as processes (a process runtime: `image`, `process`),
//! and the kubelet API on port 10250 (pods, configz, logs, exec and port-forward).
//!
//! [`start`] binds the kubelet API and health ports (failing at once if it cannot), kills the
//! container processes an earlier run left behind, then spawns loops that retry until the API
//! server answers and keep going after: registration and node status, the node Lease, the mirror
//! pods, and the pods (`pod_sync`, one `worker` per pod). Deciding what to do is pure (`node`,
//! `lease`, `mirror`, `image`, `env`, `status`, `backoff`, `probe`, `pod_ip`); the loops only
//! read, compare, act and write.

mod backoff;
mod call;
mod configz;
mod context;
mod env;
mod error;
mod events;
mod host;
mod image;
mod lease;
mod logs;
mod mirror;
mod mirror_sync;
mod node;
mod pids;
mod pod_ip;
mod pod_logs;
mod pod_sync;
mod portforward;
mod probe;
mod probe_run;
mod probe_tls;
mod process;
mod registration;
mod registry;
mod server;
mod status;
mod status_writer;
mod stream;
mod target;
mod tls;
mod worker;

use std::net::{SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::Api;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::configz::ConfigzInput;
use crate::context::NodeContext;
use crate::env::Allocatable;
use crate::events::Recorder;
use crate::host::HostFacts;
use crate::mirror::{Run, StaticPod};
use crate::mirror_sync::MirrorSync;
use crate::node::Registration;
use crate::pids::PidRecords;
use crate::pod_ip::{IpAllocator, PodCidr};
use crate::registration::Registrar;
use crate::registry::PodRegistry;
use crate::server::KubeletApi;

pub use error::{Error, Result};

/// How long [`Kubelet::shutdown`] waits for a loop to notice the stop before cancelling it.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// How long it waits for the pods' containers to stop (SIGTERM, then SIGKILL after a short grace).
const PODS_STOP_GRACE: Duration = Duration::from_secs(10);

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
    /// The node's pod range, e.g. `127.49.129.0/24`: each pod gets an address of it. Without
    /// one, pods share the node's IP, as host-network pods do.
    pub pod_cidr: Option<String>,
    /// The hakube binary: the built-in images (`hakube/agnhost`, `hakube/pause`) are its
    /// `agnhost` subcommand.
    pub runtime_exe: PathBuf,
    /// The node's directory for pods: their working directories, logs, and the records of
    /// their processes (e.g. `<node dir>/pods`).
    pub state_dir: PathBuf,
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
    /// The pod loop, which waits for the containers to stop.
    pods_task: JoinHandle<()>,
    pods_api: Api<Pod>,
    static_pods: Arc<[StaticPod]>,
    registry: Arc<PodRegistry>,
}

/// Starts the kubelet: binds the kubelet API (HTTPS, mTLS) and the health port, then registers
/// the Node, renews its Lease and keeps its mirror pods in the background.
pub async fn start(config: KubeletConfig) -> Result<Kubelet> {
    let tls = tls::server_config(&config.serving_cert, &config.serving_key, &config.client_ca)?;
    let pod_cidr = match &config.pod_cidr {
        Some(text) => Some(text.parse::<PodCidr>().map_err(Error::Config)?),
        None => None,
    };
    let state_error = |source| Error::Read {
        path: config.state_dir.clone(),
        source,
    };
    std::fs::create_dir_all(&config.state_dir).map_err(state_error)?;
    let pids = PidRecords::new(config.state_dir.join("pids")).map_err(state_error)?;
    // Containers of an earlier run (a node killed with -9 leaves them) go before any start.
    let leftovers = pids.kill_leftovers();
    if leftovers > 0 {
        tracing::info!(target: "kubelet", leftovers, "stopped container processes of an earlier run");
    }
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
        pod_cidr: config.pod_cidr.clone(),
    };
    // A few small reads from /proc and /etc, done once.
    let host = HostFacts::read();

    let (stop, stopped) = watch::channel(false);
    let (uid_tx, node_uid) = watch::channel(None);
    let pods_api: Api<Pod> = Api::namespaced(config.client.clone(), mirror::NAMESPACE);
    let registry = Arc::new(PodRegistry::default());
    let kubelet_api = Arc::new(KubeletApi {
        node_ip: config.node_ip,
        pods: static_pods.clone(),
        run: run.clone(),
        registry: registry.clone(),
        configz: configz::configz(&ConfigzInput {
            node_ip: config.node_ip,
            port: address.port(),
            healthz_port: healthz_address.port(),
            pod_cidr: config.pod_cidr.clone(),
            serving_cert: config.serving_cert.clone(),
            serving_key: config.serving_key.clone(),
            client_ca: config.client_ca.clone(),
            state_dir: config.state_dir.clone(),
        }),
        state_dir: config.state_dir.clone(),
    });
    let (recorder, recorder_task) = Recorder::start(
        config.client.clone(),
        config.node_name.clone(),
        stopped.clone(),
    );
    let (services, services_task) = watch_services(config.client.clone(), stopped.clone());
    let context = Arc::new(NodeContext {
        node_name: config.node_name.clone(),
        node_ip: config.node_ip,
        client: config.client.clone(),
        runtime_exe: config.runtime_exe.clone(),
        pods_dir: config.state_dir.clone(),
        recorder,
        services,
        registry: registry.clone(),
        pids,
        ips: pod_cidr.map(|cidr| Arc::new(Mutex::new(IpAllocator::new(cidr)))),
        allocatable: Allocatable {
            cpu_millis: host.cpus as u64 * 1000,
            memory_bytes: host.memory_kib.saturating_sub(node::EVICTION_MEMORY_KIB) * 1024,
        },
        probe_user_agent: context::probe_user_agent(&config.version),
        static_pods: static_pods.len(),
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
            .run(node_uid.clone(), stopped.clone()),
        ),
        recorder_task,
        services_task,
    ];
    let pods_task = tokio::spawn(pod_sync::run(context, stopped));
    tracing::info!(target: "kubelet", node = %config.node_name, %address, %healthz_address, pod_cidr = ?config.pod_cidr, "kubelet started");
    Ok(Kubelet {
        address,
        healthz_address,
        node_uid,
        stop,
        tasks,
        pods_task,
        pods_api,
        static_pods,
        registry,
    })
}

/// Keeps a cache of every Service (for the containers' Service variables) until `stop`.
fn watch_services(
    client: kube::Client,
    mut stop: watch::Receiver<bool>,
) -> (reflector::Store<Service>, JoinHandle<()>) {
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher::watcher(Api::<Service>::all(client), watcher::Config::default()),
    )
    .default_backoff();
    let task = tokio::spawn(async move {
        let drain = stream.for_each(|event| {
            if let Err(e) = event {
                tracing::debug!(target: "kubelet", error = %e, "watching Services failed; retrying");
            }
            futures::future::ready(())
        });
        tokio::select! {
            () = drain => {}
            _ = stop.changed() => {}
        }
    });
    (store, task)
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

    /// How many pods this kubelet runs (mirror pods aside), finished ones included.
    pub fn pod_count(&self) -> usize {
        self.registry.len()
    }

    /// Stops the pods' containers (SIGTERM, then SIGKILL after a short grace), the listeners
    /// and the loops. The pod objects stay: the next start runs the pods bound to the node
    /// again, their restart counts bumped. The Node and its Lease stay (the node lifecycle
    /// controller notices the Lease lapse); the mirror pods stay too unless
    /// `remove_mirror_pods`, for a node leaving the cluster for good.
    pub async fn shutdown(self, remove_mirror_pods: bool) {
        let _ = self.stop.send(true);
        let mut pods_task = self.pods_task;
        if tokio::time::timeout(PODS_STOP_GRACE, &mut pods_task)
            .await
            .is_err()
        {
            pods_task.abort();
        }
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
