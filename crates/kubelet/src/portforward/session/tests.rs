//! The port-forward session's decisions, one conversation per test: the frames a client sends,
//! then the commands expected after each.

use super::*;

const PORT: u16 = 80;

fn syn(stream: StreamId, kind: &str, request: &str) -> Frame {
    syn_with(
        stream,
        0,
        &[("streamtype", kind), ("port", "80"), ("requestid", request)],
    )
}

fn syn_with(stream: StreamId, flags: u8, headers: &[(&str, &str)]) -> Frame {
    Frame::SynStream {
        stream,
        associated: 0,
        priority: 0,
        slot: 0,
        flags,
        headers: HeaderBlock(
            headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        ),
    }
}

fn data(stream: StreamId, bytes: &'static [u8]) -> Frame {
    Frame::Data {
        stream,
        flags: 0,
        data: Bytes::from_static(bytes),
    }
}

fn fin(stream: StreamId) -> Frame {
    Frame::Data {
        stream,
        flags: FLAG_FIN,
        data: Bytes::new(),
    }
}

fn reset(stream: StreamId) -> Frame {
    Frame::RstStream {
        stream,
        status: rst::CANCEL,
    }
}

fn reply(stream: StreamId) -> Command {
    Command::Send(Frame::SynReply {
        stream,
        flags: 0,
        headers: HeaderBlock::default(),
    })
}

fn refused(stream: StreamId, status: u32) -> Command {
    Command::Send(Frame::RstStream { stream, status })
}

fn send_data(stream: StreamId, flags: u8, bytes: &[u8]) -> Command {
    Command::Send(Frame::Data {
        stream,
        flags,
        data: Bytes::copy_from_slice(bytes),
    })
}

/// Plays a conversation: each frame, then the commands it must produce.
fn play(session: &mut Session, now: Instant, steps: Vec<(Frame, Vec<Command>)>) {
    for (i, (frame, expected)) in steps.into_iter().enumerate() {
        let described = format!("step {i}: {frame:?}");
        assert_eq!(session.on_frame(frame, now), expected, "{described}");
    }
}

#[test]
fn kubectls_connection() {
    let mut session = Session::default();
    let now = Instant::now();
    play(
        &mut session,
        now,
        vec![
            // kubectl opens the error stream and closes its side of it at once.
            (syn(1, "error", "0"), vec![reply(1)]),
            (fin(1), vec![]),
            (
                syn(3, "data", "0"),
                vec![
                    reply(3),
                    Command::Start {
                        pair: 1,
                        port: PORT,
                        data: 3,
                        error: 1,
                    },
                ],
            ),
            (
                data(3, b"GET /"),
                vec![Command::Deliver {
                    pair: 1,
                    data: Bytes::from_static(b"GET /"),
                }],
            ),
            (fin(3), vec![Command::FinishInput { pair: 1 }]),
            // After our FIN on the data stream kubectl resets it, then reads the error stream
            // to its end.
            (
                reset(3),
                vec![Command::Abort {
                    pair: 1,
                    close_error: true,
                }],
            ),
            // A second local connection: the next request id.
            (syn(5, "error", "1"), vec![reply(5)]),
            (
                syn(7, "data", "1"),
                vec![
                    reply(7),
                    Command::Start {
                        pair: 2,
                        port: PORT,
                        data: 7,
                        error: 5,
                    },
                ],
            ),
        ],
    );
    assert_eq!(session.pairs(), 2);
    session.on_finished(1);
    session.on_finished(2);
    assert_eq!(session.pairs(), 0);
    // Frames for finished streams are dropped.
    play(&mut session, now, vec![(data(7, b"late"), vec![])]);
}

#[test]
fn refuses_invalid_streams() {
    let cases: Vec<(&str, &[(&str, &str)])> = vec![
        ("no port", &[("streamtype", "data")]),
        ("empty port", &[("streamtype", "data"), ("port", "")]),
        ("port 0", &[("streamtype", "data"), ("port", "0")]),
        ("port 70000", &[("streamtype", "data"), ("port", "70000")]),
        ("port abc", &[("streamtype", "data"), ("port", "abc")]),
        ("no type", &[("port", "80")]),
        ("bad type", &[("streamtype", "stdin"), ("port", "80")]),
    ];
    for (name, headers) in cases {
        let mut session = Session::default();
        assert_eq!(
            session.on_frame(syn_with(1, 0, headers), Instant::now()),
            vec![refused(1, rst::REFUSED_STREAM)],
            "{name}"
        );
        assert_eq!(session.pairs(), 0, "{name}");
    }
}

