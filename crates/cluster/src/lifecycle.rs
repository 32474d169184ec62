//! The lifecycle verbs: start (a new profile, or a stopped one again), stop, delete, and node
//! add, delete, stop and start. They drive node processes through the driver and the cluster
//! through its real APIs (Kubernetes through the VIP, etcd v3 for membership).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod, Secret};
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};

use crate::error::{Error, Result};
use crate::etcd::{Etcd, EtcdTls};
use crate::profile::{ExternalEtcd, Home, KUBERNETES_VERSION, NodeEntry, Profile, ProfileConfig};
use crate::progress::{Icon, Progress};
use crate::{clients, driver, health, kubeconfig, names, ports, preflight, token};

/// How long a node gets to become Ready.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// What `hakube start` was asked.
#[derive(Debug, Clone)]
pub struct StartOptions {
    pub profile: String,
    pub ha: Option<bool>,
    pub nodes: Option<usize>,
    pub subnet: Option<u8>,
    pub external_etcd: Option<ExternalEtcd>,
    /// The hakube executable the node processes run.
    pub exe: PathBuf,
}

/// Starts a profile: creates it, or brings a stopped one back with its data.
pub async fn start(home: &Home, options: &StartOptions, progress: &dyn Progress) -> Result<()> {
    names::check_profile_name(&options.profile).map_err(Error::Invalid)?;
    preflight::check_open_files(preflight::open_files_limit())?;
    let dir = home.profile_dir(&options.profile);
    if dir.join("config.json").exists() {
        let profile = Profile::load(&dir)?;
        preflight::check_same_settings(
            &options.profile,
            &preflight::Asked {
                ha: options.ha,
                nodes: options.nodes,
                block: options.subnet,
                external_etcd: options.external_etcd.as_ref().map(|_| true),
            },
            profile.config.ha,
            profile.config.nodes.len(),
            profile.config.block,
            profile.config.external_etcd.is_some(),
        )?;
        return restart(profile, &options.exe, progress).await;
    }
    create(home, options, progress).await
}

/// Creates a new profile and its nodes.
async fn create(home: &Home, options: &StartOptions, progress: &dyn Progress) -> Result<()> {
    let ha = options.ha.unwrap_or(false);
    let total = options.nodes.unwrap_or(if ha { 3 } else { 1 });
    if ha && total < 3 {
        return Err(Error::Invalid(format!(
            "an HA cluster needs at least 3 control-plane nodes for its store to survive the loss of one (--nodes={total}); use --nodes 3 or more, or drop --ha"
        )));
    }
    if total == 0 {
        return Err(Error::Invalid("--nodes must be at least 1".into()));
    }
    let control_planes = if ha { 3 } else { 1 };
    let started_at = just_before();
    let block = match options.subnet {
        Some(block) => block,
        None => free_block(home)?,
    };
    hello(progress, &options.profile, "user configuration");
    let mut wanted: Vec<(IpAddr, u16, &str)> =
        vec![(names::vip(block).into(), ports::APISERVER, "the VIP")];
    for number in 1..=total as u8 {
        let ip: IpAddr = names::node_ip(block, number).into();
        let control_plane = number as usize <= control_planes;
        let list = ports::for_node(control_plane, options.external_etcd.is_none());
        wanted.extend(list.into_iter().map(|(p, what)| (ip, p, what)));
    }
    preflight::check_ports(&wanted)?;

    let first = NodeEntry {
        name: names::node_name(&options.profile, 1),
        number: 1,
        ip: names::node_ip(block, 1),
        control_plane: true,
        joined: false,
    };
    let mut profile = Profile {
        dir: home.profile_dir(&options.profile),
        config: ProfileConfig {
            name: options.profile.clone(),
            driver: driver::NAME.into(),
            ha,
            block,
            kubernetes_version: KUBERNETES_VERSION.into(),
            nodes: vec![first.clone()],
            last_number: 1,
            external_etcd: options.external_etcd.clone(),
        },
    };
    progress.step(
        Icon::Starting,
        &format!(
            "Starting \"{}\" primary control-plane node in \"{}\" cluster",
            first.name, options.profile
        ),
    );
    progress.detail("Generating certificates and keys ...");
    profile.save()?;
    pki::Pki::generate(&profile.pki_dir(), &profile.config.pki_spec())?;
    progress.detail("Booting up control plane ...");
    driver::spawn(&options.exe, &profile, &first.name, None)?;
    wait_vip(&profile).await?;
    write_kubeconfigs(&profile)?;
    progress.detail("Configuring RBAC rules ...");
    let admin = clients::file_client(&profile.kubeconfig()).await?;
    wait_node_ready(&Api::all(admin), &first, &profile, started_at).await?;
    mark_joined(&mut profile, &first.name)?;
    for number in 2..=total as u8 {
        let control_plane = (number as usize) <= control_planes;
        add_node(&mut profile, &options.exe, control_plane, progress).await?;
    }
    progress.step(Icon::Verifying, "Verifying Kubernetes components...");
    wait_all_ready(&profile, started_at).await?;
    done(progress, &options.profile);
    Ok(())
}

