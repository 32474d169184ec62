//! SPDY/3 header-block compression: a zlib stream per direction per connection, primed with
//! SPDY's fixed dictionary (SPDY draft 3, section 2.6.10.1).
//!
//! Reading uses miniz_oxide's raw inflate over a 32 KiB ring whose history starts with the
//! dictionary, which is what a zlib preset dictionary means. Writing emits stored (uncompressed)
//! deflate blocks: Go's zlib reader (the one kubectl's SPDY framer uses) accepts them after a
//! header with FDICT and the dictionary's Adler-32, and the few header blocks a port-forward
//! answers (empty SYN_REPLYs) gain nothing from compression. Each block ends with an empty
//! stored block, as a sync flush does: Go's inflater hands out a stored block's bytes only when
//! the next block begins, and reading past the frame's end would break its stream for good.

use std::sync::OnceLock;

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};

/// The words the SPDY/3 dictionary lists first, each stored as a 4-byte big-endian length and
/// the word.
const DICTIONARY_WORDS: [&str; 65] = [
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// The dictionary's tail, appended as is after the words: status codes, reason phrases, dates
/// and common values.
const DICTIONARY_TAIL: &str = concat!(
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
    "203 Non-Authoritative Information",
    "204 No Content",
    "301 Moved Permanently",
    "400 Bad Request",
    "401 Unauthorized",
    "403 Forbidden",
    "404 Not Found",
    "500 Internal Server Error",
    "501 Not Implemented",
    "503 Service Unavailable",
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec",
    " 00:00:00",
    " Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,",
    "text/plain,text/javascript,public",
    "private",
    "max-age=",
    "gzip,deflate,sdch",
    "charset=utf-8",
    "charset=iso-8859-1,utf-,*,enq=0.",
);

/// The deflate window, and the inflate ring's size (a power of two, as miniz_oxide requires).
const WINDOW: usize = 32 * 1024;

/// The largest stored deflate block.
const MAX_STORED_BLOCK: usize = u16::MAX as usize;

/// The most a header block may inflate to. Port-forward headers take a few dozen bytes; the
/// cap keeps a small hostile frame from inflating to gigabytes.
const MAX_HEADER_BLOCK: usize = 1024 * 1024;

/// zlib's CMF byte: deflate with a 32 KiB window.
const ZLIB_CMF: u8 = 0x78;

/// zlib's FLG byte with FDICT set and level "fastest"; 0x7820 is a multiple of 31, as the
/// header check requires.
const ZLIB_FLG_WITH_DICTIONARY: u8 = 0x20;

/// The FDICT bit of zlib's FLG byte.
const FDICT: u8 = 0x20;

/// The SPDY/3 header dictionary.
pub(crate) fn dictionary() -> &'static [u8] {
    static DICTIONARY: OnceLock<Vec<u8>> = OnceLock::new();
    DICTIONARY.get_or_init(|| {
        let mut bytes = Vec::with_capacity(1500);
        for word in DICTIONARY_WORDS {
            bytes.extend_from_slice(&(word.len() as u32).to_be_bytes());
            bytes.extend_from_slice(word.as_bytes());
        }
        bytes.extend_from_slice(DICTIONARY_TAIL.as_bytes());
        bytes
    })
}

/// The Adler-32 checksum (RFC 1950), which names a zlib preset dictionary.
pub(crate) fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    // 5552 bytes is the most that can be summed before the 32-bit sums may overflow.
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// Why a header block could not be decompressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CompressionError {
    /// The zlib header is not one of deflate.
    #[error("invalid zlib header {0:#04x} {1:#04x}")]
    Header(u8, u8),
    /// The stream names a preset dictionary other than SPDY/3's.
    #[error("unknown zlib dictionary {0:#010x}")]
    Dictionary(u32),
    /// The deflate data is corrupt, or the stream ended although SPDY never ends it.
    #[error("header block inflate failed: {0}")]
    Inflate(String),
}

/// The compressing side of one direction of a connection.
#[derive(Debug, Default)]
pub(crate) struct HeaderCompressor {
    started: bool,
}

impl HeaderCompressor {
    /// Compresses one header block. The first block carries the zlib header naming the SPDY
    /// dictionary; every block ends with a sync flush's empty stored block, so the peer can
    /// decode each frame on its own arrival.
    pub(crate) fn compress(&mut self, block: &[u8]) -> Vec<u8> {
        let blocks = block.len().div_ceil(MAX_STORED_BLOCK) + 1;
        let mut out = Vec::with_capacity(6 + blocks * 5 + block.len());
        if !self.started {
            self.started = true;
            out.extend_from_slice(&[ZLIB_CMF, ZLIB_FLG_WITH_DICTIONARY]);
            out.extend_from_slice(&adler32(dictionary()).to_be_bytes());
        }
        for chunk in block.chunks(MAX_STORED_BLOCK) {
            stored_block(&mut out, chunk);
        }
        stored_block(&mut out, &[]);
        out
    }
}

