//! Runs one port-forward SPDY connection over an upgraded HTTP connection: plain (`Upgrade:
//! SPDY/3.1`) or tunneled in WebSocket binary messages (`SPDY/3.1+portforward.k8s.io`, whose
//! messages concatenate into the same byte stream).
//!
//! The driver reads frames and carries out the session's commands; a writer task owns the
//! outgoing compression context and writes every frame, the session's and the forwards'.
//! Flow control: this side gives window back as data arrives (WINDOW_UPDATE), so a peer that
//! enforces windows never stalls, but does not wait for window before sending, because
//! kubectl's SPDY library (spdystream) never sends WINDOW_UPDATE and enforces nothing; waiting
//! would stall every forward after 64 KiB. Backpressure comes from the transport instead: a
//! slow client fills the writer's queue, a slow pod stops the reading of frames, as with
//! spdystream.

use std::collections::HashMap;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::compression::HeaderCompressor;
use super::forward::{Forward, Target};
use super::frame::{Frame, FrameReader, encode, goaway};
use super::session::{Command, PairId, Session};

/// Frames waiting for the writer; a full queue holds back the forwards' reads from pods.
const FRAME_QUEUE: usize = 16;

/// Chunks of client data waiting for one pod socket; a full queue holds back frame reading.
const INPUT_QUEUE: usize = 8;

/// The most bytes read from the transport at once.
const READ_CHUNK: usize = 32 * 1024;

/// The most bytes written to the transport (or put in one WebSocket message) at once.
const WRITE_BATCH: usize = 64 * 1024;

/// A connection with no frame either way for this long is closed (the kubelet's default
/// streaming connection idle timeout).
const IDLE_TIMEOUT: Duration = Duration::from_secs(4 * 60 * 60);

/// How often pair timeouts and idleness are checked.
const TICK: Duration = Duration::from_secs(1);

/// How long the writer may take to flush a last GOAWAY once the connection ends.
const WRITER_GRACE: Duration = Duration::from_secs(5);

/// Serves SPDY/3.1 on a plain upgraded connection.
pub(crate) async fn serve_spdy<T>(io: T, target: Arc<Target>)
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let (read, write) = tokio::io::split(io);
    let incoming = futures::stream::unfold(read, |mut read| async move {
        let mut buffer = vec![0u8; READ_CHUNK];
        match read.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok(Bytes::from(buffer)), read))
            }
            Err(e) => Some((Err(e), read)),
        }
    });
    // TLS buffers what is written until a flush.
    let outgoing = futures::sink::unfold(write, |mut write, bytes: Bytes| async move {
        write.write_all(&bytes).await?;
        write.flush().await?;
        Ok::<_, io::Error>(write)
    });
    drive(incoming, outgoing, target).await;
}

/// Serves SPDY/3.1 tunneled in the binary messages of a WebSocket.
pub(crate) async fn serve_tunnel<T>(websocket: WebSocketStream<T>, target: Arc<Target>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sink, stream) = websocket.split();
    let incoming = stream.filter_map(|message| {
        std::future::ready(match message {
            Ok(Message::Binary(bytes)) => Some(Ok(bytes)),
            // kubectl's tunnel refuses anything but binary messages, and so does this side.
            Ok(Message::Text(_)) => Some(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a text message in a SPDY tunnel",
            ))),
            // Pings are answered by the WebSocket layer; a close ends the stream after it.
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_)) => None,
            Err(e) => Some(Err(io::Error::other(e))),
        })
    });
    let outgoing = futures::sink::unfold(sink, |mut sink, bytes: Bytes| async move {
        sink.send(Message::Binary(bytes))
            .await
            .map_err(io::Error::other)?;
        Ok::<_, io::Error>(sink)
    });
    drive(incoming, outgoing, target).await;
}

/// A running forward, as the driver sees it.
struct ForwardHandle {
    /// Dropped when the client half-closes.
    input: Option<mpsc::Sender<Bytes>>,
    abort: Option<oneshot::Sender<bool>>,
    task: JoinHandle<()>,
}

/// What woke the driver.
enum Wake {
    Read(Option<io::Result<Bytes>>),
    Finished(PairId),
    Tick,
}

/// Why a connection ended.
enum End {
    Closed,
    ReadFailed(io::Error),
    Protocol(String),
    WriterGone,
    Idle,
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Closed => f.write_str("closed by the client"),
            End::ReadFailed(e) => write!(f, "read failed: {e}"),
            End::Protocol(e) => write!(f, "protocol error: {e}"),
            End::WriterGone => f.write_str("write failed"),
            End::Idle => f.write_str("idle timeout"),
        }
    }
}

struct Driver {
    session: Session,
    forwards: HashMap<PairId, ForwardHandle>,
    frames: mpsc::Sender<Frame>,
    done: mpsc::UnboundedSender<PairId>,
    target: Arc<Target>,
}