/// The lowest block no profile holds and whose VIP port is free.
fn free_block(home: &Home) -> Result<u8> {
    let mut used = Vec::new();
    for name in home.profiles()? {
        if let Ok(p) = home.load(&name) {
            used.push(p.config.block);
        }
    }
    loop {
        let block = names::next_block(&used).ok_or_else(|| {
            Error::Preflight("no free loopback block left for a new profile; delete one".into())
        })?;
        let vip: IpAddr = names::vip(block).into();
        if preflight::bind_problem(vip, ports::APISERVER, "the VIP").is_none() {
            return Ok(block);
        }
        used.push(block);
    }
}

/// Starts every node of a stopped (or partly stopped) profile from its data.
async fn restart(mut profile: Profile, exe: &Path, progress: &dyn Progress) -> Result<()> {
    let name = profile.config.name.clone();
    hello(progress, &name, "existing profile");
    let started_at = just_before();
    let mut restarted = Vec::new();
    for node in profile.config.nodes.clone() {
        if driver::running_pid(&profile, &node.name).is_some() {
            continue;
        }
        let kind = if node.number == 1 {
            "primary control-plane"
        } else if node.control_plane {
            "control-plane"
        } else {
            "worker"
        };
        progress.step(
            Icon::Starting,
            &format!(
                "Restarting existing {kind} node \"{}\" in \"{name}\" cluster",
                node.name
            ),
        );
        if node.joined {
            check_node_ports(&profile.config, &node)?;
            driver::spawn(exe, &profile, &node.name, None)?;
            restarted.push(node.name.clone());
        }
    }
    if !restarted.is_empty() {
        wait_vip(&profile).await?;
    }
    write_kubeconfigs(&profile)?;
    // A node that never finished joining joins again now, with a new token.
    for node in profile.config.nodes.clone() {
        if !node.joined && driver::running_pid(&profile, &node.name).is_none() {
            join_node(&mut profile, exe, &node).await?;
        }
    }
    progress.step(Icon::Verifying, "Verifying Kubernetes components...");
    // Nodes that kept running need no fresh heartbeat: theirs may be up to 10 s old.
    let nodes: Api<Node> = Api::all(clients::file_client(&profile.kubeconfig()).await?);
    for node in &profile.config.nodes {
        let since = match restarted.contains(&node.name) {
            true => started_at,
            false => jiff::Timestamp::MIN,
        };
        wait_node_ready(&nodes, node, &profile, since).await?;
    }
    done(progress, &name);
    Ok(())
}

/// The first lines of `start`, as minikube prints them.
fn hello(progress: &dyn Progress, profile: &str, based_on: &str) {
    progress.step(
        Icon::Hello,
        &format!(
            "[{profile}] hakube v{} on {}",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS
        ),
    );
    progress.step(
        Icon::Driver,
        &format!("Using the {} driver based on {based_on}", driver::NAME),
    );
}

/// The last line of a successful `start`.
fn done(progress: &dyn Progress, profile: &str) {
    progress.step(
        Icon::Done,
        &format!(
            "Done! kubectl is now configured to use \"{profile}\" cluster and \"default\" namespace by default"
        ),
    );
}

