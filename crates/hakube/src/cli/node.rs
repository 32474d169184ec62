//! `hakube node ...`: add, delete, stop, start and list a profile's nodes, and `node run`, the
//! node process itself (what the process driver starts).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use cluster::lifecycle;
use cluster::progress::{Icon, Progress};

use super::output::Printer;
use super::start::ProfileArg;

/// `hakube node`.
#[derive(Args, Debug)]
pub struct NodeArgs {
    #[command(subcommand)]
    command: NodeCommand,
}

#[derive(Subcommand, Debug)]
enum NodeCommand {
    /// Add a node (a worker, or with --control-plane a control-plane node).
    Add {
        #[command(flatten)]
        profile: ProfileArg,
        /// Make it a control-plane node (store member, API server, VIP agent).
        #[arg(long)]
        control_plane: bool,
    },
    /// Drain a node, remove its store member, and delete it with its files.
    Delete {
        /// The node: its full name or its short one (m02).
        name: String,
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// Stop a node's process (its data stays).
    Stop {
        name: String,
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// Start a stopped node again.
    Start {
        name: String,
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// List the nodes and their addresses.
    List {
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// Run a node process in the foreground (the process driver starts this; not for people).
    #[command(hide = true)]
    Run(RunArgs),
}

/// `hakube node run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The profile's directory.
    #[arg(long)]
    profile_dir: PathBuf,
    /// The node to run.
    #[arg(long)]
    name: String,
    /// A bootstrap token for a node that joins.
    #[arg(long, env = "HAKUBE_JOIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The CA public key hash the joining node checks discovery against.
    #[arg(long)]
    discovery_token_ca_cert_hash: Option<String>,
}

impl NodeArgs {
    /// `node run` sets up its own logging (a file per role); the other verbs use the CLI's.
    pub fn node_run(&self) -> Option<cluster::node::NodeRun> {
        match &self.command {
            NodeCommand::Run(args) => Some(cluster::node::NodeRun {
                profile_dir: args.profile_dir.clone(),
                node: args.name.clone(),
                token: args.token.clone(),
                ca_cert_hash: args.discovery_token_ca_cert_hash.clone(),
            }),
            _ => None,
        }
    }
}

/// Runs a node verb.
pub async fn run(args: NodeArgs) -> anyhow::Result<()> {
    let printer = Printer::new();
    let exe = || std::env::current_exe().context("cannot find the hakube executable");
    match args.command {
        NodeCommand::Add {
            profile,
            control_plane,
        } => {
            let mut p = profile.load()?;
            let kind = if control_plane {
                "[control-plane]"
            } else {
                "[worker]"
            };
            let next = cluster::names::next_number(p.config.last_number).unwrap_or(0);
            printer.step(
                Icon::Adding,
                &format!(
                    "Adding node m{next:02} to cluster {} as {kind}",
                    p.config.name
                ),
            );
            let name = lifecycle::add_node(&mut p, &exe()?, control_plane, &printer).await?;
            printer.step(
                Icon::Done,
                &format!("Successfully added {name} to {}!", p.config.name),
            );
        }
        NodeCommand::Delete { name, profile } => {
            let mut p = profile.load()?;
            lifecycle::delete_node(&mut p, &name, &printer).await?;
        }
        NodeCommand::Stop { name, profile } => {
            let p = profile.load()?;
            printer.step(Icon::Stopping, &format!("Stopping node \"{name}\"  ..."));
            lifecycle::stop_node(&p, &name)?;
            printer.step(Icon::Stopped, &format!("Successfully stopped node {name}"));
        }
        NodeCommand::Start { name, profile } => {
            let mut p = profile.load()?;
            printer.step(
                Icon::Starting,
                &format!("Starting \"{name}\" node in \"{}\" cluster", p.config.name),
            );
            lifecycle::start_node(&mut p, &exe()?, &name).await?;
            printer.step(Icon::Done, &format!("Successfully started node {name}!"));
        }
        NodeCommand::List { profile } => {
            let p = profile.load()?;
            for node in &p.config.nodes {
                println!("{}\t{}", node.name, node.ip);
            }
        }
        // main dispatches `node run` itself, before logging is set up.
        NodeCommand::Run(_) => anyhow::bail!("internal error: `node run` reached the CLI verbs"),
    }
    Ok(())
}
