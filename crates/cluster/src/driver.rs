//! The `process` driver: each node is one detached `hakube node run` process, with its output
//! in the node's `node.log` and its pid in `node.pid`. Stopping sends SIGTERM (the node shuts
//! its roles down cleanly) and SIGKILL only after a grace period.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::profile::Profile;

/// The driver's name, as `profile list` shows it.
pub const NAME: &str = "process";

/// How long a node gets to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// Starts node `node` of `profile` in the background; returns its pid.
pub fn spawn(exe: &Path, profile: &Profile, node: &str, join: Option<(&str, &str)>) -> Result<u32> {
    let dir = profile.node_dir(node);
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    let log_path = profile.node_log(node);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(Error::io(&log_path))?;
    let err = log.try_clone().map_err(Error::io(&log_path))?;
    let mut command = Command::new(exe);
    command
        .args(["node", "run", "--profile-dir"])
        .arg(&profile.dir)
        .args(["--name", node])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err);
    if let Some((token, hash)) = join {
        // The token goes through the environment, not argv, so `ps` does not show it.
        command
            .env("HAKUBE_JOIN_TOKEN", token)
            .args(["--discovery-token-ca-cert-hash", hash]);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: Ctrl-C in the terminal that ran `start` does not reach it.
        command.process_group(0);
    }
    let child = command
        .spawn()
        .map_err(|e| Error::Invalid(format!("cannot start {}: {e}", exe.display())))?;
    let pid = child.id();
    let pid_file = profile.pid_file(node);
    std::fs::write(&pid_file, pid.to_string()).map_err(Error::io(&pid_file))?;
    Ok(pid)
}

/// The pid of node `node` if its process is alive.
pub fn running_pid(profile: &Profile, node: &str) -> Option<u32> {
    let text = std::fs::read_to_string(profile.pid_file(node)).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    alive(pid, &profile.dir, node).then_some(pid)
}

/// Whether `pid` is a live (not zombie) `hakube node run` of exactly this profile and node, so
/// a recycled pid is never taken for a node.
fn alive(pid: u32, profile_dir: &Path, node: &str) -> bool {
    let proc_dir = Path::new("/proc").join(pid.to_string());
    let Ok(cmdline) = std::fs::read(proc_dir.join("cmdline")) else {
        return false;
    };
    let stat = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
    let zombie = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.starts_with('Z'))
        .unwrap_or(false);
    let cmdline = String::from_utf8_lossy(&cmdline);
    let wanted = format!(
        "node\0run\0--profile-dir\0{}\0--name\0{node}\0",
        profile_dir.display()
    );
    !zombie && cmdline.contains(&wanted)
}

/// Sends `signal` to `pid` with the system's `kill` (no unsafe code here).
fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Stops node `node`: SIGTERM, then SIGKILL after the grace period. Returns whether it ran.
pub fn stop(profile: &Profile, node: &str) -> bool {
    let Some(pid) = running_pid(profile, node) else {
        let _ = std::fs::remove_file(profile.pid_file(node));
        return false;
    };
    signal(pid, "TERM");
    let deadline = Instant::now() + STOP_GRACE;
    while alive(pid, &profile.dir, node) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(pid, &profile.dir, node) {
        signal(pid, "KILL");
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid, &profile.dir, node) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = std::fs::remove_file(profile.pid_file(node));
    true
}

/// Kills node `node` at once (SIGKILL), as a crash would.
pub fn kill(profile: &Profile, node: &str) -> bool {
    match running_pid(profile, node) {
        Some(pid) => {
            signal(pid, "KILL");
            true
        }
        None => false,
    }
}
