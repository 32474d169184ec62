//! Runs the real `etcdctl` against a cluster: one-shot commands with a deadline, and background
//! commands (watch, keep-alive) whose output is collected while they run.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Where Debian's etcd-client package installs etcdctl; the tests use exactly this client.
pub const ETCDCTL: &str = "/usr/bin/etcdctl";

/// How often conditions are re-checked while polling with a deadline.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Client-side TLS material: the CA that signed the members, and optionally a client identity.
#[derive(Clone, Debug)]
pub struct ClientTls {
    pub ca: PathBuf,
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// What one etcdctl run printed and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// The exit code; `None` when the process ended by a signal (we kill background commands).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Turns a failed run into an error that shows everything etcdctl said.
    pub fn ok(self, what: &str) -> Result<Output> {
        if self.success() {
            Ok(self)
        } else {
            bail!("{what}: {self}")
        }
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// An etcdctl invocation template: endpoints, TLS flags, extra global flags and a wall-clock limit.
#[derive(Clone, Debug)]
pub struct Etcdctl {
    endpoints: Vec<String>,
    tls: Option<ClientTls>,
    global_args: Vec<String>,
    timeout: Duration,
}

impl Etcdctl {
    pub fn new(endpoints: Vec<String>) -> Etcdctl {
        Etcdctl {
            endpoints,
            tls: None,
            global_args: Vec::new(),
            // etcdctl's own command timeout is 5s and its dial timeout 2s; the wall-clock limit
            // only catches a hung client, so it sits well above both.
            timeout: Duration::from_secs(20),
        }
    }

    pub fn with_tls(mut self, tls: Option<ClientTls>) -> Etcdctl {
        self.tls = tls;
        self
    }

    /// Adds global flags such as `--command-timeout=1s`.
    pub fn with_global_args(mut self, args: &[&str]) -> Etcdctl {
        self.global_args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    fn command(&self, args: &[String]) -> Command {
        let mut cmd = Command::new(ETCDCTL);
        cmd.env("ETCDCTL_API", "3");
        // A repeated --endpoints flag appends rather than replaces, so it is passed exactly once.
        cmd.arg(format!("--endpoints={}", self.endpoints.join(",")));
        if let Some(tls) = &self.tls {
            cmd.arg(format!("--cacert={}", tls.ca.display()));
            if let Some((cert, key)) = &tls.identity {
                cmd.arg(format!("--cert={}", cert.display()));
                cmd.arg(format!("--key={}", key.display()));
            }
        }
        cmd.args(&self.global_args);
        cmd.args(args);
        cmd
    }

    /// Runs etcdctl to completion. An error means etcdctl could not be run or hung past the limit;
    /// a failing etcdctl is an `Output` with a non-zero code.
    pub fn run(&self, args: &[&str]) -> Result<Output> {
        self.run_owned(&strings(args), None)
    }

    pub fn run_owned(&self, args: &[String], stdin: Option<&str>) -> Result<Output> {
        let mut cmd = self.command(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = spawn_piped(&mut cmd)?;
        let stdout = collect(child.stdout.take());
        let stderr = collect(child.stderr.take());
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())
                .context("writing etcdctl's stdin")?;
            // Dropping the pipe closes it, which tells etcdctl the input is complete.
        }
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "etcdctl {} did not finish within {:?}",
                    args.join(" "),
                    self.timeout
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Ok(Output {
            code: status.code(),
            stdout: finish(stdout),
            stderr: finish(stderr),
        })
    }

    /// Re-runs a command until `done` holds for its output, and returns that output.
    pub fn poll_until(
        &self,
        args: &[&str],
        limit: Duration,
        done: impl Fn(&Output) -> bool,
    ) -> Result<Output> {
        let deadline = Instant::now() + limit;
        loop {
            let out = self.run(args)?;
            if done(&out) {
                return Ok(out);
            }
            if Instant::now() > deadline {
                bail!(
                    "etcdctl {} did not reach the expected state within {limit:?}; last run: {out}",
                    args.join(" ")
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Starts a long-running command such as `watch` whose output is gathered while it runs.
    pub fn spawn(&self, args: &[String]) -> Result<Background> {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::null());
        let mut child = spawn_piped(&mut cmd)?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let reader = stream_into(child.stdout.take(), stdout.clone());
        let stderr = collect(child.stderr.take());
        Ok(Background {
            what: args.join(" "),
            child,
            stdout,
            reader: Some(reader),
            stderr: Some(stderr),
        })
    }
}

/// A running etcdctl whose stdout is captured as it arrives. Killed when dropped.
pub struct Background {
    what: String,
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Background {
    pub fn stdout_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().expect("stdout buffer")).into_owned()
    }

    /// Waits until the output so far contains `needle`.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        while !self.stdout_so_far().contains(needle) {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "etcdctl {} exited ({status}) before printing {needle:?}; it printed:\n{}",
                    self.what,
                    self.stdout_so_far()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "etcdctl {} did not print {needle:?} within {limit:?}; it printed:\n{}",
                    self.what,
                    self.stdout_so_far()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        Ok(())
    }

    /// Kills the command and returns everything it printed.
    pub fn stop(mut self) -> Output {
        let _ = self.child.kill();
        let status = self.child.wait().ok();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let stderr = self.stderr.take().map(finish).unwrap_or_default();
        Output {
            code: status.and_then(|s| s.code()),
            stdout: self.stdout_so_far(),
            stderr,
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn spawn_piped(cmd: &mut Command) -> Result<Child> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().with_context(|| {
        format!(
            "running {ETCDCTL}; is it installed? (`apt-get install -y etcd-server etcd-client`)"
        )
    })
}

/// Reads a pipe to its end on a thread, so a chatty child never blocks on a full pipe.
fn collect(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}

fn finish(handle: JoinHandle<Vec<u8>>) -> String {
    String::from_utf8_lossy(&handle.join().unwrap_or_default()).into_owned()
}

fn stream_into(pipe: Option<ChildStdout>, sink: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let Some(mut pipe) = pipe else { return };
        let mut chunk = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut chunk) {
            if n == 0 {
                break;
            }
            sink.lock()
                .expect("stdout buffer")
                .extend_from_slice(&chunk[..n]);
        }
    })
}