/// Appends a non-final stored deflate block: the 3 header bits (BFINAL=0, BTYPE=00) padded to a
/// byte, then LEN and its complement, little-endian, then the bytes.
fn stored_block(out: &mut Vec<u8>, chunk: &[u8]) {
    let len = chunk.len() as u16;
    out.push(0x00);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(chunk);
}

/// The decompressing side of one direction of a connection.
pub(crate) struct HeaderDecompressor {
    inflater: Box<DecompressorOxide>,
    /// The inflate history; starts with the dictionary.
    ring: Box<[u8]>,
    /// Where the next inflated byte goes in `ring`.
    position: usize,
    /// The zlib header bytes seen so far, until the header is complete.
    header: Vec<u8>,
    header_done: bool,
}

impl std::fmt::Debug for HeaderDecompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderDecompressor")
            .field("position", &self.position)
            .field("header_done", &self.header_done)
            .finish()
    }
}

impl Default for HeaderDecompressor {
    fn default() -> Self {
        let dictionary = dictionary();
        let mut ring = vec![0u8; WINDOW].into_boxed_slice();
        ring[..dictionary.len()].copy_from_slice(dictionary);
        HeaderDecompressor {
            inflater: Box::default(),
            ring,
            position: dictionary.len(),
            header: Vec::with_capacity(6),
            header_done: false,
        }
    }
}

impl HeaderDecompressor {
    /// Decompresses the compressed bytes of one header block (a frame's worth of the stream).
    pub(crate) fn decompress(&mut self, mut input: &[u8]) -> Result<Vec<u8>, CompressionError> {
        if !self.header_done {
            input = self.take_header(input)?;
            if !self.header_done {
                return Ok(Vec::new());
            }
        }
        let mut out = Vec::new();
        loop {
            let (status, consumed, written) = decompress(
                &mut self.inflater,
                input,
                &mut self.ring,
                self.position,
                inflate_flags::TINFL_FLAG_HAS_MORE_INPUT,
            );
            out.extend_from_slice(&self.ring[self.position..self.position + written]);
            self.position = (self.position + written) & (WINDOW - 1);
            if out.len() > MAX_HEADER_BLOCK {
                return Err(CompressionError::Inflate(format!(
                    "a header block over {MAX_HEADER_BLOCK} bytes"
                )));
            }
            input = &input[consumed..];
            match status {
                // The ring's end was reached: go on from its start.
                TINFLStatus::HasMoreOutput => continue,
                TINFLStatus::NeedsMoreInput if input.is_empty() => return Ok(out),
                TINFLStatus::NeedsMoreInput => continue,
                TINFLStatus::Done => {
                    return Err(CompressionError::Inflate(
                        "the compressed stream ended".to_string(),
                    ));
                }
                other => return Err(CompressionError::Inflate(format!("{other:?}"))),
            }
        }
    }

