//! `hakube node run`: the node process. It hosts the node's roles in one process: on a
//! control-plane node the store member, the API server, the VIP agent, the controller manager
//! and the scheduler; on every node the kubelet and the service proxy. The roles talk to each other only over their real protocols (etcd v3 gRPC, the
//! Kubernetes REST API), exactly as separate processes would.

pub mod join;
pub mod logging;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::Api;
use kube::api::PostParams;

use crate::error::{Error, Result};
use crate::etcd::{Etcd, EtcdTls};
use crate::profile::{KUBERNETES_VERSION, NodeEntry, Profile};
use crate::{clients, names, ports};

/// What `hakube node run` is told.
#[derive(Debug, Clone)]
pub struct NodeRun {
    pub profile_dir: PathBuf,
    pub node: String,
    /// The bootstrap token, for a node that has not joined yet.
    pub token: Option<String>,
    /// `sha256:<hex>` of the CA's public key, checked during discovery.
    pub ca_cert_hash: Option<String>,
}

/// The roles running in this process, stopped in reverse order.
struct Roles {
    store: Option<Arc<store::Member>>,
    apiserver: Option<apiserver::Running>,
    vip: Option<vip::Agent>,
    controller_manager: Option<controller_manager::ControllerManager>,
    scheduler: Option<scheduler::Scheduler>,
    kubelet: Option<kubelet::Kubelet>,
    proxy: Option<proxy::Proxy>,
}

/// Installs logging for the node; call before the runtime does any work.
pub fn init_logging(args: &NodeRun) -> Result<()> {
    let profile = Profile::load(&args.profile_dir)?;
    logging::init(&profile.logs_dir(&args.node))
}

/// Runs the node until SIGTERM or Ctrl-C.
pub async fn run(args: NodeRun, stop: impl std::future::Future<Output = ()>) -> Result<()> {
    let profile = Profile::load(&args.profile_dir)?;
    let node = profile.config.find_node(&args.node)?.clone();
    let pki = pki::Pki::load(&profile.pki_dir())?;
    tracing::info!(target: "cluster", "node {} starting on {}", node.name, node.ip);
    if let (Some(token), Some(hash)) = (&args.token, &args.ca_cert_hash) {
        let client = clients::token_client(&profile.config.server(), &pki.ca_cert, token).await?;
        join::discover(client, hash).await?;
        tracing::info!(target: "cluster", "discovery through {} with the bootstrap token: the CA matches", profile.config.server());
    }
    let mut roles = Roles {
        store: None,
        apiserver: None,
        vip: None,
        controller_manager: None,
        scheduler: None,
        kubelet: None,
        proxy: None,
    };
    let result = start_roles(&profile, &node, &pki, &args, &mut roles).await;
    if let Err(e) = result {
        stop_roles(roles).await;
        return Err(e);
    }
    tracing::info!(target: "cluster", "node {} is up", node.name);
    stop.await;
    tracing::info!(target: "cluster", "node {} stopping", node.name);
    stop_roles(roles).await;
    Ok(())
}

