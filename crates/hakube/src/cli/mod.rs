//! The subcommands, one file each.

pub mod apiserver;
pub mod bench;
pub mod etcd;
pub mod etcd_cluster;
pub mod node;
pub mod output;
pub mod profile;
pub mod start;
pub mod tools;

/// Logs go to stderr; `RUST_LOG` overrides the default of info for hakube, warnings for the
/// libraries underneath, errors only for openraft (whose warnings report ordinary election
/// races), and nothing from kube's client (the CLI reports the failures it gives up on itself).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "warn,openraft=error,kube_client=off,store=info,apiserver=info,hakube=info",
        )
    });
    let ansi = std::env::var_os("NO_COLOR").is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn interrupted() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
