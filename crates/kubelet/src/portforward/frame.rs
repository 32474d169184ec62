//! SPDY/3.1 frames (SPDY draft 3 section 2.2, plus 3.1's connection-level WINDOW_UPDATE): their
//! encoding, and an incremental reader that turns a byte stream into frames.
//!
//! Control frames: a set bit, the 15-bit version (3), the 16-bit type, 8 bits of flags and a
//! 24-bit length, then the payload. Data frames: a clear bit, the 31-bit stream id, flags and
//! length, then the bytes. Header blocks go through the connection's compression context of
//! their direction, so every header-carrying frame must be decoded in order, even those ignored.

use bytes::{Buf, Bytes, BytesMut};

use super::compression::{CompressionError, HeaderCompressor, HeaderDecompressor};
use super::headers::HeaderBlock;

/// A stream's id: odd for those the client opens, even for the server's.
pub(crate) type StreamId = u32;

/// The protocol version in every control frame.
pub(crate) const VERSION: u16 = 3;

/// FIN on SYN_STREAM, SYN_REPLY, HEADERS and DATA: the sender will send nothing more.
pub(crate) const FLAG_FIN: u8 = 0x01;
/// UNIDIRECTIONAL on SYN_STREAM: the receiver may not send on the stream.
pub(crate) const FLAG_UNIDIRECTIONAL: u8 = 0x02;

/// A 24-bit length field's largest value.
pub(crate) const MAX_LENGTH: usize = (1 << 24) - 1;

/// Control frame types.
mod kind {
    pub const SYN_STREAM: u16 = 1;
    pub const SYN_REPLY: u16 = 2;
    pub const RST_STREAM: u16 = 3;
    pub const SETTINGS: u16 = 4;
    pub const PING: u16 = 6;
    pub const GOAWAY: u16 = 7;
    pub const HEADERS: u16 = 8;
    pub const WINDOW_UPDATE: u16 = 9;
}

/// RST_STREAM status codes.
pub(crate) mod rst {
    pub const PROTOCOL_ERROR: u32 = 1;
    pub const REFUSED_STREAM: u32 = 3;
    pub const CANCEL: u32 = 5;
}

/// GOAWAY status codes.
pub(crate) mod goaway {
    pub const OK: u32 = 0;
    pub const PROTOCOL_ERROR: u32 = 1;
}

/// One SETTINGS entry: flags (persist, persisted), the 24-bit id and the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Setting {
    pub flags: u8,
    pub id: u32,
    pub value: u32,
}

/// A SPDY/3.1 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    SynStream {
        stream: StreamId,
        associated: StreamId,
        /// 0 (highest) to 7.
        priority: u8,
        slot: u8,
        flags: u8,
        headers: HeaderBlock,
    },
    SynReply {
        stream: StreamId,
        flags: u8,
        headers: HeaderBlock,
    },
    RstStream {
        stream: StreamId,
        status: u32,
    },
    Settings {
        flags: u8,
        entries: Vec<Setting>,
    },
    Ping {
        id: u32,
    },
    GoAway {
        last_good: StreamId,
        status: u32,
    },
    Headers {
        stream: StreamId,
        flags: u8,
        headers: HeaderBlock,
    },
    /// `stream` 0 updates the connection's window (SPDY/3.1).
    WindowUpdate {
        stream: StreamId,
        delta: u32,
    },
    Data {
        stream: StreamId,
        flags: u8,
        data: Bytes,
    },
    /// A control frame of a type this kubelet does not know; SPDY says to ignore it.
    Unknown {
        kind: u16,
    },
}

/// Why bytes are not a valid frame. Any of these ends the connection: after a bad frame the
/// byte stream and the compression context can no longer be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("unsupported SPDY version {0}")]
    Version(u16),
    #[error("control frame type {kind} with invalid length {length}")]
    Length { kind: u16, length: usize },
    #[error("invalid header block: {0}")]
    HeaderBlock(String),
    #[error(transparent)]
    Compression(#[from] CompressionError),
}

/// Appends the encoding of `frame` to `out`. Header blocks go through `compressor`, which must
/// be the one of this direction of the connection. A payload over 24 bits is the caller's bug:
/// data is cut into smaller frames before it gets here.
pub(crate) fn encode(frame: &Frame, compressor: &mut HeaderCompressor, out: &mut BytesMut) {
    match frame {
        Frame::Data {
            stream,
            flags,
            data,
        } => {
            debug_assert!(data.len() <= MAX_LENGTH);
            out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
            out.extend_from_slice(&flags_and_length(*flags, data.len()));
            out.extend_from_slice(data);
        }
        Frame::SynStream {
            stream,
            associated,
            priority,
            slot,
            flags,
            headers,
        } => {
            let block = compressor.compress(&headers.encode());
            control(out, kind::SYN_STREAM, *flags, 10 + block.len());
            out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
            out.extend_from_slice(&(associated & 0x7fff_ffff).to_be_bytes());
            out.extend_from_slice(&[(priority & 0x07) << 5, *slot]);
            out.extend_from_slice(&block);
        }
        Frame::SynReply {
            stream,
            flags,
            headers,
        } => stream_headers(out, compressor, kind::SYN_REPLY, *stream, *flags, headers),
        Frame::Headers {
            stream,
            flags,
            headers,
        } => stream_headers(out, compressor, kind::HEADERS, *stream, *flags, headers),
        Frame::RstStream { stream, status } => {
            control(out, kind::RST_STREAM, 0, 8);
            out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
            out.extend_from_slice(&status.to_be_bytes());
        }
        Frame::Settings { flags, entries } => {
            control(out, kind::SETTINGS, *flags, 4 + 8 * entries.len());
            out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
            for entry in entries {
                let flag_and_id = u32::from(entry.flags) << 24 | (entry.id & 0x00ff_ffff);
                out.extend_from_slice(&flag_and_id.to_be_bytes());
                out.extend_from_slice(&entry.value.to_be_bytes());
            }
        }
        Frame::Ping { id } => {
            control(out, kind::PING, 0, 4);
            out.extend_from_slice(&id.to_be_bytes());
        }
        Frame::GoAway { last_good, status } => {
            control(out, kind::GOAWAY, 0, 8);
            out.extend_from_slice(&(last_good & 0x7fff_ffff).to_be_bytes());
            out.extend_from_slice(&status.to_be_bytes());
        }
        Frame::WindowUpdate { stream, delta } => {
            control(out, kind::WINDOW_UPDATE, 0, 8);
            out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
            out.extend_from_slice(&(delta & 0x7fff_ffff).to_be_bytes());
        }
        Frame::Unknown { kind } => control(out, *kind, 0, 0),
    }
}

