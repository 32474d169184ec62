//! One forwarded connection: dials the pod's port over TCP and copies bytes both ways between
//! the socket and the pair's data stream. A failure reaches the client as text on the error
//! stream, worded like the kubelet's: kubectl 1.32 prints it and gives up the whole forward.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::frame::{FLAG_FIN, Frame, StreamId};
use super::session::PairId;

/// How long dialing the pod may take. Pod IPs are local, so this only bounds a black hole.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most read from the pod at once, hence the largest data frame sent.
const READ_BUFFER: usize = 32 * 1024;

/// After the pod closes its side, how long the client's side may still run before the forward
/// ends (what containerd gives the other direction, as socat does).
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The pod a connection forwards to.
#[derive(Debug)]
pub(crate) struct Target {
    pub ip: Ipv4Addr,
    /// How errors name the pod, e.g. `default/web-0`.
    pub desc: String,
}

/// A started pair, ready to run.
#[derive(Debug)]
pub(crate) struct Forward {
    pub pair: PairId,
    pub port: u16,
    pub data: StreamId,
    pub error: StreamId,
    pub target: Arc<Target>,
    /// What the client sends for the pod; closed when the client half-closes.
    pub input: mpsc::Receiver<Bytes>,
    /// Fires when the client resets a stream; carries whether to close the error stream.
    pub abort: oneshot::Receiver<bool>,
    /// Frames for the client.
    pub frames: mpsc::Sender<Frame>,
    /// Told which pair ended.
    pub done: mpsc::UnboundedSender<PairId>,
}

/// How the copying ended.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// Both sides are done, or the pod went away with a reset the kubelet does not report.
    Finished { data_closed: bool },
    /// A failure to tell the client about.
    Failed { data_closed: bool, message: String },
}

impl Forward {
    /// Forwards until both sides are done, or the client resets a stream.
    pub(crate) async fn run(self) {
        let Forward {
            pair,
            port,
            data,
            error,
            target,
            input,
            mut abort,
            frames,
            done,
        } = self;
        let address = SocketAddrV4::new(target.ip, port);
        let ending = tokio::select! {
            // A reset client stream ends everything at once; unsent data is dropped.
            close_error = &mut abort => Err(close_error.unwrap_or(true)),
            ending = copy(address, data, input, &frames) => Ok(ending),
        };
        let send = |stream, flags, bytes: Bytes| {
            frames.send(Frame::Data {
                stream,
                flags,
                data: bytes,
            })
        };
        match ending {
            Err(close_error) => {
                if close_error {
                    let _ = send(error, FLAG_FIN, Bytes::new()).await;
                }
            }
            Ok(ending) => {
                let data_closed = match ending {
                    Ending::Finished { data_closed } => data_closed,
                    Ending::Failed {
                        data_closed,
                        message,
                    } => {
                        let message = format!(
                            "error forwarding port {port} to pod {}, uid : {message}",
                            target.desc
                        );
                        tracing::debug!(target: "kubelet", %message, "port-forward failed");
                        let _ = send(error, 0, Bytes::from(message)).await;
                        data_closed
                    }
                };
                // The kubelet closes the error stream first, then the data stream.
                let _ = send(error, FLAG_FIN, Bytes::new()).await;
                if !data_closed {
                    let _ = send(data, FLAG_FIN, Bytes::new()).await;
                }
            }
        }
        let _ = done.send(pair);
    }
}