async fn start_roles(
    profile: &Profile,
    node: &NodeEntry,
    pki: &pki::Pki,
    args: &NodeRun,
    roles: &mut Roles,
) -> Result<()> {
    let node_dir = profile.node_dir(&node.name);
    let logs = profile.logs_dir(&node.name);
    let mut mirror = Vec::new();
    let image = |role: &str| format!("hakube/{role}:{KUBERNETES_VERSION}");
    let kubelet_server;
    if node.control_plane {
        let etcd_servers = match &profile.config.external_etcd {
            None => {
                roles.store = Some(start_store(profile, node, pki, args.token.is_some()).await?);
                mirror.push(kubelet::MirrorPod {
                    role: "etcd".into(),
                    image: image("etcd"),
                    log_file: logging::role_log(&logs, "etcd"),
                });
                apiserver::EtcdConfig {
                    servers: vec![format!("https://{}:{}", node.ip, ports::ETCD_CLIENT)],
                    ca_file: Some(pki.etcd_ca_cert.clone()),
                    cert_file: Some(pki.apiserver_etcd_client_cert.clone()),
                    key_file: Some(pki.apiserver_etcd_client_key.clone()),
                }
            }
            Some(external) => apiserver::EtcdConfig {
                servers: external.servers.clone(),
                ca_file: external.ca_file.clone(),
                cert_file: external.cert_file.clone(),
                key_file: external.key_file.clone(),
            },
        };
        roles.apiserver = Some(start_apiserver(profile, node, pki, etcd_servers).await?);
        mirror.push(kubelet::MirrorPod {
            role: "kube-apiserver".into(),
            image: image("kube-apiserver"),
            log_file: logging::role_log(&logs, "kube-apiserver"),
        });
        let local = format!("https://{}:{}", node.ip, ports::APISERVER);
        let admin = clients::cert_client(
            &node_dir.join("admin.conf"),
            &local,
            &pki.ca_cert,
            &pki.admin_cert,
            &pki.admin_key,
            "kubernetes-admin",
        )
        .await?;
        publish_cluster_info(&admin, profile, pki).await?;
        roles.vip = Some(
            vip::start(vip::VipConfig {
                identity: node.name.clone(),
                vip: SocketAddr::new(profile.config.vip().into(), ports::APISERVER),
                client: admin,
                backend_port: ports::APISERVER,
                local_backend: SocketAddr::new(node.ip.into(), ports::APISERVER),
                ca_cert: pki.ca_cert.clone(),
                timings: vip::LeaseTimings::vip(),
            })
            .await
            .map_err(|e| Error::Role {
                role: "kube-vip",
                message: e.to_string(),
            })?,
        );
        mirror.push(kubelet::MirrorPod {
            role: "kube-vip".into(),
            image: image("kube-vip"),
            log_file: logging::role_log(&logs, "kube-vip"),
        });
        start_control_plane_components(profile, node, pki, &local, roles).await?;
        for role in ["kube-controller-manager", "kube-scheduler"] {
            mirror.push(kubelet::MirrorPod {
                role: role.into(),
                image: image(role),
                log_file: logging::role_log(&logs, role),
            });
        }
        // kubeadm points a control-plane kubelet at its own API server, so the node comes up
        // even before the VIP has a holder.
        kubelet_server = local;
    } else {
        kubelet_server = profile.config.server();
    }
    let files = pki.nodes.get(&node.name).ok_or_else(|| Error::Role {
        role: "kubelet",
        message: format!("the PKI has no certificates for node {}", node.name),
    })?;
    let client = clients::cert_client(
        &node_dir.join("kubelet.conf"),
        &kubelet_server,
        &pki.ca_cert,
        &files.kubelet_client_cert,
        &files.kubelet_client_key,
        &format!("system:node:{}", node.name),
    )
    .await?;
    let proxy_client = clients::cert_client(
        &node_dir.join("proxy.conf"),
        &kubelet_server,
        &pki.ca_cert,
        &pki.kube_proxy_cert,
        &pki.kube_proxy_key,
        "system:kube-proxy",
    )
    .await?;
    roles.proxy = Some(
        proxy::start(proxy::ProxyConfig {
            node_name: node.name.clone(),
            node_ip: node.ip,
            client: proxy_client,
            node_port_addresses: vec![node.ip],
        })
        .map_err(|e| Error::Role {
            role: "kube-proxy",
            message: e.to_string(),
        })?,
    );
    mirror.push(kubelet::MirrorPod {
        role: "kube-proxy".into(),
        image: image("kube-proxy"),
        log_file: logging::role_log(&logs, "kube-proxy"),
    });
    let pod_cidr = names::pod_cidr(profile.config.block, node.number);
    if pod_cidr.is_none() {
        tracing::warn!(target: "kubelet", "node number {} has no pod range left in the profile's pod block; pods cannot run here", node.number);
    }
    let runtime_exe = std::env::current_exe().map_err(|e| Error::Role {
        role: "kubelet",
        message: format!("cannot find the hakube binary for built-in images: {e}"),
    })?;
    roles.kubelet = Some(
        kubelet::start(kubelet::KubeletConfig {
            node_name: node.name.clone(),
            node_ip: node.ip,
            control_plane: node.control_plane,
            client,
            port: ports::KUBELET,
            healthz_port: ports::KUBELET_HEALTHZ,
            serving_cert: files.kubelet_serving_cert.clone(),
            serving_key: files.kubelet_serving_key.clone(),
            client_ca: pki.ca_cert.clone(),
            version: KUBERNETES_VERSION.into(),
            mirror_pods: mirror,
            pod_cidr,
            runtime_exe,
            state_dir: node_dir.join("pods"),
        })
        .await
        .map_err(|e| Error::Role {
            role: "kubelet",
            message: e.to_string(),
        })?,
    );
    Ok(())
}