fn control(out: &mut BytesMut, kind: u16, flags: u8, length: usize) {
    debug_assert!(length <= MAX_LENGTH);
    out.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&flags_and_length(flags, length));
}

fn flags_and_length(flags: u8, length: usize) -> [u8; 4] {
    (u32::from(flags) << 24 | (length as u32 & 0x00ff_ffff)).to_be_bytes()
}

fn stream_headers(
    out: &mut BytesMut,
    compressor: &mut HeaderCompressor,
    kind: u16,
    stream: StreamId,
    flags: u8,
    headers: &HeaderBlock,
) {
    let block = compressor.compress(&headers.encode());
    control(out, kind, flags, 4 + block.len());
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(&block);
}

/// Turns the bytes of one direction of a connection into frames, however they were cut.
#[derive(Debug, Default)]
pub(crate) struct FrameReader {
    buffer: BytesMut,
    decompressor: HeaderDecompressor,
}

impl FrameReader {
    /// Adds bytes as they arrive.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole frame, or `None` until more bytes arrive.
    pub(crate) fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let Some(head) = self.buffer.first_chunk::<8>() else {
            return Ok(None);
        };
        let first = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let flags = head[4];
        let length = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
        if self.buffer.len() < 8 + length {
            self.buffer.reserve(8 + length - self.buffer.len());
            return Ok(None);
        }
        self.buffer.advance(8);
        let payload = self.buffer.split_to(length).freeze();
        if first & 0x8000_0000 == 0 {
            return Ok(Some(Frame::Data {
                stream: first & 0x7fff_ffff,
                flags,
                data: payload,
            }));
        }
        let version = ((first >> 16) & 0x7fff) as u16;
        let kind = (first & 0xffff) as u16;
        if version != VERSION {
            return Err(FrameError::Version(version));
        }
        self.control(kind, flags, payload).map(Some)
    }

    fn control(&mut self, kind: u16, flags: u8, mut payload: Bytes) -> Result<Frame, FrameError> {
        let length = payload.len();
        let bad_length = || FrameError::Length { kind, length };
        let frame = match kind {
            kind::SYN_STREAM => {
                if length < 10 {
                    return Err(bad_length());
                }
                let stream = payload.get_u32() & 0x7fff_ffff;
                let associated = payload.get_u32() & 0x7fff_ffff;
                let priority = payload.get_u8() >> 5;
                let slot = payload.get_u8();
                Frame::SynStream {
                    stream,
                    associated,
                    priority,
                    slot,
                    flags,
                    headers: self.headers(&payload)?,
                }
            }
            kind::SYN_REPLY | kind::HEADERS => {
                if length < 4 {
                    return Err(bad_length());
                }
                let stream = payload.get_u32() & 0x7fff_ffff;
                let headers = self.headers(&payload)?;
                if kind == kind::SYN_REPLY {
                    Frame::SynReply {
                        stream,
                        flags,
                        headers,
                    }
                } else {
                    Frame::Headers {
                        stream,
                        flags,
                        headers,
                    }
                }
            }
            kind::RST_STREAM => {
                if length != 8 {
                    return Err(bad_length());
                }
                Frame::RstStream {
                    stream: payload.get_u32() & 0x7fff_ffff,
                    status: payload.get_u32(),
                }
            }
            kind::SETTINGS => {
                if length < 4 {
                    return Err(bad_length());
                }
                let count = payload.get_u32() as usize;
                if payload.len() != count.saturating_mul(8) {
                    return Err(bad_length());
                }
                let entries = (0..count)
                    .map(|_| {
                        let flag_and_id = payload.get_u32();
                        Setting {
                            flags: (flag_and_id >> 24) as u8,
                            id: flag_and_id & 0x00ff_ffff,
                            value: payload.get_u32(),
                        }
                    })
                    .collect();
                Frame::Settings { flags, entries }
            }
            kind::PING => {
                if length != 4 {
                    return Err(bad_length());
                }
                Frame::Ping {
                    id: payload.get_u32(),
                }
            }
            kind::GOAWAY => {
                if length != 8 {
                    return Err(bad_length());
                }
                Frame::GoAway {
                    last_good: payload.get_u32() & 0x7fff_ffff,
                    status: payload.get_u32(),
                }
            }
            kind::WINDOW_UPDATE => {
                if length != 8 {
                    return Err(bad_length());
                }
                Frame::WindowUpdate {
                    stream: payload.get_u32() & 0x7fff_ffff,
                    delta: payload.get_u32() & 0x7fff_ffff,
                }
            }
            other => Frame::Unknown { kind: other },
        };
        Ok(frame)
    }

    fn headers(&mut self, compressed: &[u8]) -> Result<HeaderBlock, FrameError> {
        let block = self.decompressor.decompress(compressed)?;
        HeaderBlock::decode(&block)
    }
}

#[cfg(test)]
mod tests;
