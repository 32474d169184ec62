//! One exec session over an upgraded connection: runs the command as a host program in the
//! container's environment, pumps the channels, and ends with the Status on the error channel
//! and a normal WebSocket close.

use std::process::{ExitStatus, Stdio};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::handshake::Protocol;
use super::options::StreamOptions;
use super::protocol::{self, Inbound};
use super::tty::{self, LineDiscipline};
use crate::target::ContainerTarget;

/// The PATH a container gets when its environment has none (what container runtimes default to).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// How long the client may take to answer our close before the connection is dropped.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);
/// The read size of the process's output.
const CHUNK: usize = 32 * 1024;

/// A WebSocket of one session, over whatever connection it was upgraded from.
pub(crate) type Socket<S> = WebSocketStream<S>;

/// Whether `command` is the `hostname` builtin. The process runtime gives a container no UTS
/// namespace, so the host's `hostname` program would print the machine's name; a bare
/// `hostname` prints the pod's name instead, as it would inside the pod.
pub(crate) fn is_hostname_builtin(command: &[String]) -> bool {
    matches!(command, [only] if only == "hostname")
}

/// The Status for how the command ended: 128 + the signal for a killed one, as shells and
/// container runtimes report it.
pub(crate) fn outcome(status: ExitStatus) -> Value {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => protocol::success(),
        (Some(code), _) => protocol::exit_failure(code),
        (None, Some(signal)) => protocol::exit_failure(128 + signal),
        (None, None) => protocol::exit_failure(1),
    }
}

/// Sends a whole Status on the error channel, then closes the WebSocket normally.
pub(crate) async fn finish<S>(socket: &mut Socket<S>, status: &Value)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let message = protocol::frame(protocol::ERROR, status.to_string().as_bytes());
    let _ = socket.send(Message::Binary(message.into())).await;
    let close = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    if socket.close(Some(close)).await.is_err() {
        return;
    }
    // Read until the client answers the close (or goes), so the close is clean on both sides.
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
}

/// The empty message on the lowest channel the client reads, which tells older clients the
/// streams are ready (the kubelet sends it too).
fn ready_channel(options: &StreamOptions) -> u8 {
    if options.stdout {
        protocol::STDOUT
    } else if options.stderr {
        protocol::STDERR
    } else {
        protocol::ERROR
    }
}

