//! The port-forward protocol (portforward.k8s.io) on one SPDY connection, as pure decisions:
//! frames and clock ticks in, [`Command`]s out. The connection driver carries them out.
//!
//! For each forwarded connection the client opens two streams with the same `requestID`: one
//! with `streamType: error`, then one with `streamType: data`, both naming the pod's `port`.
//! Once both are there the pair starts: the driver dials the pod and copies bytes between the
//! socket and the data stream, and reports a failure as text on the error stream. The rules
//! follow the kubelet's: each valid stream gets a SYN_REPLY at once, an invalid one a reset, and
//! a pair still missing a stream after 30 seconds is given up with a message.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::frame::{FLAG_FIN, FLAG_UNIDIRECTIONAL, Frame, StreamId, rst};
use super::headers::HeaderBlock;

/// Names a started pair for the driver.
pub(crate) type PairId = u64;

/// How long a pair may wait for its second stream (the kubelet's stream creation timeout).
pub(crate) const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

/// SPDY/3.1's initial flow-control window, for each stream and for the connection.
pub(crate) const INITIAL_WINDOW: u32 = 64 * 1024;

/// The most data held for a data stream whose error stream has not arrived yet. A client that
/// keeps to the flow-control window never gets near it.
const MAX_PENDING: usize = INITIAL_WINDOW as usize;

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Write a frame to the client.
    Send(Frame),
    /// Dial the pod's port and forward between it and `data`, reporting errors on `error`.
    Start {
        pair: PairId,
        port: u16,
        data: StreamId,
        error: StreamId,
    },
    /// Bytes the client sent for the pod.
    Deliver { pair: PairId, data: Bytes },
    /// The client will send nothing more for the pod: half-close the pod connection.
    FinishInput { pair: PairId },
    /// The client reset a stream of the pair: stop forwarding. With `close_error`, the error
    /// stream is still open and gets its FIN, which the client waits for.
    Abort { pair: PairId, close_error: bool },
}

/// The two kinds of stream of a pair (`streamType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamKind {
    Error,
    Data,
}

impl StreamKind {
    fn name(self) -> &'static str {
        match self {
            StreamKind::Error => "error",
            StreamKind::Data => "data",
        }
    }
}

/// What a valid SYN_STREAM asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamRequest {
    pub kind: StreamKind,
    pub port: u16,
    pub request: String,
}

/// Reads a new stream's headers the way the kubelet does. Without a `requestID` (clients
/// before 1.6) the id comes from the stream id: an error stream and the data stream opened
/// right after it get the same one.
pub(crate) fn stream_request(
    stream: StreamId,
    headers: &HeaderBlock,
) -> Result<StreamRequest, String> {
    let port = headers
        .get("port")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| "\"port\" header is required".to_string())?;
    let port = match port.parse::<u16>() {
        Ok(0) => return Err(format!("port \"{port}\" must be > 0")),
        Ok(n) => n,
        Err(e) => return Err(format!("unable to parse \"{port}\" as a port: {e}")),
    };
    let kind = match headers.get("streamType") {
        None | Some("") => return Err("\"streamType\" header is required".to_string()),
        Some("error") => StreamKind::Error,
        Some("data") => StreamKind::Data,
        Some(other) => return Err(format!("invalid stream type \"{other}\"")),
    };
    let request = match headers.get("requestID").filter(|r| !r.is_empty()) {
        Some(id) => id.to_string(),
        None if kind == StreamKind::Error => stream.to_string(),
        None => stream.saturating_sub(2).to_string(),
    };
    Ok(StreamRequest {
        kind,
        port,
        request,
    })
}

#[derive(Debug)]
struct StreamState {
    kind: StreamKind,
    pair: PairId,
    /// The client sent FIN.
    remote_closed: bool,
    /// Bytes received since the last WINDOW_UPDATE for this stream.
    unacknowledged: u32,
}

/// A pair still waiting for one of its streams.
#[derive(Debug)]
struct PendingPair {
    id: PairId,
    since: Instant,
    error: Option<StreamId>,
    data: Option<(StreamId, u16)>,
    /// What the client sent on the data stream before the pair started.
    buffered: Vec<Bytes>,
    buffered_len: usize,
    input_finished: bool,
}

#[derive(Debug)]
struct ActivePair {
    error: StreamId,
    data: StreamId,
}

/// One connection's port-forward state.
#[derive(Debug)]
pub(crate) struct Session {
    streams: HashMap<StreamId, StreamState>,
    /// By `requestID`.
    pending: HashMap<String, PendingPair>,
    active: HashMap<PairId, ActivePair>,
    next_pair: PairId,
    /// The lowest id the client's next stream may have: ids are odd and increase.
    next_client_stream: StreamId,
    going_away: bool,
    /// Bytes received on the connection since its last WINDOW_UPDATE.
    unacknowledged: u32,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            streams: HashMap::new(),
            pending: HashMap::new(),
            active: HashMap::new(),
            next_pair: 1,
            next_client_stream: 1,
            going_away: false,
            unacknowledged: 0,
        }
    }
}