fn check_node_ports(config: &ProfileConfig, node: &NodeEntry) -> Result<()> {
    let wanted: Vec<(IpAddr, u16, &str)> = ports::for_node(node.control_plane, config.stacked())
        .into_iter()
        .map(|(p, w)| (node.ip.into(), p, w))
        .collect();
    preflight::check_ports(&wanted)
}

/// `node add [--control-plane]`: a new node with the next number.
pub async fn add_node(
    profile: &mut Profile,
    exe: &Path,
    control_plane: bool,
    progress: &dyn Progress,
) -> Result<String> {
    let number = names::next_number(profile.config.last_number).ok_or_else(|| {
        Error::Invalid("the profile's block has no address left for another node".into())
    })?;
    let entry = NodeEntry {
        name: names::node_name(&profile.config.name, number),
        number,
        ip: names::node_ip(profile.config.block, number),
        control_plane,
        joined: false,
    };
    check_node_ports(&profile.config, &entry)?;
    progress.step(
        Icon::Starting,
        &format!(
            "Starting \"{}\" {} node in \"{}\" cluster",
            entry.name,
            if control_plane {
                "control-plane"
            } else {
                "worker"
            },
            profile.config.name
        ),
    );
    profile.config.last_number = number;
    profile.config.nodes.push(entry.clone());
    profile.save()?;
    pki::Pki::add_node(
        &profile.pki_dir(),
        &pki::NodeSpec {
            name: entry.name.clone(),
            ip: entry.ip.into(),
            control_plane,
        },
    )?;
    if control_plane {
        // The API server certificate names every control-plane address.
        pki::Pki::reissue_apiserver(&profile.pki_dir(), &profile.config.pki_spec())?;
    }
    join_node(profile, exe, &entry).await?;
    Ok(entry.name)
}

/// Makes a bootstrap token, starts the node with it and waits for the node to be Ready.
async fn join_node(profile: &mut Profile, exe: &Path, entry: &NodeEntry) -> Result<()> {
    let admin = clients::file_client(&profile.kubeconfig()).await?;
    let token = token::BootstrapToken::generate();
    let expiration = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(3600))
        .map_err(|e| Error::Invalid(e.to_string()))?
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let secret = token.secret_object(&expiration, &format!("joins {} to the cluster", entry.name));
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), "kube-system");
    let create = PostParams::default();
    retry("create the bootstrap token", || {
        secrets.create(&create, &secret)
    })
    .await?;
    let ca = std::fs::read_to_string(profile.pki_dir().join("ca.crt"))
        .map_err(Error::io(profile.pki_dir().join("ca.crt")))?;
    let hash = token::ca_cert_hash(&ca)?;
    let since = just_before();
    driver::spawn(exe, profile, &entry.name, Some((&token.bearer(), &hash)))?;
    wait_node_ready(&Api::all(admin.clone()), entry, profile, since).await?;
    mark_joined(profile, &entry.name)?;
    // The token did its job; kubeadm's would live on for 24 hours, ours is spent at once.
    let _ = secrets
        .delete(
            &format!("bootstrap-token-{}", token.id),
            &DeleteParams::default(),
        )
        .await;
    Ok(())
}

fn mark_joined(profile: &mut Profile, node: &str) -> Result<()> {
    if let Some(n) = profile.config.nodes.iter_mut().find(|n| n.name == node) {
        n.joined = true;
    }
    profile.save()
}

/// Writes the profile's admin kubeconfig (server at the VIP) and merges it into the user's.
fn write_kubeconfigs(profile: &Profile) -> Result<()> {
    let pki = pki::Pki::load(&profile.pki_dir())?;
    let text = pki::kubeconfig(
        &profile.config.server(),
        &pki.ca_cert,
        &pki.admin_cert,
        &pki.admin_key,
        &profile.config.name,
        &profile.config.name,
    )?;
    let path = profile.kubeconfig();
    std::fs::write(&path, text).map_err(Error::io(&path))?;
    update_context(profile)
}