#[test]
fn reads_stream_headers_like_the_kubelet() {
    let ok = |kind, port, request: &str| {
        Ok(StreamRequest {
            kind,
            port,
            request: request.to_string(),
        })
    };
    type Case = (
        StreamId,
        &'static [(&'static str, &'static str)],
        Result<StreamRequest, String>,
    );
    let cases: Vec<Case> = vec![
        (
            1,
            &[
                ("streamType", "error"),
                ("port", "8080"),
                ("requestID", "4"),
            ],
            ok(StreamKind::Error, 8080, "4"),
        ),
        // Without a request id, an error stream and the data stream after it pair up.
        (
            9,
            &[("streamtype", "error"), ("port", "1")],
            ok(StreamKind::Error, 1, "9"),
        ),
        (
            11,
            &[("streamtype", "data"), ("port", "1")],
            ok(StreamKind::Data, 1, "9"),
        ),
        (
            1,
            &[("streamtype", "data")],
            Err("\"port\" header is required".to_string()),
        ),
        (
            1,
            &[("streamtype", "data"), ("port", "0")],
            Err("port \"0\" must be > 0".to_string()),
        ),
        (
            1,
            &[("port", "1")],
            Err("\"streamType\" header is required".to_string()),
        ),
        (
            1,
            &[("streamtype", "x"), ("port", "1")],
            Err("invalid stream type \"x\"".to_string()),
        ),
    ];
    for (stream, headers, expected) in cases {
        let block = HeaderBlock(
            headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        );
        assert_eq!(stream_request(stream, &block), expected, "{headers:?}");
    }
    assert!(
        stream_request(
            1,
            &HeaderBlock::from([("streamtype", "data"), ("port", "x")])
        )
        .unwrap_err()
        .starts_with("unable to parse \"x\" as a port")
    );
}

#[test]
fn stream_ids_must_be_odd_and_increase() {
    let mut session = Session::default();
    play(
        &mut session,
        Instant::now(),
        vec![
            (syn(2, "error", "0"), vec![refused(2, rst::PROTOCOL_ERROR)]),
            (syn(5, "error", "0"), vec![reply(5)]),
            (syn(3, "data", "0"), vec![refused(3, rst::PROTOCOL_ERROR)]),
            (syn(5, "data", "0"), vec![refused(5, rst::PROTOCOL_ERROR)]),
        ],
    );
}

#[test]
fn refuses_unidirectional_streams() {
    let mut session = Session::default();
    let headers = [("streamtype", "error"), ("port", "80"), ("requestid", "0")];
    assert_eq!(
        session.on_frame(syn_with(1, FLAG_UNIDIRECTIONAL, &headers), Instant::now()),
        vec![refused(1, rst::REFUSED_STREAM)]
    );
}

#[test]
fn refuses_streams_after_goaway() {
    let mut session = Session::default();
    play(
        &mut session,
        Instant::now(),
        vec![
            (
                Frame::GoAway {
                    last_good: 0,
                    status: 0,
                },
                vec![],
            ),
            (syn(1, "error", "0"), vec![refused(1, rst::REFUSED_STREAM)]),
        ],
    );
}

#[test]
fn holds_data_until_the_pair_starts() {
    let mut session = Session::default();
    play(
        &mut session,
        Instant::now(),
        vec![
            (syn(1, "data", "r"), vec![reply(1)]),
            (data(1, b"early"), vec![]),
            (fin(1), vec![]),
            (
                syn(3, "error", "r"),
                vec![
                    reply(3),
                    Command::Start {
                        pair: 1,
                        port: PORT,
                        data: 1,
                        error: 3,
                    },
                    Command::Deliver {
                        pair: 1,
                        data: Bytes::from_static(b"early"),
                    },
                    Command::FinishInput { pair: 1 },
                ],
            ),
        ],
    );
}

#[test]
fn a_data_stream_opened_with_fin_starts_half_closed() {
    let mut session = Session::default();
    play(
        &mut session,
        Instant::now(),
        vec![
            (syn(1, "error", "r"), vec![reply(1)]),
            (
                syn_with(
                    3,
                    FLAG_FIN,
                    &[("streamtype", "data"), ("port", "80"), ("requestid", "r")],
                ),
                vec![
                    reply(3),
                    Command::Start {
                        pair: 1,
                        port: PORT,
                        data: 3,
                        error: 1,
                    },
                    Command::FinishInput { pair: 1 },
                ],
            ),
        ],
    );
}

