//! `hakube status` and `hakube profile list`: how the profiles look, from direct probes.

use clap::{Args, Subcommand};
use cluster::Home;
use cluster::observe::observe;
use cluster::status::ProfileStatus;

use super::output::boxed_table;
use super::start::ProfileArg;

/// `-o json` or the default text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// `hakube status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: Format,
}

/// Prints each node's host, kubelet, apiserver and kubeconfig state. Exits non-zero (as
/// minikube does) when something is not running: 1 host, 2 kubelet, 4 apiserver, summed.
pub async fn status(args: StatusArgs) -> anyhow::Result<u8> {
    let profile = args.profile.load()?;
    let seen = observe(&profile).await;
    let running = |b: bool| if b { "Running" } else { "Stopped" };
    let mut code = 0u8;
    let mut json = Vec::new();
    let mut text = String::new();
    for node in &seen.nodes {
        let host = running(node.running);
        let kubelet = running(node.kubelet);
        if !node.running {
            code |= 1;
        }
        if !node.kubelet {
            code |= 2;
        }
        text.push_str(&format!("{}\n", node.name));
        if node.control_plane {
            let apiserver = running(node.apiserver);
            if !node.apiserver {
                code |= 4;
            }
            let kubeconfig = if seen.kubeconfig_configured {
                "Configured"
            } else {
                "Misconfigured"
            };
            text.push_str(&format!(
                "type: Control Plane\nhost: {host}\nkubelet: {kubelet}\napiserver: {apiserver}\nkubeconfig: {kubeconfig}\n\n"
            ));
            json.push(serde_json::json!({
                "Name": node.name, "Host": host, "Kubelet": kubelet, "APIServer": apiserver,
                "Kubeconfig": kubeconfig, "Worker": false,
            }));
        } else {
            text.push_str(&format!(
                "type: Worker\nhost: {host}\nkubelet: {kubelet}\n\n"
            ));
            json.push(serde_json::json!({
                "Name": node.name, "Host": host, "Kubelet": kubelet, "APIServer": "Irrelevant",
                "Kubeconfig": "Irrelevant", "Worker": true,
            }));
        }
    }
    match args.output {
        Format::Text => print!("{}", text.trim_end_matches('\n').to_string() + "\n"),
        Format::Json => println!("{}", serde_json::to_string_pretty(&json)?),
    }
    Ok(code)
}

/// `hakube profile`.
#[derive(Args, Debug)]
pub struct ProfileArgs {
    #[command(subcommand)]
    command: ProfileCommand,
}

#[derive(Subcommand, Debug)]
enum ProfileCommand {
    /// List the profiles with their status.
    List {
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Format,
    },
}

/// Lists the profiles.
pub async fn profile(args: ProfileArgs) -> anyhow::Result<()> {
    let ProfileCommand::List { output } = args.command;
    let home = Home::from_env()?;
    let mut rows = Vec::new();
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    for name in home.profiles()? {
        let profile = match home.load(&name) {
            Ok(p) => p,
            Err(e) => {
                invalid.push(serde_json::json!({"Name": name, "Error": e.to_string()}));
                continue;
            }
        };
        let seen = observe(&profile).await;
        let config = &profile.config;
        let status = seen.status.word();
        rows.push(vec![
            config.name.clone(),
            config.driver.clone(),
            config.vip().to_string(),
            cluster::ports::APISERVER.to_string(),
            config.kubernetes_version.clone(),
            status.to_string(),
            config.nodes.len().to_string(),
        ]);
        if let ProfileStatus::Error(reason) = &seen.status {
            eprintln!("! {}: {reason}", config.name);
        }
        valid.push(serde_json::json!({
            "Name": config.name, "Status": status, "Reason": seen.status.reason(),
            "Driver": config.driver, "IP": config.vip().to_string(), "Port": cluster::ports::APISERVER,
            "Version": config.kubernetes_version, "Nodes": config.nodes.len(),
            "ControlPlaneNodes": config.control_plane().count(), "HA": config.ha,
        }));
    }
    match output {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"invalid": invalid, "valid": valid}))?
        ),
        Format::Text if rows.is_empty() => {
            println!("* No profiles found. Start a cluster with: hakube start --ha");
        }
        Format::Text => print!(
            "{}",
            boxed_table(
                &[
                    "Profile", "Driver", "IP", "Port", "Version", "Status", "Nodes"
                ],
                &rows
            )
        ),
    }
    Ok(())
}
