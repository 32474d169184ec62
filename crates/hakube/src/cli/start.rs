//! `hakube start`, `stop` and `delete`: a profile's whole lifecycle, minikube's verbs.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use cluster::Home;
use cluster::lifecycle::{self, StartOptions};
use cluster::profile::ExternalEtcd;

use super::output::Printer;

/// The profile flag every cluster verb takes, as minikube names it.
#[derive(Args, Debug, Clone)]
pub struct ProfileArg {
    /// The profile (cluster) to act on.
    #[arg(
        short = 'p',
        long = "profile",
        default_value = "hakube",
        env = "HAKUBE_PROFILE"
    )]
    pub profile: String,
}

impl ProfileArg {
    /// Loads the profile.
    pub fn load(&self) -> anyhow::Result<cluster::Profile> {
        Ok(Home::from_env()?.load(&self.profile)?)
    }
}

/// `hakube start`.
#[derive(Args, Debug)]
pub struct StartArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// Three control-plane nodes behind a virtual IP (a highly available control plane).
    #[arg(long)]
    ha: bool,
    /// How many nodes (with --ha: 3 control-plane nodes, the rest workers).
    #[arg(short = 'n', long)]
    nodes: Option<usize>,
    /// How nodes run; `process` (each node one local process) is the only driver so far.
    #[arg(long, default_value = "process")]
    driver: String,
    /// The profile's loopback block, 127.0.N.0/24 (default: the first free from 127.0.49.0/24).
    #[arg(long)]
    subnet: Option<String>,
    /// Use this external etcd cluster instead of stacked store members (comma-separated URLs).
    #[arg(long, value_delimiter = ',')]
    etcd_servers: Vec<String>,
    /// The external etcd's CA.
    #[arg(long)]
    etcd_cafile: Option<PathBuf>,
    /// The client certificate for the external etcd.
    #[arg(long)]
    etcd_certfile: Option<PathBuf>,
    /// Its key.
    #[arg(long)]
    etcd_keyfile: Option<PathBuf>,
}

/// Starts (or restarts) the profile.
pub async fn start(args: StartArgs) -> anyhow::Result<()> {
    if args.driver != cluster::driver::NAME {
        anyhow::bail!(
            "driver {:?} is not implemented; use --driver process",
            args.driver
        );
    }
    let subnet = args
        .subnet
        .as_deref()
        .map(cluster::preflight::parse_subnet)
        .transpose()?;
    let external_etcd = if args.etcd_servers.is_empty() {
        if args.etcd_cafile.is_some() || args.etcd_certfile.is_some() || args.etcd_keyfile.is_some()
        {
            anyhow::bail!(
                "--etcd-cafile, --etcd-certfile and --etcd-keyfile go with --etcd-servers"
            );
        }
        None
    } else {
        let absolute = |p: Option<PathBuf>| p.map(|p| std::path::absolute(&p).unwrap_or(p));
        Some(ExternalEtcd {
            servers: args.etcd_servers,
            ca_file: absolute(args.etcd_cafile),
            cert_file: absolute(args.etcd_certfile),
            key_file: absolute(args.etcd_keyfile),
        })
    };
    let options = StartOptions {
        profile: args.profile.profile,
        ha: args.ha.then_some(true),
        nodes: args.nodes,
        subnet,
        external_etcd,
        exe: std::env::current_exe().context("cannot find the hakube executable")?,
    };
    let home = Home::from_env()?;
    lifecycle::start(&home, &options, &Printer::new()).await?;
    Ok(())
}

/// `hakube stop`.
#[derive(Args, Debug)]
pub struct StopArgs {
    #[command(flatten)]
    profile: ProfileArg,
}

/// Stops every node of the profile; the data stays.
pub fn stop(args: StopArgs) -> anyhow::Result<()> {
    let profile = args.profile.load()?;
    lifecycle::stop(&profile, &Printer::new());
    Ok(())
}

/// `hakube delete`.
#[derive(Args, Debug)]
pub struct DeleteArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// Delete every profile.
    #[arg(long)]
    all: bool,
}

/// Deletes the profile (or all of them): processes, files and kubeconfig entries.
pub fn delete(args: DeleteArgs) -> anyhow::Result<()> {
    let home = Home::from_env()?;
    let printer = Printer::new();
    let names = if args.all {
        home.profiles()?
    } else {
        vec![args.profile.profile.clone()]
    };
    for name in names {
        match home.load(&name) {
            Ok(profile) => lifecycle::delete(&profile, &printer)?,
            // As minikube: deleting what is not there is not an error.
            Err(cluster::Error::NoProfile(_)) if !args.all => {
                println!("* Profile \"{name}\" not found; nothing to delete.");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
