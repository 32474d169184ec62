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
    /// Run one member of the replicated store: a drop-in etcd v3 server, with etcd's own flags.
    Etcd(Box<cli::etcd::EtcdArgs>),
    /// Run a local three-member store in the foreground, as etcd's docs start one (Ctrl-C stops it).
    EtcdCluster(cli::etcd_cluster::EtcdClusterArgs),
    /// Run the Kubernetes API server over any etcd v3 store, with kube-apiserver's flags.
    Apiserver(Box<cli::apiserver::ApiServerArgs>),
    /// Load generators that measure hakube side by side with the real peers.
    Bench(cli::bench::BenchArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cli::init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hakube: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Etcd(args) => cli::etcd::run(*args).await,
            Command::EtcdCluster(args) => cli::etcd_cluster::run(args).await,
            Command::Apiserver(args) => cli::apiserver::run(*args).await,
            Command::Bench(args) => cli::bench::run(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hakube: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
