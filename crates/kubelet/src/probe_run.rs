//! Running probes: an HTTP GET (HTTPS without verifying the certificate, as the kubelet does), a
//! TCP connect, or a command in the container's environment, each within its timeout; and the
//! task that runs one probe of one container instance on its schedule and reports each result.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::image;
use crate::probe::{Action, ProbeKind, ProbeSpec};

/// At most this much of an exec probe's output is kept for the event message.
const MAX_OUTPUT: usize = 10 * 1024;

/// Where a container runs, as its probes need it.
#[derive(Debug, Clone)]
pub(crate) struct ProbeTarget {
    pub pod_ip: Ipv4Addr,
    pub image: String,
    pub env: Arc<Vec<(String, String)>>,
    pub workdir: PathBuf,
    pub runtime_exe: PathBuf,
    /// `kube-probe/<major.minor>`.
    pub user_agent: String,
}

/// Runs the probe on its schedule until aborted, reporting every result.
pub(crate) fn spawn(
    spec: ProbeSpec,
    target: Arc<ProbeTarget>,
    container_started: std::time::Instant,
    report: impl Fn(ProbeKind, Result<(), String>) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut due = spec.timing.first_run(container_started);
        loop {
            tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
            let ran = std::time::Instant::now();
            let result = run_once(&spec.action, &target, spec.timing.timeout).await;
            report(spec.kind, result);
            due = spec.timing.next_run(ran);
        }
    })
}

/// Runs a probe once: `Ok` if it passed, else why not.
pub(crate) async fn run_once(
    action: &Result<Action, String>,
    target: &ProbeTarget,
    timeout: Duration,
) -> Result<(), String> {
    let action = action.as_ref().map_err(Clone::clone)?;
    match action {
        Action::Http {
            https,
            host,
            port,
            path,
            headers,
        } => {
            let host = host.clone().unwrap_or_else(|| target.pod_ip.to_string());
            let scheme = if *https { "https" } else { "http" };
            let url = format!("{scheme}://{host}:{port}{path}");
            let get = http_get(*https, &host, *port, path, headers, &target.user_agent);
            match tokio::time::timeout(timeout, get).await {
                Err(_) => Err(format!(
                    "Get {url:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                )),
                Ok(Err(e)) => Err(format!("Get {url:?}: {e}")),
                Ok(Ok(code)) if (200..400).contains(&code) => Ok(()),
                Ok(Ok(code)) => Err(format!("HTTP probe failed with statuscode: {code}")),
            }
        }
        Action::Tcp { host, port } => {
            let host = host.clone().unwrap_or_else(|| target.pod_ip.to_string());
            match tokio::time::timeout(timeout, dial(&host, *port)).await {
                Err(_) => Err(format!("dial tcp {host}:{port}: i/o timeout")),
                Ok(Err(e)) => Err(e),
                Ok(Ok(_)) => Ok(()),
            }
        }
        Action::Exec { command } => exec(command, target, timeout).await,
        Action::Grpc { .. } => {
            Err("gRPC probes are not implemented by hakube's kubelet".to_string())
        }
    }
}

/// Connects, naming a failure as Go's dialer does.
async fn dial(host: &str, port: u16) -> Result<TcpStream, String> {
    TcpStream::connect((host, port)).await.map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "connect: connection refused".to_string(),
            _ => e.to_string(),
        };
        format!("dial tcp {host}:{port}: {why}")
    })
}

/// GETs a path and returns the response's status code.
async fn http_get(
    https: bool,
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
    user_agent: &str,
) -> Result<u16, String> {
    let stream = dial(host, port).await?;
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut request = format!("GET {path} HTTP/1.1\r\n");
    if !has("host") {
        request.push_str(&format!("Host: {host}:{port}\r\n"));
    }
    if !has("user-agent") {
        request.push_str(&format!("User-Agent: {user_agent}\r\n"));
    }
    if !has("accept") {
        request.push_str("Accept: */*\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    if https {
        let connector = tokio_rustls::TlsConnector::from(crate::probe_tls::client_config()?);
        let name =
            rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
        let tls = connector
            .connect(name, stream)
            .await
            .map_err(|e| e.to_string())?;
        exchange(tls, &request).await
    } else {
        exchange(stream, &request).await
    }
}

/// Sends the request and reads the status line.
async fn exchange(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    request: &str,
) -> Result<u16, String> {
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    status_code(&head).ok_or_else(|| "malformed HTTP response".to_string())
}

/// The code of an HTTP/1.x status line.
pub(crate) fn status_code(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

/// Runs a command in the container's environment; exit status 0 passes, else its output is the
/// failure.
async fn exec(command: &[String], target: &ProbeTarget, timeout: Duration) -> Result<(), String> {
    let argv = image::exec_argv(&target.image, command, &target.runtime_exe);
    let Some((program, args)) = argv.split_first() else {
        return Err("the exec probe has no command".to_string());
    };
    let child = tokio::process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(target.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&target.workdir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("exec: {program:?}: {e}"))?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => Err(format!("command {:?} timed out", command.join(" "))),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(output)) if output.status.success() => Ok(()),
        Ok(Ok(output)) => {
            let mut text = output.stdout;
            text.extend_from_slice(&output.stderr);
            text.truncate(MAX_OUTPUT);
            Err(String::from_utf8_lossy(&text).into_owned())
        }
    }
}

#[cfg(test)]
mod tests;