async fn stop_roles(roles: Roles) {
    if let Some(kubelet) = roles.kubelet {
        kubelet.shutdown(false).await;
    }
    if let Some(proxy) = roles.proxy {
        proxy.shutdown().await;
    }
    if let Some(scheduler) = roles.scheduler {
        scheduler.shutdown().await;
    }
    if let Some(manager) = roles.controller_manager {
        manager.shutdown().await;
    }
    if let Some(vip) = roles.vip {
        vip.shutdown().await;
    }
    if let Some(api) = roles.apiserver {
        api.shutdown().await;
    }
    if let Some(member) = roles.store {
        store::shutdown(&member).await;
    }
}

/// Starts the controller manager and the scheduler, each a client of this node's own API server
/// with its own identity, as kubeadm's controller-manager.conf and scheduler.conf are. Each
/// campaigns for its Lease; only the leader works.
async fn start_control_plane_components(
    profile: &Profile,
    node: &NodeEntry,
    pki: &pki::Pki,
    local: &str,
    roles: &mut Roles,
) -> Result<()> {
    let node_dir = profile.node_dir(&node.name);
    let kube_config = clients::cert_config(
        &node_dir.join("controller-manager.conf"),
        local,
        &pki.ca_cert,
        &pki.controller_manager_cert,
        &pki.controller_manager_key,
        "system:kube-controller-manager",
    )
    .await?;
    let root_ca_pem = std::fs::read_to_string(&pki.ca_cert).map_err(Error::io(&pki.ca_cert))?;
    roles.controller_manager = Some(
        controller_manager::start(controller_manager::ControllerManagerConfig {
            identity: node.name.clone(),
            kube_config,
            settings: controller_manager::Settings {
                root_ca_pem,
                ..controller_manager::Settings::default()
            },
        })
        .await
        .map_err(|e| Error::Role {
            role: "kube-controller-manager",
            message: e.to_string(),
        })?,
    );
    let client = clients::cert_client(
        &node_dir.join("scheduler.conf"),
        local,
        &pki.ca_cert,
        &pki.scheduler_cert,
        &pki.scheduler_key,
        "system:kube-scheduler",
    )
    .await?;
    roles.scheduler = Some(
        scheduler::start(scheduler::SchedulerConfig {
            identity: leader::candidate_identity(&node.name),
            client,
            scheduler_name: "default-scheduler".into(),
        })
        .map_err(|e| Error::Role {
            role: "kube-scheduler",
            message: e.to_string(),
        })?,
    );
    Ok(())
}

/// Starts the node's store member: from its own data after the first start; founding the
/// cluster on the first node; otherwise joining as a learner and waiting for the promotion.
async fn start_store(
    profile: &Profile,
    node: &NodeEntry,
    pki: &pki::Pki,
    joining: bool,
) -> Result<Arc<store::Member>> {
    let files = pki
        .nodes
        .get(&node.name)
        .and_then(|n| n.etcd.clone())
        .ok_or_else(|| Error::Role {
            role: "etcd",
            message: format!("the PKI has no store certificates for {}", node.name),
        })?;
    let client_url = format!("https://{}:{}", node.ip, ports::ETCD_CLIENT);
    let peer_url = format!("https://{}:{}", node.ip, ports::ETCD_PEER);
    let data_dir = profile.data_dir(&node.name);
    let has_data = data_dir.join("member").join("wal.redb").exists();
    let tls_files = EtcdTls {
        ca: &pki.etcd_ca_cert,
        cert: &pki.etcd_healthcheck_client_cert,
        key: &pki.etcd_healthcheck_client_key,
    };
    let others: Vec<String> = profile
        .config
        .control_plane()
        .filter(|n| n.name != node.name && n.joined)
        .map(|n| format!("https://{}:{}", n.ip, ports::ETCD_CLIENT))
        .collect();
    let mut learner = None;
    let (state, initial_cluster) = if has_data || !joining {
        (
            store::ClusterState::New,
            vec![(node.name.clone(), peer_url.clone())],
        )
    } else {
        let etcd = Etcd::connect(&others, Some(&tls_files))?;
        let (id, cluster) = join::add_learner(&etcd, &node.name, &peer_url).await?;
        tracing::info!(target: "cluster", "added store member {id:x} as a learner");
        learner = Some((etcd, id));
        (store::ClusterState::Existing, cluster)
    };
    let tls = |client_cert_auth| store::TlsFiles {
        cert_file: None,
        key_file: None,
        trusted_ca_file: Some(pki.etcd_ca_cert.clone()),
        client_cert_auth,
    };
    let config = store::StoreConfig {
        name: node.name.clone(),
        data_dir,
        listen_client_urls: vec![client_url.clone()],
        advertise_client_urls: vec![client_url],
        listen_peer_urls: vec![peer_url.clone()],
        initial_advertise_peer_urls: vec![peer_url],
        initial_cluster,
        initial_cluster_state: state,
        initial_cluster_token: profile.config.name.clone(),
        client_tls: store::TlsFiles {
            cert_file: Some(files.server_cert.clone()),
            key_file: Some(files.server_key.clone()),
            ..tls(true)
        },
        peer_tls: store::TlsFiles {
            cert_file: Some(files.peer_cert.clone()),
            key_file: Some(files.peer_key.clone()),
            ..tls(true)
        },
        ..store::StoreConfig::default()
    };
    let member = store::start(config).await.map_err(|e| Error::Role {
        role: "etcd",
        message: e.to_string(),
    })?;
    if let Some((etcd, id)) = learner {
        join::promote(&etcd, id).await?;
        tracing::info!(target: "cluster", "store member {id:x} promoted to a voter");
    }
    Ok(member)
}