/// Merges the profile's context into the user's kubeconfig (`update-context`).
pub fn update_context(profile: &Profile) -> Result<()> {
    let pki = pki::Pki::load(&profile.pki_dir())?;
    let path = kubeconfig::path()?;
    let existing = kubeconfig::read(&path)?;
    let merged = kubeconfig::merge(
        &existing,
        &kubeconfig::Entry {
            name: &profile.config.name,
            server: &profile.config.server(),
            ca: &absolute(&pki.ca_cert),
            cert: &absolute(&pki.admin_cert),
            key: &absolute(&pki.admin_key),
        },
    )?;
    kubeconfig::write(&path, &merged)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Waits until the API answers `/readyz` through the VIP.
async fn wait_vip(profile: &Profile) -> Result<()> {
    let api = health::ApiProbe::new(&profile.pki_dir().join("ca.crt"))?;
    let vip = profile.config.vip().into();
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if api.ready(vip).await {
            return Ok(());
        }
        if !profile
            .config
            .nodes
            .iter()
            .any(|n| driver::running_pid(profile, &n.name).is_some())
        {
            return Err(node_failed(profile, &profile.config.nodes[0].name));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(Error::Timeout(format!(
        "the API did not become ready at {} within {}s; see `hakube logs -p {}`",
        profile.config.server(),
        READY_TIMEOUT.as_secs(),
        profile.config.name
    )))
}

/// The error for a node process that exited: the last lines of its log.
fn node_failed(profile: &Profile, node: &str) -> Error {
    let log = std::fs::read_to_string(profile.node_log(node)).unwrap_or_default();
    let last = log
        .lines()
        .rev()
        .find(|l| l.contains("ERROR") || l.starts_with("hakube:"))
        .or_else(|| log.lines().last())
        .unwrap_or("no output")
        .to_string();
    Error::Invalid(format!(
        "node {node} exited: {last} (full log: {})",
        profile.node_log(node).display()
    ))
}

/// A moment just before a node process starts: a Node is ready for it only with a Ready
/// heartbeat since then (heartbeats have whole seconds, hence the second of slack).
fn just_before() -> jiff::Timestamp {
    jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1)
}

/// Waits until the Node is Ready with a heartbeat at or after `since` and its kubelet answers
/// (so a Node left Ready by an earlier run does not count), failing early if the process exits.
async fn wait_node_ready(
    nodes: &Api<Node>,
    node: &NodeEntry,
    profile: &Profile,
    since: jiff::Timestamp,
) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(n)) = nodes.get_opt(&node.name).await
            && is_ready(&n)
            && heartbeat(&n).is_some_and(|t| t >= since)
            && health::kubelet_healthy(node.ip.into()).await
        {
            return Ok(());
        }
        if driver::running_pid(profile, &node.name).is_none() {
            return Err(node_failed(profile, &node.name));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(Error::Timeout(format!(
        "node {} did not become Ready within {}s; see `hakube logs -p {} -n {}`",
        node.name,
        READY_TIMEOUT.as_secs(),
        profile.config.name,
        node.name
    )))
}

/// Waits for every node of the profile to be Ready since `since`.
async fn wait_all_ready(profile: &Profile, since: jiff::Timestamp) -> Result<()> {
    let admin = clients::file_client(&profile.kubeconfig()).await?;
    let nodes: Api<Node> = Api::all(admin);
    for node in &profile.config.nodes {
        wait_node_ready(&nodes, node, profile, since).await?;
    }
    Ok(())
}

/// Whether the Node's Ready condition is True.
pub fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// When the Ready condition was last reported.
fn heartbeat(node: &Node) -> Option<jiff::Timestamp> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?
        .last_heartbeat_time
        .as_ref()
        .map(|t| t.0)
}

