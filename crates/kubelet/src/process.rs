//! One container instance as an OS process: started with its environment, working directory
//! and log file, recorded for the next run's clean-up, stopped on request (SIGTERM to its
//! process tree, SIGKILL after the grace period), and reported once it has exited and its output
//! is written. Children stay in the node process's process group, so killing the group kills
//! every container with the node.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{mpsc, watch};

use crate::pids::{self, PidRecords};
use crate::pod_logs;

/// How long an exit waits for the process's output to be written before it is reported anyway
/// (a daemonized grandchild may hold the pipes open).
const LOG_DRAIN: Duration = Duration::from_secs(1);

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub argv: Vec<String>,
    pub env: Arc<Vec<(String, String)>>,
    pub workdir: PathBuf,
    pub log_path: PathBuf,
}

/// How an instance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exit {
    /// The exit status, or 128 + the signal that ended it, as container runtimes report it.
    pub code: i32,
    pub finished_at: Timestamp,
}

/// A running instance.
#[derive(Debug)]
pub(crate) struct Process {
    pub pid: u32,
    pub started_at: Timestamp,
    /// Turns true once the instance's output is all in its log file.
    pub log_done: watch::Receiver<bool>,
    stop: mpsc::UnboundedSender<Duration>,
}

impl Process {
    /// Asks the process tree to stop: SIGTERM now, SIGKILL after `grace` if it still runs.
    pub(crate) fn stop(&self, grace: Duration) {
        let _ = self.stop.send(grace);
    }
}

/// Why a program could not be started, worded as a container runtime words it.
fn start_error(program: &str, workdir: &std::path::Path, error: &std::io::Error) -> String {
    if !workdir.is_dir() {
        return format!(
            "chdir to cwd ({:?}) set in config.json failed: no such file or directory",
            workdir.display().to_string()
        );
    }
    match error.kind() {
        std::io::ErrorKind::NotFound => {
            format!("exec: {program:?}: executable file not found in $PATH")
        }
        std::io::ErrorKind::PermissionDenied => format!("exec: {program:?}: permission denied"),
        _ => format!("exec: {program:?}: {error}"),
    }
}

/// Starts an instance. `on_exit` is called once, after it has exited and its output is written.
/// The error is the StartError message.
pub(crate) async fn launch(
    launch: Launch,
    records: PidRecords,
    on_exit: impl FnOnce(Exit) + Send + 'static,
) -> Result<Process, String> {
    let Some((program, args)) = launch.argv.split_first() else {
        return Err("no command specified".to_string());
    };
    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&launch.log_path)
        .await
        .map_err(|e| format!("opening the log file {}: {e}", launch.log_path.display()))?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&launch.workdir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| start_error(program, &launch.workdir, &e))?;
    let started_at = Timestamp::now();
    let Some(pid) = child.id() else {
        return Err(format!("exec: {program:?}: the process ended at once"));
    };
    records.record(pid);
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err("the process's output pipes are missing".to_string());
    };
    let mut log_done = pod_logs::start_writer(stdout, stderr, file, launch.log_path.clone());
    let (stop_tx, mut stop_rx) = mpsc::unbounded_channel::<Duration>();
    let process = Process {
        pid,
        started_at,
        log_done: log_done.clone(),
        stop: stop_tx,
    };
    tokio::spawn(async move {
        let mut kill_at: Option<tokio::time::Instant> = None;
        let status = loop {
            let deadline = kill_at;
            let kill_timer = async move {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                status = child.wait() => break status,
                Some(grace) = stop_rx.recv() => {
                    let tree = pids::process_tree(pid);
                    pids::signal(&tree, "TERM").await;
                    let at = tokio::time::Instant::now() + grace;
                    kill_at = Some(kill_at.map_or(at, |earlier| earlier.min(at)));
                }
                () = kill_timer => {
                    kill_at = None;
                    let tree = pids::process_tree(pid);
                    let _ = child.start_kill();
                    pids::signal(&tree[1..], "KILL").await;
                }
            }
        };
        records.forget(pid);
        let code = match status {
            Ok(status) => status
                .code()
                .or_else(|| status.signal().map(|s| 128 + s))
                .unwrap_or(255),
            Err(e) => {
                tracing::warn!(target: "kubelet", pid, error = %e, "waiting for a container process failed");
                255
            }
        };
        let finished_at = Timestamp::now();
        let _ = tokio::time::timeout(LOG_DRAIN, log_done.wait_for(|done| *done)).await;
        on_exit(Exit { code, finished_at });
    });
    Ok(process)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, dir: &std::path::Path) -> Launch {
        Launch {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            env: Arc::new(vec![
                ("PATH".into(), crate::env::DEFAULT_PATH.into()),
                ("GREETING".into(), "hello".into()),
            ]),
            workdir: dir.to_owned(),
            log_path: dir.join("0.log"),
        }
    }

    async fn run(launch: Launch, records: PidRecords, stop_after: Option<Duration>) -> (Exit, u32) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let process = super::launch(launch, records, move |exit| {
            let _ = tx.send(exit);
        })
        .await
        .unwrap();
        if let Some(grace) = stop_after {
            tokio::time::sleep(Duration::from_millis(200)).await;
            process.stop(grace);
        }
        let exit = tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .unwrap()
            .unwrap();
        (exit, process.pid)
    }

    #[tokio::test]
    async fn exits_env_workdir_and_logs() {
        let dir = tempfile::tempdir().unwrap();
        let records = PidRecords::new(dir.path().join("pids")).unwrap();
        let launch = sh("echo $GREETING from $(pwd); exit 3", dir.path());
        let (exit, pid) = run(launch, records, None).await;
        assert_eq!(exit.code, 3);
        let log = std::fs::read_to_string(dir.path().join("0.log")).unwrap();
        let want = format!(" hello from {}\n", dir.path().display());
        assert!(log.ends_with(&want), "{log}");
        assert!(
            !dir.path().join("pids").join(pid.to_string()).exists(),
            "forgotten"
        );
    }

    #[tokio::test]
    async fn stop_terms_then_kills() {
        let dir = tempfile::tempdir().unwrap();
        let records = PidRecords::new(dir.path().join("pids")).unwrap();
        // Stops on SIGTERM with its own code.
        let launch = sh(
            "trap 'exit 7' TERM; while true; do sleep 0.05; done",
            dir.path(),
        );
        let (exit, _) = run(launch, records.clone(), Some(Duration::from_secs(10))).await;
        assert_eq!(exit.code, 7);
        // Ignores SIGTERM: killed after the grace period.
        let launch = sh("trap '' TERM; while true; do sleep 0.05; done", dir.path());
        let started = std::time::Instant::now();
        let (exit, _) = run(launch, records, Some(Duration::from_millis(300))).await;
        assert_eq!(exit.code, 128 + 9);
        assert!(started.elapsed() >= Duration::from_millis(400));
    }

    #[tokio::test]
    async fn start_errors() {
        let dir = tempfile::tempdir().unwrap();
        let records = PidRecords::new(dir.path().join("pids")).unwrap();
        let mut launch = sh("true", dir.path());
        launch.argv = vec!["no-such-program-here".into()];
        let err = super::launch(launch.clone(), records.clone(), |_| {})
            .await
            .unwrap_err();
        assert_eq!(
            err,
            "exec: \"no-such-program-here\": executable file not found in $PATH"
        );
        launch.argv = vec!["true".into()];
        launch.workdir = dir.path().join("missing");
        let err = super::launch(launch, records, |_| {}).await.unwrap_err();
        assert!(err.starts_with("chdir to cwd"), "{err}");
    }
}