/// Dials the pod and copies both ways.
async fn copy(
    address: SocketAddrV4,
    data: StreamId,
    mut input: mpsc::Receiver<Bytes>,
    frames: &mpsc::Sender<Frame>,
) -> Ending {
    let socket = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await {
        Ok(Ok(socket)) => socket,
        Ok(Err(e)) => {
            return Ending::Failed {
                data_closed: false,
                message: format!("dial tcp {address}: connect: {}", reason(&e)),
            };
        }
        Err(_) => {
            return Ending::Failed {
                data_closed: false,
                message: format!("dial tcp {address}: i/o timeout"),
            };
        }
    };
    let _ = socket.set_nodelay(true);
    let (mut from_pod, mut to_pod) = socket.into_split();

    let upload = async {
        while let Some(bytes) = input.recv().await {
            to_pod.write_all(&bytes).await.map_err(|e| ("write", e))?;
        }
        // The client half-closed: so does the pod's socket.
        to_pod.shutdown().await.map_err(|e| ("write", e))
    };
    let download = async {
        let mut buffer = vec![0u8; READ_BUFFER];
        loop {
            let n = from_pod.read(&mut buffer).await.map_err(|e| ("read", e))?;
            let (flags, bytes) = match n {
                0 => (FLAG_FIN, Bytes::new()),
                n => (0, Bytes::copy_from_slice(&buffer[..n])),
            };
            let frame = Frame::Data {
                stream: data,
                flags,
                data: bytes,
            };
            // The connection is gone when its writer is: nothing more to do.
            if frames.send(frame).await.is_err() || n == 0 {
                return Ok(());
            }
        }
    };
    let mut upload = pin!(upload);
    let mut download = pin!(download);

    tokio::select! {
        uploaded = &mut upload => match uploaded {
            // The client is done sending: the pod decides when the forward ends.
            Ok(()) => {
                let downloaded = download.await;
                let data_closed = downloaded.is_ok();
                ending(downloaded, data_closed, address)
            }
            Err(e) => ending(Err(e), false, address),
        },
        downloaded = &mut download => match downloaded {
            Err(e) => ending(Err(e), false, address),
            // The pod closed its side and the data stream has its FIN: the client gets a
            // moment to finish its side.
            Ok(()) => {
                let uploaded = tokio::time::timeout(CLOSE_GRACE, &mut upload)
                    .await
                    .unwrap_or(Ok(()));
                ending(uploaded, true, address)
            }
        },
    }
}

/// Turns a copy failure into an ending. A reset or broken pipe means the pod's side went away,
/// which later kubelets treat as the normal end of a forward rather than a failure to report
/// (and kubectl 1.32 would give up the whole port-forward on any report).
fn ending(
    result: Result<(), (&str, io::Error)>,
    data_closed: bool,
    address: SocketAddrV4,
) -> Ending {
    match result {
        Ok(()) => Ending::Finished { data_closed },
        Err((_, e))
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ) =>
        {
            tracing::debug!(target: "kubelet", %address, error = %e, "pod connection reset");
            Ending::Finished { data_closed }
        }
        Err((operation, e)) => Ending::Failed {
            data_closed,
            message: format!("{operation} tcp {address}: {}", reason(&e)),
        },
    }
}

/// An I/O error the way Go prints a system call's error: lowercase, without the errno.
fn reason(error: &io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error ") {
        Some(at) => &text[..at],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_like_go() {
        let cases = [
            (io::Error::from_raw_os_error(111), "connection refused"),
            (io::Error::from_raw_os_error(113), "no route to host"),
            (io::Error::other("Custom text"), "custom text"),
        ];
        for (error, expected) in cases {
            assert_eq!(reason(&error), expected);
        }
    }

    #[test]
    fn resets_end_quietly_and_other_failures_are_reported() {
        let address = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 80);
        let cases = [
            (
                Err(("write", io::Error::from(io::ErrorKind::BrokenPipe))),
                Ending::Finished { data_closed: true },
            ),
            (
                Err(("read", io::Error::from(io::ErrorKind::ConnectionReset))),
                Ending::Finished { data_closed: true },
            ),
            (
                Err(("read", io::Error::from_raw_os_error(110))),
                Ending::Failed {
                    data_closed: true,
                    message: "read tcp 127.0.0.1:80: connection timed out".to_string(),
                },
            ),
            (Ok(()), Ending::Finished { data_closed: true }),
        ];
        for (result, expected) in cases {
            assert_eq!(ending(result, true, address), expected);
        }
    }
}
