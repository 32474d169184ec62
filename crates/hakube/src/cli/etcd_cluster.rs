//! `hakube etcd-cluster`: three store members on loopback, started as etcd's docs start three
//! (infra1..3 on ports 2379/22379/32379), in the foreground until Ctrl-C. With `--apiserver`,
//! the members use mTLS with a generated PKI and a Kubernetes API server runs over them on
//! 127.0.0.1:6443, with a kubeconfig for kubectl.

use std::path::PathBuf;
use std::process::Stdio;

use anyhow::Context;
use clap::Args;
use tokio::process::{Child, Command};

/// Options for the local cluster.
#[derive(Args, Debug)]
pub struct EtcdClusterArgs {
    /// Where the members keep their data (kept between runs, so a restart brings the data back).
    #[arg(long, default_value = "hakube-etcd-cluster")]
    data_dir: PathBuf,
    /// Loopback address the members listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Also run a Kubernetes API server over the store (on --host:6443), with a generated PKI,
    /// mTLS to the store and a kubeconfig in the data dir.
    #[arg(long)]
    apiserver: bool,
}

/// The API server's port, kube-apiserver's usual one.
const API_PORT: u16 = 6443;

const MEMBERS: [(&str, u16, u16); 3] = [
    ("infra1", 2379, 2380),
    ("infra2", 22379, 22380),
    ("infra3", 32379, 32380),
];

