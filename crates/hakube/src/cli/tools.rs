//! The small verbs: `ip`, `logs`, `update-context`, `kubectl --`, `etcdctl --` and `service`.

use std::process::Command;

use anyhow::Context;
use clap::Args;
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::ListParams;

use super::output::boxed_table;
use super::start::ProfileArg;

/// `hakube ip`.
#[derive(Args, Debug)]
pub struct IpArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// The node whose address to print (default: the first node).
    #[arg(short = 'n', long)]
    node: Option<String>,
}

/// Prints a node's address.
pub fn ip(args: IpArgs) -> anyhow::Result<()> {
    let profile = args.profile.load()?;
    let node = match &args.node {
        Some(name) => profile.config.find_node(name)?,
        None => profile
            .config
            .nodes
            .iter()
            .min_by_key(|n| n.number)
            .context("the profile has no nodes")?,
    };
    println!("{}", node.ip);
    Ok(())
}

/// `hakube logs`.
#[derive(Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// Only this node's logs.
    #[arg(short = 'n', long)]
    node: Option<String>,
    /// Only this role's log: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
    /// kube-vip, kube-proxy or kubelet (default: the node's whole log).
    #[arg(long)]
    role: Option<String>,
    /// Only the last N lines of each log.
    #[arg(long)]
    tail: Option<usize>,
}

/// Prints the nodes' logs.
pub fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let profile = args.profile.load()?;
    let nodes: Vec<_> = match &args.node {
        Some(name) => {
            vec![profile.config.find_node(name)?.clone()]
        }
        None => profile.config.nodes.clone(),
    };
    for node in nodes {
        let path = match &args.role {
            Some(role) => cluster::node::logging::role_log(&profile.logs_dir(&node.name), role),
            None => profile.node_log(&node.name),
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        println!("==> {} ({}) <==", node.name, path.display());
        let lines: Vec<&str> = text.lines().collect();
        let from = args
            .tail
            .map(|n| lines.len().saturating_sub(n))
            .unwrap_or(0);
        for line in &lines[from..] {
            println!("{line}");
        }
    }
    Ok(())
}

/// `hakube update-context`.
#[derive(Args, Debug)]
pub struct UpdateContextArgs {
    #[command(flatten)]
    profile: ProfileArg,
}

/// Points the profile's kubeconfig context at the VIP again.
pub fn update_context(args: UpdateContextArgs) -> anyhow::Result<()> {
    let profile = args.profile.load()?;
    cluster::lifecycle::update_context(&profile)?;
    println!(
        "* \"{}\" context has been updated to point to {}",
        profile.config.name,
        profile.config.server()
    );
    Ok(())
}

/// `hakube kubectl -- ARGS` and `hakube etcdctl -- ARGS`.
#[derive(Args, Debug)]
pub struct PassArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// The arguments for the tool (after `--`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Runs kubectl against the profile's cluster (its admin kubeconfig, server at the VIP).
pub fn kubectl(args: PassArgs) -> anyhow::Result<u8> {
    let profile = args.profile.load()?;
    let mut command = Command::new("kubectl");
    command
        .arg("--kubeconfig")
        .arg(profile.kubeconfig())
        .args(&args.args);
    exec(
        command,
        "kubectl",
        "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
    )
}

