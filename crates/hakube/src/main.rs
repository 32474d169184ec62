//! The hakube binary: thin glue from the command line to the library roles.

mod cli;

use clap::{Parser, Subcommand};

/// hakube: a highly available Kubernetes-API cluster on one machine.
#[derive(Parser)]
#[command(name = "hakube", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a cluster (`--ha` for three control-plane nodes behind a VIP), or a stopped one again.
    Start(cli::start::StartArgs),
    /// Stop a cluster's nodes; `start` brings the same cluster back.
    Stop(cli::start::StopArgs),
    /// Delete a cluster: its processes, files and kubeconfig context.
    Delete(cli::start::DeleteArgs),
    /// Show each node's host, kubelet, apiserver and kubeconfig state.
    Status(cli::profile::StatusArgs),
    /// Profiles: `profile list`.
    Profile(cli::profile::ProfileArgs),
    /// Nodes: add, delete, stop, start, list.
    Node(cli::node::NodeArgs),
    /// Print a node's IP address.
    Ip(cli::tools::IpArgs),
    /// Print the nodes' logs.
    Logs(cli::tools::LogsArgs),
    /// Point the profile's kubeconfig context at its VIP again.
    UpdateContext(cli::tools::UpdateContextArgs),
    /// Run kubectl against the cluster: `hakube kubectl -p NAME -- get pods`.
    Kubectl(cli::tools::PassArgs),
    /// Run etcdctl against the cluster's store: `hakube etcdctl -p NAME -- member list`.
    Etcdctl(cli::tools::PassArgs),
    /// Services' NodePort URLs: `service list`, `service NAME --url`.
    Service(cli::tools::ServiceArgs),
    /// Run one member of the replicated store: a drop-in etcd v3 server, with etcd's own flags.
    Etcd(Box<cli::etcd::EtcdArgs>),
    /// Run a local three-member store in the foreground, as etcd's docs start one (Ctrl-C stops it).
    EtcdCluster(cli::etcd_cluster::EtcdClusterArgs),
    /// Run the Kubernetes API server over any etcd v3 store, with kube-apiserver's flags.
    Apiserver(Box<cli::apiserver::ApiServerArgs>),
    /// Load generators that measure hakube side by side with the real peers.
    Bench(cli::bench::BenchArgs),
}

fn runtime() -> Result<tokio::runtime::Runtime, std::process::ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("hakube: cannot start the async runtime: {e}");
            std::process::ExitCode::FAILURE
        })
}

/// The subcommand that runs hakube's built-in test image (`hakube/agnhost`) in a pod's container
/// process. It is dispatched before clap, so the image's own flags (`--http-port=8080`) pass
/// through untouched, and it is not in `--help`: people run it through pods.
const AGNHOST: &str = "agnhost";

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some(AGNHOST) {
        return agnhost::main(args.collect());
    }
    let cli = Cli::parse();
    if let Command::Node(args) = &cli.command
        && let Some(run) = args.node_run()
    {
        return node_run(run);
    }
    cli::init_logging();
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let result: anyhow::Result<u8> = runtime.block_on(async {
        let ok = |r: anyhow::Result<()>| r.map(|()| 0u8);
        match cli.command {
            Command::Start(args) => ok(cli::start::start(args).await),
            Command::Stop(args) => ok(cli::start::stop(args)),
            Command::Delete(args) => ok(cli::start::delete(args)),
            Command::Status(args) => cli::profile::status(args).await,
            Command::Profile(args) => ok(cli::profile::profile(args).await),
            Command::Node(args) => ok(cli::node::run(args).await),
            Command::Ip(args) => ok(cli::tools::ip(args)),
            Command::Logs(args) => ok(cli::tools::logs(args)),
            Command::UpdateContext(args) => ok(cli::tools::update_context(args)),
            Command::Kubectl(args) => cli::tools::kubectl(args),
            Command::Etcdctl(args) => cli::tools::etcdctl(args),
            Command::Service(args) => ok(cli::tools::service(args).await),
            Command::Etcd(args) => ok(cli::etcd::run(*args).await),
            Command::EtcdCluster(args) => ok(cli::etcd_cluster::run(args).await),
            Command::Apiserver(args) => ok(cli::apiserver::run(*args).await),
            Command::Bench(args) => ok(cli::bench::run(args).await),
        }
    });
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("hakube: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `hakube node run`: the node process, with its own logging (a file per role).
fn node_run(run: cluster::node::NodeRun) -> std::process::ExitCode {
    if let Err(e) = cluster::node::init_logging(&run) {
        eprintln!("hakube: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(cluster::node::run(run, cli::interrupted())) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(target: "cluster", "{e}");
            eprintln!("hakube: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