impl Session {
    /// Pairs waiting for a stream plus pairs forwarding.
    pub(crate) fn pairs(&self) -> usize {
        self.pending.len() + self.active.len()
    }

    /// Handles a frame from the client.
    pub(crate) fn on_frame(&mut self, frame: Frame, now: Instant) -> Vec<Command> {
        let mut commands = Vec::new();
        match frame {
            Frame::SynStream {
                stream,
                flags,
                headers,
                ..
            } => self.on_syn_stream(stream, flags, &headers, now, &mut commands),
            Frame::Data {
                stream,
                flags,
                data,
            } => self.on_data(stream, flags, data, &mut commands),
            Frame::RstStream { stream, .. } => self.on_reset(stream, &mut commands),
            // Pings from the client have odd ids; even ones would answer pings of ours.
            Frame::Ping { id } if id % 2 == 1 => commands.push(Command::Send(Frame::Ping { id })),
            // The client closes: it opens no more streams, and ends the connection soon.
            Frame::GoAway { .. } => self.going_away = true,
            // The client's own flow-control window and settings are not enforced (see the
            // driver), SYN_REPLY answers streams this side never opens, and HEADERS carry
            // nothing port-forward uses: all were decoded, which keeps the compression context
            // in step, and are dropped.
            Frame::Ping { .. }
            | Frame::Settings { .. }
            | Frame::WindowUpdate { .. }
            | Frame::SynReply { .. }
            | Frame::Headers { .. }
            | Frame::Unknown { .. } => {}
        }
        commands
    }

    fn on_syn_stream(
        &mut self,
        stream: StreamId,
        flags: u8,
        headers: &HeaderBlock,
        now: Instant,
        commands: &mut Vec<Command>,
    ) {
        let reset = |status| Command::Send(Frame::RstStream { stream, status });
        if stream.is_multiple_of(2) || stream < self.next_client_stream {
            commands.push(reset(rst::PROTOCOL_ERROR));
            return;
        }
        self.next_client_stream = stream.saturating_add(2);
        // After the client's GOAWAY nothing new starts; a stream this side may not answer on
        // cannot carry the pod's bytes or an error.
        if self.going_away || flags & FLAG_UNIDIRECTIONAL != 0 {
            commands.push(reset(rst::REFUSED_STREAM));
            return;
        }
        let request = match stream_request(stream, headers) {
            Ok(request) => request,
            Err(reason) => {
                tracing::debug!(target: "kubelet", stream, %reason, "port-forward stream refused");
                commands.push(reset(rst::REFUSED_STREAM));
                return;
            }
        };
        commands.push(Command::Send(Frame::SynReply {
            stream,
            flags: 0,
            headers: HeaderBlock::default(),
        }));

        let next_pair = &mut self.next_pair;
        let pending = self
            .pending
            .entry(request.request.clone())
            .or_insert_with(|| {
                let id = *next_pair;
                *next_pair += 1;
                PendingPair {
                    id,
                    since: now,
                    error: None,
                    data: None,
                    buffered: Vec::new(),
                    buffered_len: 0,
                    input_finished: false,
                }
            });
        let taken = match request.kind {
            StreamKind::Error => pending.error.is_some(),
            StreamKind::Data => pending.data.is_some(),
        };
        if taken {
            // Like the kubelet, the extra stream stays answered but unused, and the client
            // hears why on the pair's error stream.
            if let Some(error) = pending.error {
                let message = format!(
                    "error processing stream for request {}: {} stream already assigned",
                    request.request,
                    request.kind.name()
                );
                commands.push(data(error, 0, message.into()));
            }
            return;
        }
        match request.kind {
            StreamKind::Error => pending.error = Some(stream),
            StreamKind::Data => pending.data = Some((stream, request.port)),
        }
        self.streams.insert(
            stream,
            StreamState {
                kind: request.kind,
                pair: pending.id,
                remote_closed: flags & FLAG_FIN != 0,
                unacknowledged: 0,
            },
        );
        if request.kind == StreamKind::Data && flags & FLAG_FIN != 0 {
            pending.input_finished = true;
        }
        if let (Some(error), Some((data, port))) = (pending.error, pending.data) {
            let Some(pending) = self.pending.remove(&request.request) else {
                return;
            };
            self.active.insert(pending.id, ActivePair { error, data });
            commands.push(Command::Start {
                pair: pending.id,
                port,
                data,
                error,
            });
            commands.extend(pending.buffered.into_iter().map(|data| Command::Deliver {
                pair: pending.id,
                data,
            }));
            if pending.input_finished {
                commands.push(Command::FinishInput { pair: pending.id });
            }
        }
    }