/// Runs etcdctl against the profile's store members (or its external etcd), with their
/// certificates.
pub fn etcdctl(args: PassArgs) -> anyhow::Result<u8> {
    let profile = args.profile.load()?;
    let mut command = Command::new("etcdctl");
    command.env("ETCDCTL_API", "3");
    match &profile.config.external_etcd {
        None => {
            let endpoints: Vec<String> = profile
                .config
                .control_plane()
                .map(|n| format!("https://{}:{}", n.ip, cluster::ports::ETCD_CLIENT))
                .collect();
            let pki = profile.pki_dir();
            command
                .arg(format!("--endpoints={}", endpoints.join(",")))
                .arg(format!("--cacert={}", pki.join("etcd/ca.crt").display()))
                .arg(format!(
                    "--cert={}",
                    pki.join("etcd/healthcheck-client.crt").display()
                ))
                .arg(format!(
                    "--key={}",
                    pki.join("etcd/healthcheck-client.key").display()
                ));
        }
        Some(external) => {
            command.arg(format!("--endpoints={}", external.servers.join(",")));
            if let Some(ca) = &external.ca_file {
                command.arg(format!("--cacert={}", ca.display()));
            }
            if let Some(cert) = &external.cert_file {
                command.arg(format!("--cert={}", cert.display()));
            }
            if let Some(key) = &external.key_file {
                command.arg(format!("--key={}", key.display()));
            }
        }
    }
    command.args(&args.args);
    exec(
        command,
        "etcdctl",
        "install it, e.g. `apt-get install etcd-client`",
    )
}

/// Runs a tool and passes its exit code through.
fn exec(mut command: Command, tool: &str, fix: &str) -> anyhow::Result<u8> {
    match command.status() {
        Ok(status) => Ok(status.code().unwrap_or(1).clamp(0, 255) as u8),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            anyhow::bail!("{tool} is not installed or not on PATH; {fix}")
        }
        Err(e) => anyhow::bail!("cannot run {tool}: {e}"),
    }
}

/// `hakube service`.
#[derive(Args, Debug)]
pub struct ServiceArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// `list`, or a Service's name (with --url).
    target: String,
    /// The Service's namespace (for a name).
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// Print only the URLs.
    #[arg(long)]
    url: bool,
}

/// `service list` (a table of NodePort URLs) and `service NAME --url`.
pub async fn service(args: ServiceArgs) -> anyhow::Result<()> {
    let profile = args.profile.load()?;
    let client = cluster::clients::file_client(&profile.kubeconfig()).await?;
    let node_ip = profile
        .config
        .nodes
        .iter()
        .min_by_key(|n| n.number)
        .map(|n| n.ip.to_string())
        .unwrap_or_default();
    let urls = |svc: &Service| -> Vec<(String, String)> {
        let ports = svc
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .unwrap_or_default();
        ports
            .iter()
            .map(|p| {
                let target = p.port.to_string();
                match p.node_port {
                    Some(np) => (target, format!("http://{node_ip}:{np}")),
                    None => ("No node port".into(), String::new()),
                }
            })
            .collect()
    };
    if args.target == "list" {
        let all: Api<Service> = Api::all(client);
        let mut rows = Vec::new();
        for svc in all.list(&ListParams::default()).await? {
            let ns = svc.metadata.namespace.clone().unwrap_or_default();
            let name = svc.metadata.name.clone().unwrap_or_default();
            let list = urls(&svc);
            if list.is_empty() {
                rows.push(vec![
                    ns.clone(),
                    name.clone(),
                    "No node port".into(),
                    String::new(),
                ]);
            }
            for (target, url) in list {
                rows.push(vec![ns.clone(), name.clone(), target, url]);
            }
        }
        rows.sort();
        print!(
            "{}",
            boxed_table(&["NAMESPACE", "NAME", "TARGET PORT", "URL"], &rows)
        );
        return Ok(());
    }
    let api: Api<Service> = Api::namespaced(client, &args.namespace);
    let svc = api.get_opt(&args.target).await?.with_context(|| {
        format!(
            "service {:?} not found in namespace {:?}",
            args.target, args.namespace
        )
    })?;
    let found: Vec<String> = urls(&svc)
        .into_iter()
        .map(|(_, u)| u)
        .filter(|u| !u.is_empty())
        .collect();
    if found.is_empty() {
        anyhow::bail!(
            "service {} has no node port; expose it with type NodePort",
            args.target
        );
    }
    for url in found {
        println!("{url}");
    }
    Ok(())
}
