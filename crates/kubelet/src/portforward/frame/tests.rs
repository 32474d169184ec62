//! Frame encoding against known bytes, round trips through [`FrameReader`] however the bytes
//! are cut, and the frames a reader must refuse.

use super::*;

fn unhex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn encoded(frames: &[Frame]) -> Vec<u8> {
    let mut compressor = HeaderCompressor::default();
    let mut out = BytesMut::new();
    for frame in frames {
        encode(frame, &mut compressor, &mut out);
    }
    out.to_vec()
}

fn read_all(bytes: &[u8], piece: usize) -> Result<Vec<Frame>, FrameError> {
    let mut reader = FrameReader::default();
    let mut frames = Vec::new();
    for chunk in bytes.chunks(piece) {
        reader.push(chunk);
        while let Some(frame) = reader.next_frame()? {
            frames.push(frame);
        }
    }
    Ok(frames)
}

#[test]
fn encodes_known_bytes() {
    let cases: Vec<(Frame, &str)> = vec![
        (
            Frame::Data {
                stream: 1,
                flags: FLAG_FIN,
                data: Bytes::from_static(b"abc"),
            },
            "00000001 01000003 616263",
        ),
        (
            Frame::RstStream {
                stream: 3,
                status: rst::CANCEL,
            },
            "80030003 00000008 00000003 00000005",
        ),
        (Frame::Ping { id: 1 }, "80030006 00000004 00000001"),
        (
            Frame::GoAway {
                last_good: 5,
                status: goaway::OK,
            },
            "80030007 00000008 00000005 00000000",
        ),
        (
            Frame::WindowUpdate {
                stream: 0,
                delta: 32768,
            },
            "80030009 00000008 00000000 00008000",
        ),
        (
            Frame::Settings {
                flags: 0,
                entries: vec![Setting {
                    flags: 1,
                    id: 7,
                    value: 65536,
                }],
            },
            "80030004 0000000c 00000001 01000007 00010000",
        ),
        // The connection's first header block starts the zlib stream: header, dictionary id,
        // a stored block holding the empty header block (a count of 0), the sync flush.
        (
            Frame::SynReply {
                stream: 1,
                flags: 0,
                headers: HeaderBlock::default(),
            },
            "80030002 00000018 00000001 7820 e3c6a7c2 000400fbff 00000000 000000ffff",
        ),
    ];
    for (frame, expected) in cases {
        assert_eq!(
            encoded(std::slice::from_ref(&frame)),
            unhex(expected),
            "{frame:?}"
        );
    }
}

#[test]
fn decodes_a_go_style_syn_stream() {
    // kubectl's first stream: SYN_STREAM 1, priority 0, slot 0, headers compressed by zlib at
    // level 9 with the SPDY dictionary and a sync flush (the bytes C zlib writes for it).
    let block = unhex(
        "78f9e3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45a024cc646100\
         24398b209198094adc8c0600000000ffff",
    );
    let mut bytes = unhex("80030001");
    bytes.extend_from_slice(&((10 + block.len()) as u32).to_be_bytes());
    bytes.extend_from_slice(&unhex("00000001 00000000 0000"));
    bytes.extend_from_slice(&block);
    let frames = read_all(&bytes, bytes.len()).unwrap();
    assert_eq!(
        frames,
        vec![Frame::SynStream {
            stream: 1,
            associated: 0,
            priority: 0,
            slot: 0,
            flags: 0,
            headers: HeaderBlock::from([
                ("streamtype", "error"),
                ("port", "80"),
                ("requestid", "0")
            ]),
        }]
    );
}

#[test]
fn round_trips_every_kind_however_cut() {
    let frames = vec![
        Frame::SynStream {
            stream: 1,
            associated: 0,
            priority: 7,
            slot: 2,
            flags: FLAG_FIN | FLAG_UNIDIRECTIONAL,
            headers: HeaderBlock::from([("streamtype", "error"), ("port", "80")]),
        },
        Frame::SynReply {
            stream: 1,
            flags: 0,
            headers: HeaderBlock::default(),
        },
        Frame::Headers {
            stream: 1,
            flags: FLAG_FIN,
            headers: HeaderBlock::from([("x", "y\0z")]),
        },
        Frame::Data {
            stream: 3,
            flags: 0,
            data: Bytes::from(vec![7u8; 70_000]),
        },
        Frame::Data {
            stream: 3,
            flags: FLAG_FIN,
            data: Bytes::new(),
        },
        Frame::RstStream {
            stream: 3,
            status: rst::REFUSED_STREAM,
        },
        Frame::Settings {
            flags: 1,
            entries: vec![
                Setting {
                    flags: 0,
                    id: 4,
                    value: 100,
                },
                Setting {
                    flags: 2,
                    id: 7,
                    value: 1 << 20,
                },
            ],
        },
        Frame::Ping { id: 0xffff_fffe },
        Frame::GoAway {
            last_good: 9,
            status: goaway::PROTOCOL_ERROR,
        },
        Frame::WindowUpdate {
            stream: 5,
            delta: 0x7fff_ffff,
        },
        Frame::Unknown { kind: 0x10 },
    ];
    let bytes = encoded(&frames);
    for piece in [1, 3, 8, 1000, bytes.len()] {
        assert_eq!(
            read_all(&bytes, piece).unwrap(),
            frames,
            "pieces of {piece}"
        );
    }
}

#[test]
fn refuses_bad_frames() {
    let cases: [(&str, FrameError); 5] = [
        ("80020006 00000004 00000001", FrameError::Version(2)),
        (
            "80030006 00000005 0000000100",
            FrameError::Length { kind: 6, length: 5 },
        ),
        (
            "80030003 00000004 00000001",
            FrameError::Length { kind: 3, length: 4 },
        ),
        (
            "80030004 00000008 00000002 00000000",
            FrameError::Length { kind: 4, length: 8 },
        ),
        (
            "80030002 00000006 00000001 7901",
            FrameError::Compression(CompressionError::Header(0x79, 0x01)),
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(read_all(&unhex(bytes), 64), Err(expected), "{bytes}");
    }
}

#[test]
fn waits_for_whole_frames() {
    let mut reader = FrameReader::default();
    reader.push(&unhex("00000001 00000003 6162"));
    assert_eq!(reader.next_frame(), Ok(None));
    reader.push(b"c");
    assert_eq!(
        reader.next_frame(),
        Ok(Some(Frame::Data {
            stream: 1,
            flags: 0,
            data: Bytes::from_static(b"abc"),
        }))
    );
    assert_eq!(reader.next_frame(), Ok(None));
}
