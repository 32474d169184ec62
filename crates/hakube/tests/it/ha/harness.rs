//! The HA tests' harness: a private `$HAKUBE_HOME` and kubeconfig per test, a loopback block
//! no one else uses, the real `hakube`, `kubectl` and `etcdctl` run with a deadline, polling
//! with deadlines, and a guard whose Drop deletes every profile and kills any node process
//! left behind, so that neither a process nor a port outlives the test, even when it panics.

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::etcdctl::{ETCDCTL, Output, POLL_INTERVAL};

/// The kubectl the tests drive (on this machine the Cloud SDK's dispatcher, which runs the
/// kubectl of the server's minor release).
pub const KUBECTL: &str = "/usr/bin/kubectl";

/// The hakube binary under test.
pub const HAKUBE: &str = env!("CARGO_BIN_EXE_hakube");

/// The API server's port, on every control-plane node and on the VIP (minikube's 8443).
pub const API_PORT: u16 = 8443;

/// The profile blocks the tests take turns on: 127.0.200.0/24 to 127.0.249.0/24.
const FIRST_BLOCK: u8 = 200;
const BLOCKS: u32 = 50;

/// Limits for the commands: well above what a loaded two-core machine needs, so that they only
/// catch a hang.
pub const START_LIMIT: Duration = Duration::from_secs(600);
pub const NODE_LIMIT: Duration = Duration::from_secs(300);
pub const SHORT_LIMIT: Duration = Duration::from_secs(120);
const KUBECTL_LIMIT: Duration = Duration::from_secs(60);

/// One test's world: a temp dir holding `$HAKUBE_HOME`, the kubeconfig `$KUBECONFIG` names,
/// and a `$HOME` for kubectl's caches, plus the loopback block its profile uses. Dropping it
/// deletes every profile and kills whatever node process is left.
pub struct Ha {
    dir: Option<tempfile::TempDir>,
    /// A copy of the binary under test: the node processes run `current_exe()`, and a
    /// rebuild of the workspace relinking the original under them would crash them.
    exe: PathBuf,
    home: PathBuf,
    kubeconfig: PathBuf,
    user_home: PathBuf,
    /// The third octet of the profile's block: `--subnet 127.0.<block>.0/24`.
    pub block: u8,
}

impl Ha {
    pub fn new() -> Result<Ha> {
        for tool in [KUBECTL, ETCDCTL] {
            if !Path::new(tool).exists() {
                bail!("{tool} is missing; the HA tests drive the real kubectl and etcdctl");
            }
        }
        let dir = tempfile::Builder::new().prefix("hakube-it-ha-").tempdir()?;
        let home = dir.path().join("hakube-home");
        let user_home = dir.path().join("home");
        std::fs::create_dir_all(&home)?;
        std::fs::create_dir_all(&user_home)?;
        let exe = dir.path().join("bin").join("hakube");
        std::fs::create_dir_all(dir.path().join("bin"))?;
        std::fs::copy(HAKUBE, &exe).with_context(|| format!("copying {HAKUBE}"))?;
        Ok(Ha {
            exe,
            kubeconfig: dir.path().join("kubeconfig"),
            dir: Some(dir),
            home,
            user_home,
            block: pick_block()?,
        })
    }

    pub fn subnet(&self) -> String {
        format!("127.0.{}.0/24", self.block)
    }

    pub fn vip(&self) -> Ipv4Addr {
        Ipv4Addr::new(127, 0, self.block, 254)
    }