#[test]
fn a_second_stream_of_a_kind_is_reported() {
    let mut session = Session::default();
    play(
        &mut session,
        Instant::now(),
        vec![
            (syn(1, "error", "7"), vec![reply(1)]),
            (
                syn(3, "error", "7"),
                vec![
                    reply(3),
                    send_data(
                        1,
                        0,
                        b"error processing stream for request 7: error stream already assigned",
                    ),
                ],
            ),
            // The extra stream is not part of the pair.
            (data(3, b"ignored"), vec![]),
        ],
    );
    assert_eq!(session.pairs(), 1);
}

#[test]
fn gives_up_pairs_missing_a_stream() {
    let mut session = Session::default();
    let start = Instant::now();
    play(
        &mut session,
        start,
        vec![
            (syn(1, "error", "a"), vec![reply(1)]),
            (syn(3, "data", "b"), vec![reply(3)]),
        ],
    );
    assert_eq!(session.on_tick(start + Duration::from_secs(29)), vec![]);
    let mut commands = session.on_tick(start + STREAM_CREATION_TIMEOUT);
    commands.sort_by_key(|c| format!("{c:?}"));
    let mut expected = vec![
        send_data(1, 0, b"request a: timed out waiting for streams"),
        send_data(1, FLAG_FIN, b""),
        refused(3, rst::CANCEL),
    ];
    expected.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(commands, expected);
    assert_eq!(session.pairs(), 0);
}

#[test]
fn resets() {
    let started = |session: &mut Session| {
        play(
            session,
            Instant::now(),
            vec![
                (syn(1, "error", "0"), vec![reply(1)]),
                (
                    syn(3, "data", "0"),
                    vec![
                        reply(3),
                        Command::Start {
                            pair: 1,
                            port: PORT,
                            data: 3,
                            error: 1,
                        },
                    ],
                ),
            ],
        )
    };
    // The error stream reset ends the pair, data stream included.
    let mut session = Session::default();
    started(&mut session);
    play(
        &mut session,
        Instant::now(),
        vec![(
            reset(1),
            vec![
                refused(3, rst::CANCEL),
                Command::Abort {
                    pair: 1,
                    close_error: false,
                },
            ],
        )],
    );

    // A reset of a waiting pair's only stream forgets the pair.
    let mut session = Session::default();
    play(
        &mut session,
        Instant::now(),
        vec![(syn(1, "error", "0"), vec![reply(1)]), (reset(1), vec![])],
    );
    assert_eq!(session.pairs(), 0);
    // Resets of unknown streams are ignored.
    play(&mut session, Instant::now(), vec![(reset(99), vec![])]);
}

#[test]
fn pings_from_the_client_are_answered() {
    let mut session = Session::default();
    play(
        &mut session,
        Instant::now(),
        vec![
            (
                Frame::Ping { id: 1 },
                vec![Command::Send(Frame::Ping { id: 1 })],
            ),
            (Frame::Ping { id: 2 }, vec![]),
        ],
    );
}

#[test]
fn gives_window_back_as_data_arrives() {
    let mut session = Session::default();
    let now = Instant::now();
    session.on_frame(syn(1, "error", "0"), now);
    session.on_frame(syn(3, "data", "0"), now);
    let big = Bytes::from(vec![0u8; 20_000]);
    let frame = |flags| Frame::Data {
        stream: 3,
        flags,
        data: big.clone(),
    };
    let deliver = Command::Deliver {
        pair: 1,
        data: big.clone(),
    };
    assert_eq!(session.on_frame(frame(0), now), vec![deliver.clone()]);
    assert_eq!(
        session.on_frame(frame(0), now),
        vec![
            Command::Send(Frame::WindowUpdate {
                stream: 0,
                delta: 40_000
            }),
            Command::Send(Frame::WindowUpdate {
                stream: 3,
                delta: 40_000
            }),
            deliver.clone(),
        ]
    );
    // The last frame of a stream updates the connection only.
    assert_eq!(
        session.on_frame(frame(FLAG_FIN), now),
        vec![deliver, Command::FinishInput { pair: 1 }]
    );
    assert_eq!(
        session.on_frame(frame(0), now),
        vec![Command::Send(Frame::WindowUpdate {
            stream: 0,
            delta: 40_000
        })]
    );
}