    /// Consumes the zlib header (CMF, FLG and, with FDICT, the dictionary id) from the front of
    /// `input`, returning the rest.
    fn take_header<'a>(&mut self, mut input: &'a [u8]) -> Result<&'a [u8], CompressionError> {
        while !self.header_done && !input.is_empty() {
            self.header.push(input[0]);
            input = &input[1..];
            let (cmf, flg) = match self.header.as_slice() {
                [cmf, flg, ..] => (*cmf, *flg),
                _ => continue,
            };
            if self.header.len() == 2 {
                let method_ok = cmf & 0x0f == 8 && cmf >> 4 <= 7;
                if !method_ok || (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
                    return Err(CompressionError::Header(cmf, flg));
                }
                // Without FDICT the peer's compressor never refers to the dictionary, so the
                // primed history is simply never used.
                self.header_done = flg & FDICT == 0;
            } else if self.header.len() == 6 {
                let id = u32::from_be_bytes([
                    self.header[2],
                    self.header[3],
                    self.header[4],
                    self.header[5],
                ]);
                if id != adler32(dictionary()) {
                    return Err(CompressionError::Dictionary(id));
                }
                self.header_done = true;
            }
        }
        Ok(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kubectl-style header block (3 pairs) as SPDY encodes it, before compression.
    const ERROR_STREAM_BLOCK: &str = "000000030000000a73747265616d74797065000000056572726f7200000004706f7274000000023830000000097265717565737469640000000130";
    const DATA_STREAM_BLOCK: &str = "000000030000000a73747265616d74797065000000046461746100000004706f7274000000023830000000097265717565737469640000000130";
    /// Those two blocks compressed in turn by C zlib (level 9, SPDY dictionary, a sync flush after
    /// each), the same zlib stream Go's framer writes: the second refers back into the first.
    const ERROR_STREAM_COMPRESSED: &str = "78f9e3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45a024cc64610024398b209198094adc8c0600000000ffff";
    const DATA_STREAM_COMPRESSED: &str = "c2aa15540a2512d209000000ffff";

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn dictionary_is_spdy3s() {
        let dictionary = dictionary();
        assert_eq!(dictionary.len(), 1423);
        assert_eq!(&dictionary[..11], b"\0\0\0\x07options");
        assert!(dictionary.ends_with(b"enq=0."));
        // The id a zlib stream with the SPDY dictionary carries (as C zlib and Go write it).
        assert_eq!(adler32(dictionary), 0xe3c6_a7c2);
    }

    #[test]
    fn adler32_known_values() {
        for (input, expected) in [
            (&b""[..], 1u32),
            (b"a", 0x0062_0062),
            (b"Wikipedia", 0x11e6_0398),
            (&[0xffu8; 10_000][..], 0xb623_eb2b),
        ] {
            assert_eq!(adler32(input), expected, "{input:?}");
        }
    }

    #[test]
    fn inflates_zlib_streams_with_the_dictionary() {
        let mut decompressor = HeaderDecompressor::default();
        for (compressed, block) in [
            (ERROR_STREAM_COMPRESSED, ERROR_STREAM_BLOCK),
            (DATA_STREAM_COMPRESSED, DATA_STREAM_BLOCK),
        ] {
            assert_eq!(
                decompressor.decompress(&unhex(compressed)).unwrap(),
                unhex(block)
            );
        }
    }

    #[test]
    fn inflates_a_header_split_across_calls() {
        let compressed = unhex(ERROR_STREAM_COMPRESSED);
        let mut decompressor = HeaderDecompressor::default();
        let mut out = Vec::new();
        for piece in compressed.chunks(1) {
            out.extend(decompressor.decompress(piece).unwrap());
        }
        assert_eq!(out, unhex(ERROR_STREAM_BLOCK));
    }

    #[test]
    fn stored_blocks_known_bytes() {
        let mut compressor = HeaderCompressor::default();
        // The first block names the dictionary; the empty header block (count 0) follows, then
        // the sync flush.
        assert_eq!(
            compressor.compress(&[0, 0, 0, 0]),
            unhex("7820e3c6a7c2000400fbff00000000000000ffff")
        );
        assert_eq!(
            compressor.compress(b"ab"),
            unhex("000200fdff6162000000ffff")
        );
        assert_eq!(compressor.compress(b""), unhex("000000ffff"));
    }

    #[test]
    fn round_trips_through_the_ring() {
        let mut compressor = HeaderCompressor::default();
        let mut decompressor = HeaderDecompressor::default();
        // More than the ring holds, and more than one stored block, so both wrap.
        let blocks: Vec<Vec<u8>> = vec![
            b"first".to_vec(),
            (0..MAX_HEADER_BLOCK as u32)
                .map(|i| (i % 251) as u8)
                .collect(),
            Vec::new(),
            (0..40_000u32).map(|i| (i % 13) as u8).collect(),
            b"last".to_vec(),
        ];
        for block in blocks {
            let compressed = compressor.compress(&block);
            assert_eq!(decompressor.decompress(&compressed).unwrap(), block);
        }
    }

    #[test]
    fn refuses_header_blocks_that_inflate_too_far() {
        let mut compressor = HeaderCompressor::default();
        let mut decompressor = HeaderDecompressor::default();
        let block = vec![0u8; MAX_HEADER_BLOCK + 1];
        assert!(matches!(
            decompressor.decompress(&compressor.compress(&block)),
            Err(CompressionError::Inflate(_))
        ));
    }

    #[test]
    fn rejects_foreign_streams() {
        let cases: [(&str, CompressionError); 3] = [
            ("7901", CompressionError::Header(0x79, 0x01)),
            ("7821", CompressionError::Header(0x78, 0x21)),
            ("782000000001", CompressionError::Dictionary(1)),
        ];
        for (input, expected) in cases {
            let mut decompressor = HeaderDecompressor::default();
            assert_eq!(
                decompressor.decompress(&unhex(input)),
                Err(expected),
                "{input}"
            );
        }
    }
}
