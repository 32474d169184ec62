//! `hakube etcd-cluster`: three store members on loopback, started as etcd's docs start three
//! (infra1..3 on ports 2379/22379/32379), in the foreground until Ctrl-C.

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
}

const MEMBERS: [(&str, u16, u16); 3] = [
    ("infra1", 2379, 2380),
    ("infra2", 22379, 22380),
    ("infra3", 32379, 32380),
];

/// Starts the three members and waits.
pub async fn run(args: EtcdClusterArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the hakube executable")?;
    let host = &args.host;
    let initial_cluster: Vec<String> = MEMBERS
        .iter()
        .map(|(name, _, peer)| format!("{name}=http://{host}:{peer}"))
        .collect();
    let mut children: Vec<Child> = Vec::new();
    for (name, client, peer) in MEMBERS {
        let client_url = format!("http://{host}:{client}");
        let peer_url = format!("http://{host}:{peer}");
        let data_dir = args.data_dir.join(format!("{name}.etcd"));
        let child = Command::new(&exe)
            .arg("etcd")
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
    println!("  Ctrl-C stops them; running this again brings the same data back.");
    let mut exited = Box::pin(futures_first_exit(&mut children));
    tokio::select! {
        _ = super::interrupted() => {}
        status = &mut exited => eprintln!("hakube: a member exited ({status}); stopping the others"),
    }
    drop(exited);
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

/// Resolves when any member process exits, with its status.
async fn futures_first_exit(children: &mut [Child]) -> String {
    let waits = children.iter_mut().map(|c| Box::pin(c.wait()));
    match futures::future::select_all(waits).await {
        (Ok(status), _, _) => status.to_string(),
        (Err(e), _, _) => e.to_string(),
    }
}