async fn start_apiserver(
    profile: &Profile,
    node: &NodeEntry,
    pki: &pki::Pki,
    etcd: apiserver::EtcdConfig,
) -> Result<apiserver::Running> {
    let mut config = apiserver::ApiServerConfig::new(
        etcd,
        pki.apiserver_cert.clone(),
        pki.apiserver_key.clone(),
    );
    config.bind_address = node.ip.into();
    config.secure_port = ports::APISERVER;
    config.client_ca_file = Some(pki.ca_cert.clone());
    config.service_account_key_files = vec![pki.sa_pub.clone()];
    config.service_account_signing_key_file = Some(pki.sa_key.clone());
    config.encryption_provider_config = Some(pki.encryption_config.clone());
    config.service_cluster_ip_range = names::service_cidr(profile.config.block);
    config.kubelet_client_certificate = Some(pki.apiserver_kubelet_client_cert.clone());
    config.kubelet_client_key = Some(pki.apiserver_kubelet_client_key.clone());
    config.kubelet_certificate_authority = Some(pki.ca_cert.clone());
    apiserver::start(config).await.map_err(|e| Error::Role {
        role: "kube-apiserver",
        message: e.to_string(),
    })
}

/// Publishes `kube-public/cluster-info` (the CA and the VIP's address), which joining nodes
/// read with their bootstrap token, as kubeadm's init does. Retries until the store answers.
async fn publish_cluster_info(
    client: &kube::Client,
    profile: &Profile,
    pki: &pki::Pki,
) -> Result<()> {
    use base64::Engine;
    let ca = std::fs::read(&pki.ca_cert).map_err(Error::io(&pki.ca_cert))?;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca);
    let kubeconfig = format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {}\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {{}}\nusers: null\n",
        profile.config.server()
    );
    let map: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "cluster-info", "namespace": "kube-public"},
        "data": {"kubeconfig": kubeconfig},
    }))
    .map_err(|e| Error::Invalid(e.to_string()))?;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-public");
    create_once(&api, &map, "cluster-info").await?;
    // kubeadm's discovery reads cluster-info anonymously and checks a JWS signature made with
    // the token (by the bootstrap signer controller, which hakube does not have yet). Here
    // the joining node reads it with the token itself, so the token's group may read it too.
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "hakube:bootstrap-clusterinfo", "namespace": "kube-public"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "kubeadm:bootstrap-signer-clusterinfo"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                      "name": crate::token::NODE_TOKEN_GROUP}],
    }))
    .map_err(|e| Error::Invalid(e.to_string()))?;
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), "kube-public");
    create_once(&bindings, &binding, "the cluster-info RoleBinding").await
}

/// Creates `object` unless it exists, retrying while the API is not ready yet.
async fn create_once<K>(api: &Api<K>, object: &K, what: &str) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match api.create(&PostParams::default(), object).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => return Ok(()),
            Err(e) if std::time::Instant::now() > deadline => {
                return Err(Error::Timeout(format!("cannot publish {what}: {e}")));
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
}
