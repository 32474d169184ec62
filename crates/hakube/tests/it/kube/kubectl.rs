//! Runs the real kubectl against a test API server as one kubeconfig context: one-shot commands
//! with a deadline (with stdin and environment when asked), and background commands such as
//! watches whose output is collected while they run.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::etcdctl::{Output, POLL_INTERVAL};

/// The kubectl the tests use. On this machine it is the Cloud SDK's dispatcher, which asks the
/// server for its version and then runs the kubectl of the same minor release.
pub const KUBECTL: &str = "/usr/bin/kubectl";

/// How many lines of the API server's log an error shows.
const LOG_TAIL: usize = 40;

/// A kubectl invocation template: kubeconfig, context, environment and a wall-clock limit.
#[derive(Clone, Debug)]
pub struct Kubectl {
    kubeconfig: PathBuf,
    context: String,
    /// kubectl's discovery and HTTP caches, and its home, kept inside the test's temp dir so
    /// that a server once seen at the same address in an earlier run is never remembered.
    home: PathBuf,
    env: Vec<(String, String)>,
    /// The API server's log; failures show its tail.
    server_log: PathBuf,
    timeout: Duration,
}

impl Kubectl {
    pub fn new(kubeconfig: &Path, context: &str, home: &Path, server_log: &Path) -> Kubectl {
        Kubectl {
            kubeconfig: kubeconfig.to_path_buf(),
            context: context.to_string(),
            home: home.to_path_buf(),
            env: Vec::new(),
            server_log: server_log.to_path_buf(),
            // Well above anything a healthy server needs, even `explain`, which downloads the
            // OpenAPI documents; it only catches a hung command.
            timeout: Duration::from_secs(60),
        }
    }

    /// Sets an environment variable for every run, e.g. `EDITOR` for `kubectl edit`.
    pub fn with_env(mut self, key: &str, value: &str) -> Kubectl {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(KUBECTL);
        // Only what the test sets may steer kubectl, not the environment of whoever runs it.
        for var in [
            "KUBECONFIG",
            "KUBE_EDITOR",
            "EDITOR",
            "KUBECTL_EXTERNAL_DIFF",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HOME", &self.home);
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd.arg(format!("--kubeconfig={}", self.kubeconfig.display()));
        cmd.arg(format!("--context={}", self.context));
        cmd.arg(format!("--cache-dir={}", self.home.join("cache").display()));
        cmd.args(args);
        cmd
    }

    fn describe(&self, args: &[&str]) -> String {
        format!("kubectl --context={} {}", self.context, args.join(" "))
    }

    /// Runs kubectl to completion, whatever its exit code. An error means kubectl could not be
    /// run or hung past the limit.
    pub fn run(&self, args: &[&str]) -> Result<Output> {
        self.run_with_stdin(args, None)
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Result<Output> {
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
                .context("writing kubectl's stdin")?;
            // Dropping the pipe closes it, which tells kubectl the input is complete.
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
                    "{} did not finish within {:?}; {}",
                    self.describe(args),
                    self.timeout,
                    self.server_log_tail()
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

    /// Runs kubectl and requires it to succeed; the error shows all it printed and the end of
    /// the API server's log.
    pub fn ok(&self, args: &[&str]) -> Result<Output> {
        self.ok_with_stdin(args, None)
    }

    pub fn ok_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Result<Output> {
        let out = self.run_with_stdin(args, stdin)?;
        if !out.success() {
            bail!(
                "{} failed: {out}{}",
                self.describe(args),
                self.server_log_tail()
            );
        }
        Ok(out)
    }

    /// Runs kubectl, requires it to succeed, and requires its stdout to be exactly `stdout`.
    pub fn expect(&self, args: &[&str], stdout: &str) -> Result<Output> {
        self.expect_with_stdin(args, None, stdout)
    }

    pub fn expect_with_stdin(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        stdout: &str,
    ) -> Result<Output> {
        let out = self.ok_with_stdin(args, stdin)?;
        if out.stdout != stdout {
            bail!(
                "{} should print {stdout:?}, but: {out}",
                self.describe(args)
            );
        }
        Ok(out)
    }

    /// Runs kubectl and requires it to fail; returns what it printed.
    pub fn fails(&self, args: &[&str]) -> Result<Output> {
        let out = self.run(args)?;
        if out.success() {
            bail!(
                "{} should have failed but succeeded: {out}",
                self.describe(args)
            );
        }
        Ok(out)
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
                    "{} did not reach the expected state within {limit:?}; last run: {out}{}",
                    self.describe(args),
                    self.server_log_tail()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Starts a long-running command such as `get -w` whose output is gathered while it runs.
    pub fn spawn(&self, args: &[&str]) -> Result<Background> {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::null());
        let mut child = spawn_piped(&mut cmd)?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let reader = stream_into(child.stdout.take(), stdout.clone());
        let stderr = collect(child.stderr.take());
        Ok(Background {
            what: self.describe(args),
            child,
            stdout,
            reader: Some(reader),
            stderr: Some(stderr),
            server_log: self.server_log.clone(),
        })
    }

    pub fn server_log_tail(&self) -> String {
        server_log_tail(&self.server_log)
    }
}

fn server_log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    format!(
        "\n--- API server log ({}), last {LOG_TAIL} lines\n{}\n",
        log.display(),
        lines[lines.len().saturating_sub(LOG_TAIL)..].join("\n")
    )
}

/// A running kubectl whose stdout is captured as it arrives. Killed when dropped.
pub struct Background {
    what: String,
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    server_log: PathBuf,
}

impl Background {
    pub fn stdout_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().expect("stdout buffer")).into_owned()
    }

    /// Waits until `done` holds for the output so far. `what` names the awaited condition.
    pub fn wait_until(
        &mut self,
        what: &str,
        limit: Duration,
        done: impl Fn(&str) -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + limit;
        while !done(&self.stdout_so_far()) {
            if let Some(status) = self.child.try_wait()? {
                // The pipes are closed now, so stderr can be read to its end.
                let stderr = self.stderr.take().map(finish).unwrap_or_default();
                bail!(
                    "{} exited ({status}) before {what}; it printed:\n{}--- stderr\n{stderr}{}",
                    self.what,
                    self.stdout_so_far(),
                    server_log_tail(&self.server_log)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not show {what} within {limit:?}; it printed:\n{}{}",
                    self.what,
                    self.stdout_so_far(),
                    server_log_tail(&self.server_log)
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

fn spawn_piped(cmd: &mut Command) -> Result<Child> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn()
        .with_context(|| format!("running {KUBECTL}; is kubectl installed?"))
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

fn stream_into(
    pipe: Option<impl Read + Send + 'static>,
    sink: Arc<Mutex<Vec<u8>>>,
) -> JoinHandle<()> {
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