impl Driver {
    /// Carries out the session's commands; false once the writer is gone.
    async fn execute(&mut self, commands: Vec<Command>) -> bool {
        for command in commands {
            match command {
                Command::Send(frame) => {
                    if self.frames.send(frame).await.is_err() {
                        return false;
                    }
                }
                Command::Start {
                    pair,
                    port,
                    data,
                    error,
                } => {
                    let (input, input_rx) = mpsc::channel(INPUT_QUEUE);
                    let (abort, abort_rx) = oneshot::channel();
                    let forward = Forward {
                        pair,
                        port,
                        data,
                        error,
                        target: self.target.clone(),
                        input: input_rx,
                        abort: abort_rx,
                        frames: self.frames.clone(),
                        done: self.done.clone(),
                    };
                    let task = tokio::spawn(forward.run());
                    self.forwards.insert(
                        pair,
                        ForwardHandle {
                            input: Some(input),
                            abort: Some(abort),
                            task,
                        },
                    );
                }
                Command::Deliver { pair, data } => {
                    let input = self.forwards.get(&pair).and_then(|f| f.input.clone());
                    if let Some(input) = input {
                        // A forward that ended dropped its receiver; its data has nowhere to go.
                        let _ = input.send(data).await;
                    }
                }
                Command::FinishInput { pair } => {
                    if let Some(forward) = self.forwards.get_mut(&pair) {
                        forward.input = None;
                    }
                }
                Command::Abort { pair, close_error } => {
                    if let Some(abort) = self.forwards.get_mut(&pair).and_then(|f| f.abort.take()) {
                        let _ = abort.send(close_error);
                    }
                }
            }
        }
        true
    }
}

/// Runs the connection until the client closes it, it breaks the protocol, or it idles out.
async fn drive<I, O>(incoming: I, outgoing: O, target: Arc<Target>)
where
    I: Stream<Item = io::Result<Bytes>>,
    O: Sink<Bytes, Error = io::Error> + Send + 'static,
{
    let mut incoming = pin!(incoming);
    let started = Instant::now();
    let last_write = Arc::new(AtomicU64::new(0));
    let (frames, frames_rx) = mpsc::channel(FRAME_QUEUE);
    let writer = tokio::spawn(write_frames(
        frames_rx,
        outgoing,
        last_write.clone(),
        started,
    ));
    let (done, mut done_rx) = mpsc::unbounded_channel();
    let mut driver = Driver {
        session: Session::default(),
        forwards: HashMap::new(),
        frames,
        done,
        target: target.clone(),
    };
    let mut reader = FrameReader::default();
    let mut last_read = started;
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    let end = 'connection: loop {
        let wake = tokio::select! {
            chunk = incoming.next() => Wake::Read(chunk),
            Some(pair) = done_rx.recv() => Wake::Finished(pair),
            _ = ticks.tick() => Wake::Tick,
        };
        match wake {
            Wake::Read(None) => break End::Closed,
            Wake::Read(Some(Err(e))) => break End::ReadFailed(e),
            Wake::Read(Some(Ok(bytes))) => {
                last_read = Instant::now();
                reader.push(&bytes);
                loop {
                    let frame = match reader.next_frame() {
                        Ok(Some(frame)) => frame,
                        Ok(None) => break,
                        Err(e) => {
                            let goaway = Frame::GoAway {
                                last_good: 0,
                                status: goaway::PROTOCOL_ERROR,
                            };
                            let _ = driver.frames.send(goaway).await;
                            break 'connection End::Protocol(e.to_string());
                        }
                    };
                    let commands = driver.session.on_frame(frame, Instant::now());
                    if !driver.execute(commands).await {
                        break 'connection End::WriterGone;
                    }
                }
            }
            Wake::Finished(pair) => {
                driver.forwards.remove(&pair);
                driver.session.on_finished(pair);
            }
            Wake::Tick => {
                let now = Instant::now();
                let commands = driver.session.on_tick(now);
                if !driver.execute(commands).await {
                    break End::WriterGone;
                }
                let wrote = started + Duration::from_millis(last_write.load(Ordering::Relaxed));
                if now.saturating_duration_since(last_read.max(wrote)) >= IDLE_TIMEOUT {
                    let goaway = Frame::GoAway {
                        last_good: 0,
                        status: goaway::OK,
                    };
                    let _ = driver.frames.send(goaway).await;
                    break End::Idle;
                }
            }
        }
    };
    tracing::debug!(target: "kubelet", pod = %target.desc, %end, pairs = driver.session.pairs(), "port-forward connection ended");

    // Stop the forwards; once they and the driver let go of the queue, the writer flushes what
    // is left (a GOAWAY) and ends.
    for (_, forward) in driver.forwards.drain() {
        forward.task.abort();
    }
    drop(driver);
    let mut writer = writer;
    if tokio::time::timeout(WRITER_GRACE, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

/// Writes frames as they come, batching what is queued into one write (or one message).
async fn write_frames<O>(
    mut frames: mpsc::Receiver<Frame>,
    outgoing: O,
    last_write: Arc<AtomicU64>,
    started: Instant,
) where
    O: Sink<Bytes, Error = io::Error>,
{
    let mut outgoing = pin!(outgoing);
    let mut compressor = HeaderCompressor::default();
    let mut batch = BytesMut::new();
    while let Some(frame) = frames.recv().await {
        encode(&frame, &mut compressor, &mut batch);
        while batch.len() < WRITE_BATCH {
            match frames.try_recv() {
                Ok(frame) => encode(&frame, &mut compressor, &mut batch),
                Err(_) => break,
            }
        }
        if let Err(e) = outgoing.send(batch.split().freeze()).await {
            tracing::debug!(target: "kubelet", error = %e, "port-forward write failed");
            return;
        }
        let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        last_write.store(elapsed, Ordering::Relaxed);
    }
    let _ = outgoing.close().await;
}