fn command_for(options: &StreamOptions, target: &ContainerTarget) -> Command {
    let mut command = Command::new(&options.command[0]);
    command
        .args(&options.command[1..])
        .env_clear()
        .envs(target.env.iter().map(|(k, v)| (k, v)))
        .env("HOSTNAME", &target.hostname)
        .current_dir(&target.workdir)
        .stdin(if options.stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(if options.stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        // With a tty, stderr shares the terminal's one output.
        .stderr(if options.stderr || (options.tty && options.stdout) {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        // A client that goes away takes its command with it.
        .kill_on_drop(true);
    if !target.env.iter().any(|(k, _)| k == "PATH") {
        command.env("PATH", DEFAULT_PATH);
    }
    command
}

/// Copies one output of the process to `out`, tagged with its channel, until it ends.
async fn pump_output(
    mut from: impl AsyncRead + Unpin,
    channel: u8,
    out: mpsc::Sender<(u8, Bytes)>,
) {
    let mut buffer = vec![0u8; CHUNK];
    loop {
        match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if out
                    .send((channel, Bytes::copy_from_slice(&buffer[..n])))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Writes what the client types to the process's stdin; dropping the sender closes it.
async fn pump_input(mut to: tokio::process::ChildStdin, mut input: mpsc::Receiver<Vec<u8>>) {
    while let Some(chunk) = input.recv().await {
        if to.write_all(&chunk).await.is_err() || to.flush().await.is_err() {
            return;
        }
    }
}

/// Runs `options.command` for the client on `socket` and reports how it ended.
pub(crate) async fn exec<S>(
    mut socket: Socket<S>,
    protocol: Protocol,
    options: StreamOptions,
    target: ContainerTarget,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let ready = protocol::frame(ready_channel(&options), &[]);
    if socket.send(Message::Binary(ready.into())).await.is_err() {
        return;
    }
    if is_hostname_builtin(&options.command) {
        if options.stdout {
            let line = format!("{}\n", target.hostname);
            let line = if options.tty {
                tty::output(line.as_bytes())
            } else {
                line.into_bytes()
            };
            let message = protocol::frame(protocol::STDOUT, &line);
            let _ = socket.send(Message::Binary(message.into())).await;
        }
        finish(&mut socket, &protocol::success()).await;
        return;
    }
    if !target.workdir.is_dir() {
        let why = format!(
            "chdir to cwd ({:?}) failed: no such directory",
            target.workdir
        );
        finish(&mut socket, &protocol::internal_error(&why)).await;
        return;
    }
    let mut child = match command_for(&options, &target).spawn() {
        Ok(child) => child,
        Err(e) => {
            let why = protocol::spawn_failure(&options.command[0], &e);
            finish(&mut socket, &protocol::internal_error(&why)).await;
            return;
        }
    };
    tracing::debug!(target: "kubelet", command = ?options.command, pod = %target.hostname, "exec started");
    let status = run(&mut socket, &mut child, protocol, &options).await;
    match status {
        Some(status) => finish(&mut socket, &outcome(status)).await,
        // The client went away: the command is killed as `child` drops.
        None => {
            tracing::debug!(target: "kubelet", command = ?options.command, "exec client went away")
        }
    }
}

/// Pumps the channels until the process has exited and its output is all sent; `None` when the
/// client went away first.
async fn run<S>(
    socket: &mut Socket<S>,
    child: &mut Child,
    protocol: Protocol,
    options: &StreamOptions,
) -> Option<ExitStatus>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Output of both streams, in the order it is read; the stream ends when both pipes close.
    let (out_tx, mut out_rx) = mpsc::channel::<(u8, Bytes)>(16);
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(pump_output(stdout, protocol::STDOUT, out_tx.clone()));
    }
    if let Some(stderr) = child.stderr.take() {
        let channel = if options.tty {
            protocol::STDOUT
        } else {
            protocol::STDERR
        };
        tokio::spawn(pump_output(stderr, channel, out_tx.clone()));
    }
    drop(out_tx);
    let mut stdin = child.stdin.take().map(|to| {
        let (tx, rx) = mpsc::channel::<Vec<u8>>(16);
        tokio::spawn(pump_input(to, rx));
        tx
    });
    let mut discipline = options.tty.then(LineDiscipline::default);
    let mut output_open = true;
    let mut exited = None;
    loop {
        if let (false, Some(status)) = (output_open, exited) {
            return Some(status);
        }
        let mut interrupt = false;
        tokio::select! {
            message = socket.next() => {
                let data = match message {
                    Some(Ok(Message::Binary(data))) => data,
                    // Pings are answered by the WebSocket itself; text is not this protocol.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Text(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
                };
                match protocol::decode(&data, protocol) {
                    Inbound::Stdin(bytes) => {
                        let bytes = match discipline.as_mut() {
                            Some(discipline) => {
                                let effects = discipline.input(&bytes);
                                if !effects.echo.is_empty() {
                                    let echo = protocol::frame(protocol::STDOUT, &effects.echo);
                                    if socket.send(Message::Binary(echo.into())).await.is_err() {
                                        return None;
                                    }
                                }
                                interrupt = effects.interrupt;
                                if effects.end_of_input {
                                    stdin = None;
                                }
                                effects.to_process
                            }
                            None => bytes,
                        };
                        if let Some(stdin_tx) = &stdin
                            && !bytes.is_empty()
                            && stdin_tx.send(bytes).await.is_err()
                        {
                            stdin = None;
                        }
                    }
                    Inbound::StdinClosed => stdin = None,
                    Inbound::Resize { width, height } => {
                        tracing::trace!(target: "kubelet", width, height, "terminal resize (no pty to resize)");
                    }
                    Inbound::Ignored => {}
                }
            }
            chunk = out_rx.recv(), if output_open => match chunk {
                Some((channel, bytes)) => {
                    let bytes = if options.tty { tty::output(&bytes) } else { bytes.to_vec() };
                    let message = protocol::frame(channel, &bytes);
                    if socket.send(Message::Binary(message.into())).await.is_err() {
                        return None;
                    }
                }
                None => output_open = false,
            },
            status = child.wait(), if exited.is_none() => match status {
                Ok(status) => exited = Some(status),
                // The process cannot be waited for: report it as failed rather than hang.
                Err(_) => return Some(std::os::unix::process::ExitStatusExt::from_raw(1 << 8)),
            },
        }
        if interrupt {
            let _ = child.start_kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn only_a_bare_hostname_is_the_builtin() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(is_hostname_builtin(&words(&["hostname"])));
        assert!(!is_hostname_builtin(&words(&["hostname", "-f"])));
        assert!(!is_hostname_builtin(&words(&["/bin/hostname"])));
        assert!(!is_hostname_builtin(&words(&["sh", "-c", "hostname"])));
    }

    #[test]
    fn outcomes() {
        // Raw wait statuses: exit code in the high byte, signal in the low bits.
        let cases = [
            (0, protocol::success()),
            (3 << 8, protocol::exit_failure(3)),
            (9, protocol::exit_failure(137)),
            (15, protocol::exit_failure(143)),
        ];
        for (raw, expected) in cases {
            assert_eq!(outcome(ExitStatus::from_raw(raw)), expected, "{raw}");
        }
    }
}