    fn on_data(&mut self, stream: StreamId, flags: u8, bytes: Bytes, commands: &mut Vec<Command>) {
        let len = bytes.len() as u32;
        // The connection's window covers every stream's data, known or not.
        if let Some(delta) = acknowledge(&mut self.unacknowledged, len) {
            commands.push(Command::Send(Frame::WindowUpdate { stream: 0, delta }));
        }
        let fin = flags & FLAG_FIN != 0;
        // Data for a stream that is gone (reset, or never opened) is dropped, as spdystream does.
        let Some(state) = self.streams.get_mut(&stream) else {
            return;
        };
        if state.remote_closed || state.kind == StreamKind::Error {
            // kubectl writes nothing on the error stream; it only closes it.
            state.remote_closed |= fin;
            return;
        }
        state.remote_closed = fin;
        if !fin && let Some(delta) = acknowledge(&mut state.unacknowledged, len) {
            commands.push(Command::Send(Frame::WindowUpdate { stream, delta }));
        }
        let pair = state.pair;
        if self.active.contains_key(&pair) {
            if !bytes.is_empty() {
                commands.push(Command::Deliver { pair, data: bytes });
            }
            if fin {
                commands.push(Command::FinishInput { pair });
            }
            return;
        }
        let Some(pending) = self.pending.values_mut().find(|p| p.id == pair) else {
            return;
        };
        pending.buffered_len += bytes.len();
        if pending.buffered_len > MAX_PENDING {
            pending.data = None;
            self.streams.remove(&stream);
            commands.push(Command::Send(Frame::RstStream {
                stream,
                status: rst::CANCEL,
            }));
            return;
        }
        if !bytes.is_empty() {
            pending.buffered.push(bytes);
        }
        pending.input_finished |= fin;
    }

    fn on_reset(&mut self, stream: StreamId, commands: &mut Vec<Command>) {
        let Some(state) = self.streams.remove(&stream) else {
            return;
        };
        if let Some(active) = self.active.get(&state.pair) {
            let close_error = state.kind == StreamKind::Data;
            if state.kind == StreamKind::Error {
                // Without its error stream the pair is over; the data stream goes too.
                commands.push(Command::Send(Frame::RstStream {
                    stream: active.data,
                    status: rst::CANCEL,
                }));
            }
            commands.push(Command::Abort {
                pair: state.pair,
                close_error,
            });
            return;
        }
        let Some((request, pending)) = self.pending.iter_mut().find(|(_, p)| p.id == state.pair)
        else {
            return;
        };
        match state.kind {
            StreamKind::Error => pending.error = None,
            StreamKind::Data => {
                pending.data = None;
                pending.buffered.clear();
                pending.buffered_len = 0;
                pending.input_finished = false;
            }
        }
        if pending.error.is_none() && pending.data.is_none() {
            let request = request.clone();
            self.pending.remove(&request);
        }
    }

    /// A started pair is over: its streams are forgotten.
    pub(crate) fn on_finished(&mut self, pair: PairId) {
        if let Some(active) = self.active.remove(&pair) {
            self.streams.remove(&active.error);
            self.streams.remove(&active.data);
        }
    }

    /// Gives up the pairs that waited too long for their second stream.
    pub(crate) fn on_tick(&mut self, now: Instant) -> Vec<Command> {
        let expired: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.since) >= STREAM_CREATION_TIMEOUT)
            .map(|(request, _)| request.clone())
            .collect();
        let mut commands = Vec::new();
        for request in expired {
            let Some(pending) = self.pending.remove(&request) else {
                continue;
            };
            if let Some(error) = pending.error {
                self.streams.remove(&error);
                let message = format!("request {request}: timed out waiting for streams");
                commands.push(data(error, 0, message.into()));
                commands.push(data(error, FLAG_FIN, Bytes::new()));
            }
            if let Some((stream, _)) = pending.data {
                self.streams.remove(&stream);
                commands.push(Command::Send(Frame::RstStream {
                    stream,
                    status: rst::CANCEL,
                }));
            }
        }
        commands
    }
}

fn data(stream: StreamId, flags: u8, data: Bytes) -> Command {
    Command::Send(Frame::Data {
        stream,
        flags,
        data,
    })
}

/// Counts received bytes against a window and, once half of it is used, answers how much to
/// give back in a WINDOW_UPDATE.
fn acknowledge(unacknowledged: &mut u32, len: u32) -> Option<u32> {
    *unacknowledged = unacknowledged.saturating_add(len);
    if *unacknowledged >= INITIAL_WINDOW / 2 {
        Some(std::mem::take(unacknowledged))
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