    /// The address of node `number` (the first node is 1, `-m02` is 2, ...).
    pub fn node_ip(&self, number: u8) -> Ipv4Addr {
        Ipv4Addr::new(127, 0, self.block, number + 1)
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    pub fn profile_dir(&self, profile: &str) -> PathBuf {
        self.home.join("profiles").join(profile)
    }

    /// The pid a node's `node.pid` holds.
    pub fn node_pid(&self, profile: &str, node: &str) -> Result<u32> {
        let path = self
            .profile_dir(profile)
            .join("nodes")
            .join(node)
            .join("node.pid");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        text.trim()
            .parse()
            .with_context(|| format!("{} holds {text:?}, not a pid", path.display()))
    }

    /// Sets the environment every tool runs with: only what the test chooses.
    fn environment(&self, cmd: &mut Command) {
        for var in [
            "HAKUBE_PROFILE",
            "HAKUBE_JOIN_TOKEN",
            "KUBECTL_EXTERNAL_DIFF",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HAKUBE_HOME", &self.home)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.user_home)
            .env("NO_COLOR", "1");
    }

    /// Runs `hakube ARGS` to completion (whatever its exit code) within `limit`.
    pub fn hakube(&self, args: &[&str], limit: Duration) -> Result<Output> {
        let mut cmd = Command::new(&self.exe);
        cmd.args(args);
        self.environment(&mut cmd);
        run(cmd, &format!("hakube {}", args.join(" ")), limit)
    }

    /// Runs `hakube ARGS` and requires exit 0.
    pub fn hakube_ok(&self, args: &[&str], limit: Duration) -> Result<Output> {
        let out = self.hakube(args, limit)?;
        if !out.success() {
            bail!("hakube {} failed: {out}", args.join(" "));
        }
        Ok(out)
    }

    /// A kubectl for the user's kubeconfig (its current context: the profile's, at the VIP).
    pub fn kubectl(&self) -> Kubectl {
        Kubectl {
            kubeconfig: self.kubeconfig.clone(),
            home: self.user_home.clone(),
        }
    }

    /// `hakube profile list -o json`'s entry for `profile`.
    pub fn profile_json(&self, profile: &str) -> Result<serde_json::Value> {
        let out = self.hakube_ok(&["profile", "list", "-o", "json"], SHORT_LIMIT)?;
        let list: serde_json::Value = serde_json::from_str(&out.stdout)
            .with_context(|| format!("`profile list -o json` printed no JSON: {out}"))?;
        let valid = list["valid"]
            .as_array()
            .with_context(|| format!("`profile list -o json` has no valid list: {out}"))?;
        valid
            .iter()
            .find(|p| p["Name"] == profile)
            .cloned()
            .with_context(|| format!("`profile list -o json` does not list {profile}: {out}"))
    }

    /// Passes a test's outcome through, showing the end of every node's log when it failed
    /// (Drop shows them on a panic).
    pub fn outcome(&self, result: Result<()>) -> Result<()> {
        if result.is_err() {
            eprintln!("----- node logs\n{}", self.node_log_tails());
        }
        result
    }

    /// The last lines of every node's `node.log`, for a failing test's output.
    fn node_log_tails(&self) -> String {
        let mut text = String::new();
        for log in self.node_files("node.log") {
            let all = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = all.lines().collect();
            let tail = lines[lines.len().saturating_sub(25)..].join("\n");
            text.push_str(&format!("----- {}\n{tail}\n", log.display()));
        }
        text
    }

    /// Every `profiles/*/nodes/*/<file>` that exists.
    fn node_files(&self, file: &str) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for profile in read_dir(&self.home.join("profiles")) {
            for node in read_dir(&profile.join("nodes")) {
                let path = node.join(file);
                if path.exists() {
                    found.push(path);
                }
            }
        }
        found
    }

    /// The `hakube node run` processes of this home that are alive.
    pub fn node_processes(&self) -> Vec<u32> {
        self.leftover_pids(&[])
    }

    /// Node processes of this home still alive: those the pid files list and any other
    /// `hakube node run` whose command line names this home.
    fn leftover_pids(&self, listed: &[u32]) -> Vec<u32> {
        let home = self.home.to_string_lossy().into_owned();
        let mine = |pid: u32| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                let cmdline = String::from_utf8_lossy(&cmdline);
                cmdline.contains("node\0run") && cmdline.contains(&home)
            })
        };
        let mut pids: Vec<u32> = listed.iter().copied().filter(|p| mine(*p)).collect();
        for entry in read_dir(Path::new("/proc")) {
            let pid = entry.file_name().and_then(|n| n.to_str()?.parse().ok());
            if let Some(pid) = pid
                && !pids.contains(&pid)
                && mine(pid)
            {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Ha {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("----- node logs\n{}", self.node_log_tails());
        }
        let listed: Vec<u32> = self
            .node_files("node.pid")
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok()?.trim().parse().ok())
            .collect();
        let keep = std::env::var_os("HAKUBE_IT_KEEP").is_some();
        // With KEEP the files stay for inspection, so the nodes are only stopped.
        let cleanup = if keep {
            read_dir(&self.home.join("profiles"))
                .iter()
                .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
                .map(|name| self.hakube(&["stop", "-p", &name], SHORT_LIMIT))
                .collect::<Result<Vec<_>>>()
                .map(|_| ())
        } else {
            self.hakube(&["delete", "--all"], SHORT_LIMIT)
                .and_then(|out| {
                    if out.success() {
                        Ok(())
                    } else {
                        bail!("hakube delete --all failed: {out}")
                    }
                })
        };
        if let Err(e) = cleanup {
            eprintln!("ha harness: cleanup: {e:#}");
        }
        let leftovers = self.leftover_pids(&listed);
        if !leftovers.is_empty() {
            eprintln!("ha harness: killing node processes left behind: {leftovers:?}");
            for pid in &leftovers {
                // The whole group, so the node's containers go too.
                kill9_group(*pid);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while !self.leftover_pids(&leftovers).is_empty() && Instant::now() < deadline {
                std::thread::sleep(POLL_INTERVAL);
            }
        }
        if keep && let Some(dir) = self.dir.as_mut() {
            dir.disable_cleanup(true);
            eprintln!("HAKUBE_IT_KEEP: kept {}", dir.path().display());
        }
    }
}

