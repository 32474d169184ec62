//! hakube's built-in test image `hakube/agnhost`, modelled on Kubernetes' e2e agnhost image: a
//! container of that image runs `hakube agnhost <subcommand> [flags]`, which calls [`main`].
//!
//! Subcommands: `hello` (minikube's HA tutorial's `Hello from <pod> (<pod IP>)`),
//! `serve-hostname`, `netexec`, `liveness`, `pause` and `help`. Every server binds the pod IP
//! from `POD_IP` (0.0.0.0 without it), since pods share the host's network and many pods of a
//! node may use the same port; `HOSTNAME` is the pod's name. SIGTERM and SIGINT stop agnhost
//! gracefully (exit code 0), and so does the loss of its parent, the node process.
//!
//! Unlike agnhost, `serve-hostname` exits right after SIGTERM instead of sleeping 60 seconds
//! "awaiting pod deletion": nothing here needs the delay, and it would hold every deletion up to
//! the grace period.

mod command;
mod duration;
mod error;
mod flags;
mod hello;
mod liveness;
mod netexec;
mod pod;
mod serve_hostname;
mod server;
mod watchdog;

use std::process::ExitCode;

use tokio::sync::watch;

pub use command::{Command, ServeHostname};
pub use error::{Error, Result};
pub use pod::PodEnv;

/// Runs agnhost with `args` (the subcommand and its flags, e.g. `["netexec",
/// "--http-port=8080"]`) in this process's environment, until the subcommand ends, SIGTERM or
/// SIGINT arrives, or the parent process dies. Usage errors exit with 2, failures with 1.
pub fn main(args: Vec<String>) -> ExitCode {
    let command = match Command::parse(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("agnhost: {message}");
            return ExitCode::from(2);
        }
    };
    if let Command::Help(subcommand) = &command {
        return match command::help(subcommand.as_deref()) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("agnhost: {message}");
                ExitCode::from(2)
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("agnhost: {}", Error::Runtime(e));
            return ExitCode::FAILURE;
        }
    };
    let env = PodEnv::from_process();
    let outcome = runtime.block_on(async move {
        let (stop_tx, stop) = watch::channel(false);
        tokio::spawn(async move {
            let why = stop_reason().await;
            println!("Shutting down: {why}.");
            let _ = stop_tx.send(true);
        });
        run(command, env, stop).await
    });
    match outcome {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("agnhost: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Waits for whatever stops agnhost: SIGTERM, SIGINT, or the parent's death.
async fn stop_reason() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return "SIGTERM cannot be caught",
    };
    let mut interrupt = match signal(SignalKind::interrupt()) {
        Ok(s) => s,
        Err(_) => return "SIGINT cannot be caught",
    };
    tokio::select! {
        _ = terminate.recv() => "received SIGTERM",
        _ = interrupt.recv() => "received SIGINT",
        _ = watchdog::parent_gone() => "the parent process is gone",
    }
}

/// Runs one subcommand with the pod facts `env` until it ends or `stop` turns true, and returns
/// the process's exit code. `Help` prints nothing here and returns 0.
pub async fn run(command: Command, env: PodEnv, stop: watch::Receiver<bool>) -> Result<i32> {
    match command {
        Command::Hello { port } => hello::run(env, port, stop).await.map(|()| 0),
        Command::ServeHostname(options) => {
            serve_hostname::run(env, options, stop).await.map(|()| 0)
        }
        Command::Netexec {
            http_port,
            udp_port,
        } => netexec::run(env, http_port, udp_port, stop).await,
        Command::Liveness => liveness::run(env, stop).await.map(|()| 0),
        Command::Pause => {
            println!("Paused");
            let mut stop = stop;
            server::stopped(&mut stop).await;
            Ok(0)
        }
        Command::Help(_) => Ok(0),
    }
}