/// Retries an API call for a while: the VIP may be moving between holders.
async fn retry<T, F, Fut>(what: &str, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, kube::Error>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(kube::Error::Api(status)) if status.code < 500 && status.code != 429 => {
                return Err(Error::Invalid(format!("cannot {what}: {}", status.message)));
            }
            Err(e) if Instant::now() > deadline => {
                return Err(Error::Timeout(format!("cannot {what}: {e}")));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// `stop`: stops every node process; the data stays.
pub fn stop(profile: &Profile, progress: &dyn Progress) -> usize {
    let mut stopped = 0;
    std::thread::scope(|scope| {
        let handles: Vec<_> = profile
            .config
            .nodes
            .iter()
            .map(|node| {
                progress.step(
                    Icon::Stopping,
                    &format!("Stopping node \"{}\"  ...", node.name),
                );
                scope.spawn(move || driver::stop(profile, &node.name))
            })
            .collect();
        for handle in handles {
            if handle.join().unwrap_or(false) {
                stopped += 1;
            }
        }
    });
    progress.step(
        Icon::Stopped,
        &format!(
            "{stopped} node{} stopped.",
            if stopped == 1 { "" } else { "s" }
        ),
    );
    stopped
}

/// `delete`: stops the nodes, removes the profile's kubeconfig entry and its directory.
pub fn delete(profile: &Profile, progress: &dyn Progress) -> Result<()> {
    let name = &profile.config.name;
    progress.step(
        Icon::Deleting,
        &format!("Deleting \"{name}\" in {} ...", driver::NAME),
    );
    stop(profile, &crate::progress::Quiet);
    if let Ok(path) = kubeconfig::path()
        && let Ok(existing) = kubeconfig::read(&path)
        && kubeconfig::context_server(&existing, name).is_some()
    {
        kubeconfig::write(&path, &kubeconfig::remove(&existing, name)?)?;
    }
    std::fs::remove_dir_all(&profile.dir).map_err(Error::io(&profile.dir))?;
    progress.step(
        Icon::Removed,
        &format!("Removed all traces of the \"{name}\" cluster."),
    );
    Ok(())
}

/// `node delete NAME`: drain, remove the store member, stop the process, delete the Node and
/// its mirror pods, remove its files.
pub async fn delete_node(profile: &mut Profile, name: &str, progress: &dyn Progress) -> Result<()> {
    let node = profile.config.find_node(name)?.clone();
    if node.control_plane && profile.config.control_plane().count() == 1 {
        return Err(Error::Invalid(format!(
            "{} is the only control-plane node; delete the profile with `hakube delete -p {}` instead",
            node.name, profile.config.name
        )));
    }
    let short = name
        .strip_prefix(&format!("{}-", profile.config.name))
        .unwrap_or(name);
    progress.step(
        Icon::Deleting,
        &format!("Deleting node {short} from cluster {}", profile.config.name),
    );
    let admin = clients::file_client(&profile.kubeconfig()).await?;
    drain(&admin, &node.name).await;
    let stacked_member = node.control_plane && profile.config.stacked();
    // With three or more members the store keeps quorum without this one, so the node stops
    // first: its API server (which reads only its local member) leaves the VIP's rotation
    // before its member goes, and no request through the VIP meets a member-less API server.
    // With two, stopping first would lose quorum and make the removal impossible.
    let stop_first = !stacked_member || profile.config.control_plane().count() >= 3;
    let stop = |progress: &dyn Progress| {
        progress.step(
            Icon::Stopping,
            &format!("Stopping node \"{}\"  ...", node.name),
        );
        driver::stop(profile, &node.name);
    };
    if stop_first {
        stop(progress);
    }
    if stacked_member {
        remove_member(profile, &node).await?;
    }
    if !stop_first {
        stop(progress);
    }
    let nodes: Api<Node> = Api::all(admin.clone());
    retry("delete the Node", || async {
        match nodes.delete(&node.name, &DeleteParams::default()).await {
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            other => other.map(|_| ()),
        }
    })
    .await?;
    // Without a garbage collector yet, the node's mirror pods and Lease go with it here.
    let pods: Api<Pod> = Api::all(admin.clone());
    let on_node = ListParams::default().fields(&format!("spec.nodeName={}", node.name));
    if let Ok(list) = pods.list(&on_node).await {
        for pod in list {
            let (Some(ns), Some(pod_name)) = (pod.metadata.namespace, pod.metadata.name) else {
                continue;
            };
            let api: Api<Pod> = Api::namespaced(admin.clone(), &ns);
            let _ = api
                .delete(&pod_name, &DeleteParams::default().grace_period(0))
                .await;
        }
    }
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(admin.clone(), "kube-node-lease");
    let _ = leases.delete(&node.name, &DeleteParams::default()).await;
    profile.config.nodes.retain(|n| n.name != node.name);
    profile.save()?;
    let dir = profile.node_dir(&node.name);
    let _ = std::fs::remove_dir_all(&dir);
    remove_node_certificates(&profile.pki_dir(), &node.name);
    progress.step(
        Icon::Removed,
        &format!("Node {short} was successfully deleted."),
    );
    Ok(())
}

/// Cordons the node and evicts its pods (mirror pods stay: they go with the Node).
async fn drain(admin: &kube::Client, node: &str) {
    let nodes: Api<Node> = Api::all(admin.clone());
    let cordon = serde_json::json!({"spec": {"unschedulable": true}});
    let _ = nodes
        .patch(node, &PatchParams::default(), &Patch::Merge(&cordon))
        .await;
    let pods: Api<Pod> = Api::all(admin.clone());
    let Ok(list) = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await
    else {
        return;
    };
    for pod in list {
        let mirror = pod
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
        if mirror {
            continue;
        }
        let (Some(ns), Some(name)) = (pod.metadata.namespace, pod.metadata.name) else {
            continue;
        };
        let api: Api<Pod> = Api::namespaced(admin.clone(), &ns);
        let _ = api.evict(&name, &Default::default()).await;
    }
}

/// Removes the node's store member, through the other members.
async fn remove_member(profile: &Profile, node: &NodeEntry) -> Result<()> {
    let pki_dir = profile.pki_dir();
    let files = EtcdTls {
        ca: &pki_dir.join("etcd/ca.crt"),
        cert: &pki_dir.join("etcd/healthcheck-client.crt"),
        key: &pki_dir.join("etcd/healthcheck-client.key"),
    };
    let others: Vec<String> = profile
        .config
        .control_plane()
        .filter(|n| n.name != node.name)
        .map(|n| format!("https://{}:{}", n.ip, ports::ETCD_CLIENT))
        .collect();
    let etcd = Etcd::connect(&others, Some(&files))?;
    let peer = format!("https://{}:{}", node.ip, ports::ETCD_PEER);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let attempt = async {
            let members = etcd.members().await?;
            match members
                .iter()
                .find(|m| m.name == node.name || m.peer_ur_ls.contains(&peer))
            {
                Some(m) => etcd.remove(m.id).await,
                None => Ok(()),
            }
        };
        match attempt.await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

fn remove_node_certificates(pki_dir: &Path, node: &str) {
    for file in [
        format!("nodes/{node}.crt"),
        format!("nodes/{node}.key"),
        format!("nodes/{node}-kubelet.crt"),
        format!("nodes/{node}-kubelet.key"),
        format!("etcd/{node}-server.crt"),
        format!("etcd/{node}-server.key"),
        format!("etcd/{node}-peer.crt"),
        format!("etcd/{node}-peer.key"),
    ] {
        let _ = std::fs::remove_file(pki_dir.join(file));
    }
}

/// `node stop NAME`.
pub fn stop_node(profile: &Profile, name: &str) -> Result<bool> {
    let node = profile.config.find_node(name)?;
    Ok(driver::stop(profile, &node.name))
}

/// `node start NAME`: starts a stopped node from its data.
pub async fn start_node(profile: &mut Profile, exe: &Path, name: &str) -> Result<()> {
    let node = profile.config.find_node(name)?.clone();
    if driver::running_pid(profile, &node.name).is_some() {
        return Ok(());
    }
    if !node.joined {
        return join_node(profile, exe, &node).await;
    }
    check_node_ports(&profile.config, &node)?;
    let since = just_before();
    driver::spawn(exe, profile, &node.name, None)?;
    let admin = clients::file_client(&profile.kubeconfig()).await?;
    wait_node_ready(&Api::all(admin), &node, profile, since).await
}