/// kubectl with the test's kubeconfig, home and a wall-clock limit; `Clone + Send` so that a
/// background loop can run it.
#[derive(Clone, Debug)]
pub struct Kubectl {
    kubeconfig: PathBuf,
    home: PathBuf,
}

impl Kubectl {
    /// Runs kubectl to completion, whatever its exit code.
    pub fn run(&self, args: &[&str]) -> Result<Output> {
        self.run_within(args, KUBECTL_LIMIT)
    }

    pub fn run_within(&self, args: &[&str], limit: Duration) -> Result<Output> {
        let mut cmd = Command::new(KUBECTL);
        cmd.env_remove("KUBECTL_EXTERNAL_DIFF")
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.home)
            .env("NO_COLOR", "1")
            .arg(format!(
                "--cache-dir={}",
                self.home.join("kube-cache").display()
            ))
            .args(args);
        run(cmd, &format!("kubectl {}", args.join(" ")), limit)
    }

    /// Runs kubectl and requires exit 0.
    pub fn ok(&self, args: &[&str]) -> Result<Output> {
        self.ok_within(args, KUBECTL_LIMIT)
    }

    /// Runs kubectl within `limit` and requires exit 0.
    pub fn ok_within(&self, args: &[&str], limit: Duration) -> Result<Output> {
        let out = self.run_within(args, limit)?;
        if !out.success() {
            bail!("kubectl {} failed: {out}", args.join(" "));
        }
        Ok(out)
    }
}

/// Runs `cmd` with its output collected, killing it if it outlives `limit`. An error means it
/// could not be run or hung.
pub fn run(mut cmd: Command, what: &str, limit: Duration) -> Result<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("starting {what}"))?;
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Output {
        code: status.code(),
        stdout: finish(stdout),
        stderr: finish(stderr),
    })
}

fn collect(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

fn finish(handle: JoinHandle<Vec<u8>>) -> String {
    String::from_utf8_lossy(&handle.join().unwrap_or_default()).into_owned()
}

/// Re-runs `check` until it returns `Ok`, or fails at the deadline with its last error.
pub fn poll_until<T>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Result<T>,
) -> Result<T> {
    let deadline = Instant::now() + limit;
    loop {
        match check() {
            Ok(value) => return Ok(value),
            Err(e) if Instant::now() > deadline => {
                bail!("{what}: not so within {limit:?}; last check: {e:#}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Sends SIGKILL with the system's `kill` (the tests use no unsafe code).
pub fn kill9(pid: u32) {
    let _ = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// SIGKILL to the process group `pid` leads: a node process and every container it started, as
/// when the machine under a node dies.
pub fn kill9_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-9", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether `pid` is a live process (not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    paths.sort();
    paths
}

/// A block from 127.0.200.0/24 to 127.0.249.0/24 whose VIP port and first node addresses can
/// be listened on. Blocks are handed out in turn from a point that depends on the pid, so two
/// test runs side by side start apart, and within a run no block is handed out twice until all
/// fifty have been.
pub fn pick_block() -> Result<u8> {
    static NEXT: OnceLock<AtomicU32> = OnceLock::new();
    let next = NEXT.get_or_init(|| AtomicU32::new(std::process::id().wrapping_mul(7) % BLOCKS));
    for _ in 0..BLOCKS {
        let block = FIRST_BLOCK + (next.fetch_add(1, Ordering::Relaxed) % BLOCKS) as u8;
        let free = |ip: Ipv4Addr, port: u16| TcpListener::bind((ip, port)).is_ok();
        let vip = Ipv4Addr::new(127, 0, block, 254);
        let nodes_free = (2..=8).all(|host| {
            let ip = Ipv4Addr::new(127, 0, block, host);
            free(ip, API_PORT) && free(ip, 2379) && free(ip, 2380)
        });
        if free(vip, API_PORT) && nodes_free {
            return Ok(block);
        }
    }
    bail!("no block from 127.0.200.0/24 to 127.0.249.0/24 has port {API_PORT} free on its VIP")
}