/// Starts the three members and waits.
pub async fn run(args: EtcdClusterArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the hakube executable")?;
    let host = &args.host;
    let pki = if args.apiserver {
        Some(ensure_pki(&args)?)
    } else {
        None
    };
    let scheme = if pki.is_some() { "https" } else { "http" };
    let initial_cluster: Vec<String> = MEMBERS
        .iter()
        .map(|(name, _, peer)| format!("{name}={scheme}://{host}:{peer}"))
        .collect();
    let mut children: Vec<Child> = Vec::new();
    for (name, client, peer) in MEMBERS {
        let client_url = format!("{scheme}://{host}:{client}");
        let peer_url = format!("{scheme}://{host}:{peer}");
        let data_dir = args.data_dir.join(format!("{name}.etcd"));
        let mut command = Command::new(&exe);
        command.arg("etcd");
        if let Some(pki) = &pki {
            let files = pki
                .nodes
                .get(name)
                .and_then(|n| n.etcd.as_ref())
                .context("the PKI lacks a store member")?;
            command
                .arg("--cert-file")
                .arg(&files.server_cert)
                .arg("--key-file")
                .arg(&files.server_key)
                .arg("--trusted-ca-file")
                .arg(&pki.etcd_ca_cert)
                .arg("--client-cert-auth")
                .arg("--peer-cert-file")
                .arg(&files.peer_cert)
                .arg("--peer-key-file")
                .arg(&files.peer_key)
                .arg("--peer-trusted-ca-file")
                .arg(&pki.etcd_ca_cert)
                .arg("--peer-client-cert-auth");
        }
        let child = command
            .args(["--name", name])
            .arg("--data-dir")
            .arg(&data_dir)
            .args([
                "--listen-client-urls",
                &client_url,
                "--advertise-client-urls",
                &client_url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &initial_cluster.join(",")])
            .args([
                "--initial-cluster-token",
                "etcd-cluster-1",
                "--initial-cluster-state",
                "new",
            ])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start member {name}"))?;
        children.push(child);
    }
    let endpoints: Vec<String> = MEMBERS
        .iter()
        .map(|(_, c, _)| format!("{host}:{c}"))
        .collect();
    println!(
        "hakube: 3 store members running (data in {})",
        args.data_dir.display()
    );
    println!(
        "  try: etcdctl --endpoints={} member list -w table",
        endpoints.join(",")
    );
    let mut api = None;
    if let Some(pki) = &pki {
        let tls = format!(
            "--cacert {} --cert {} --key {}",
            pki.etcd_ca_cert.display(),
            pki.etcd_healthcheck_client_cert.display(),
            pki.etcd_healthcheck_client_key.display()
        );
        println!("    (with {tls})");
        let running = start_apiserver(&args, pki, &endpoints).await?;
        let kubeconfig = args.data_dir.join("kubeconfig");
        println!(
            "hakube: Kubernetes API server on https://{}",
            running.address
        );
        println!(
            "  try: kubectl --kubeconfig {} get namespaces",
            kubeconfig.display()
        );
        api = Some(running);
    }
    println!("  Ctrl-C stops them; running this again brings the same data back.");
    let mut exited = Box::pin(futures_first_exit(&mut children));
    tokio::select! {
        _ = super::interrupted() => {}
        status = &mut exited => eprintln!("hakube: a member exited ({status}); stopping the others"),
    }
    drop(exited);
    if let Some(api) = api {
        api.shutdown().await;
    }
    for child in &mut children {
        if let Some(pid) = child.id() {
            // SIGTERM lets each member close its log cleanly.
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
    }
    for child in &mut children {
        let _ = child.wait().await;
    }
    Ok(())
}

/// The cluster's PKI in `<data-dir>/pki`: made on the first run, reused after.
fn ensure_pki(args: &EtcdClusterArgs) -> anyhow::Result<pki::Pki> {
    let dir = args.data_dir.join("pki");
    if dir.join("ca.crt").exists() {
        return pki::Pki::load(&dir)
            .with_context(|| format!("cannot read the PKI in {}", dir.display()));
    }
    let ip: std::net::IpAddr = args
        .host
        .parse()
        .context("--host must be an IP address with --apiserver")?;
    let spec = pki::PkiSpec {
        cluster_name: "hakube".into(),
        service_ip: std::net::Ipv4Addr::new(10, 96, 0, 1),
        vip: None,
        nodes: MEMBERS
            .iter()
            .map(|(name, _, _)| pki::NodeSpec {
                name: name.to_string(),
                ip,
                control_plane: true,
            })
            .collect(),
    };
    pki::Pki::generate(&dir, &spec)
        .with_context(|| format!("cannot generate the PKI in {}", dir.display()))
}

/// Runs the API server in this process over the members, and writes the admin kubeconfig.
async fn start_apiserver(
    args: &EtcdClusterArgs,
    pki: &pki::Pki,
    endpoints: &[String],
) -> anyhow::Result<apiserver::Running> {
    let etcd = apiserver::EtcdConfig {
        servers: endpoints.iter().map(|e| format!("https://{e}")).collect(),
        ca_file: Some(pki.etcd_ca_cert.clone()),
        cert_file: Some(pki.apiserver_etcd_client_cert.clone()),
        key_file: Some(pki.apiserver_etcd_client_key.clone()),
    };
    let mut config = apiserver::ApiServerConfig::new(
        etcd,
        pki.apiserver_cert.clone(),
        pki.apiserver_key.clone(),
    );
    config.bind_address = args
        .host
        .parse()
        .context("--host must be an IP address with --apiserver")?;
    config.secure_port = API_PORT;
    config.client_ca_file = Some(pki.ca_cert.clone());
    config.service_account_key_files = vec![pki.sa_pub.clone()];
    config.service_account_signing_key_file = Some(pki.sa_key.clone());
    config.encryption_provider_config = Some(pki.encryption_config.clone());
    let running = apiserver::start(config)
        .await
        .context("cannot start the API server")?;
    let server = format!("https://{}", running.address);
    let kubeconfig = pki::kubeconfig(
        &server,
        &pki.ca_cert,
        &pki.admin_cert,
        &pki.admin_key,
        "hakube",
        "kubernetes-admin",
    )?;
    let path = args.data_dir.join("kubeconfig");
    std::fs::write(&path, kubeconfig)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(running)
}

/// Resolves when any member process exits, with its status.
async fn futures_first_exit(children: &mut [Child]) -> String {
    let waits = children.iter_mut().map(|c| Box::pin(c.wait()));
    match futures::future::select_all(waits).await {
        (Ok(status), _, _) => status.to_string(),
        (Err(e), _, _) => e.to_string(),
    }
}
