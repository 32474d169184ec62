//! Tests of log options, tailing and following, on temporary files.

use std::io::{Cursor, Write};
use std::time::Duration;

use super::*;

/// What the pump sends for `options`, for a file that does not grow.
async fn read_all(path: &Path, options: LogOptions) -> String {
    let (tx, mut rx) = mpsc::channel(4);
    let pump = tokio::spawn(pump(path.to_owned(), options, tx));
    let mut out = Vec::new();
    while let Some(chunk) = rx.recv().await {
        out.extend_from_slice(&chunk);
    }
    pump.await.unwrap();
    String::from_utf8(out).unwrap()
}

/// Receives until `want` has arrived, within a deadline.
async fn receive_until(rx: &mut mpsc::Receiver<Bytes>, got: &mut String, want: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !got.contains(want) {
        let chunk = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("{want:?} did not arrive; got {got:?}"))
            .expect("the pump stopped early");
        got.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

#[test]
fn tail_offsets() {
    let cases: [(&str, u64, &str); 11] = [
        ("a\nb\nc\n", 1, "c\n"),
        ("a\nb\nc\n", 2, "b\nc\n"),
        ("a\nb\nc\n", 3, "a\nb\nc\n"),
        ("a\nb\nc\n", 10, "a\nb\nc\n"),
        ("a\nb\nc\n", 0, ""),
        ("a\nb\nc", 1, "c"),
        ("a\nb\nc", 2, "b\nc"),
        ("", 3, ""),
        ("\n\n\n", 2, "\n\n"),
        ("one line\n", 1, "one line\n"),
        ("x\n\ny\n", 2, "\ny\n"),
    ];
    for (text, lines, want) in cases {
        let offset = tail_offset(&mut Cursor::new(text), lines).unwrap();
        assert_eq!(&text[offset as usize..], want, "{text:?} tail {lines}");
    }
}

#[test]
fn tail_offsets_across_chunks() {
    // Lines longer than a read chunk, so the newlines sit in different chunks.
    let long = "x".repeat(CHUNK + 10);
    let text = format!("{long}\n{long}\nlast\n");
    let offset = tail_offset(&mut Cursor::new(&text), 2).unwrap();
    assert_eq!(&text[offset as usize..], format!("{long}\nlast\n"));
    assert_eq!(tail_offset(&mut Cursor::new(&text), 3).unwrap(), 0);
}

#[test]
fn query_options() {
    let cases: [(&str, Result<LogOptions, &str>); 10] = [
        ("", Ok(LogOptions::default())),
        (
            "tailLines=10&limitBytes=500&follow=true",
            Ok(LogOptions {
                tail_lines: Some(10),
                limit_bytes: Some(500),
                follow: true,
                ..LogOptions::default()
            }),
        ),
        (
            "tailLines=0",
            Ok(LogOptions {
                tail_lines: Some(0),
                ..LogOptions::default()
            }),
        ),
        (
            "follow=false&timestamps=1",
            Ok(LogOptions {
                timestamps: true,
                ..LogOptions::default()
            }),
        ),
        (
            "follow=0&previous=true&sinceSeconds=5",
            Ok(LogOptions {
                since_seconds: Some(5),
                previous: true,
                ..LogOptions::default()
            }),
        ),
        (
            "sinceTime=2025-06-15T15%3A06%3A40Z",
            Ok(LogOptions {
                since_time: Some("2025-06-15T15:06:40Z".parse().unwrap()),
                ..LogOptions::default()
            }),
        ),
        (
            "sinceTime=yesterday",
            Err("sinceTime: invalid RFC3339 time \"yesterday\""),
        ),
        (
            "tailLines=-1",
            Err("tailLines: must be greater than or equal to 0"),
        ),
        ("limitBytes=0", Err("limitBytes: must be greater than 0")),
        ("tailLines=ten", Err("tailLines: invalid integer \"ten\"")),
    ];
    for (query, want) in cases {
        assert_eq!(
            LogOptions::from_query(query),
            want.map_err(String::from),
            "{query:?}"
        );
    }
}

#[tokio::test]
async fn tail_and_limit_on_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("etcd.log");
    std::fs::write(&path, "one\ntwo\nthree\nfour\n").unwrap();
    let cases: [(LogOptions, &str); 5] = [
        (LogOptions::default(), "one\ntwo\nthree\nfour\n"),
        (
            LogOptions {
                tail_lines: Some(2),
                ..LogOptions::default()
            },
            "three\nfour\n",
        ),
        (
            LogOptions {
                limit_bytes: Some(6),
                ..LogOptions::default()
            },
            "one\ntw",
        ),
        (
            LogOptions {
                tail_lines: Some(2),
                limit_bytes: Some(8),
                ..LogOptions::default()
            },
            "three\nfo",
        ),
        (
            LogOptions {
                tail_lines: Some(0),
                ..LogOptions::default()
            },
            "",
        ),
    ];
    for (options, want) in cases {
        assert_eq!(read_all(&path, options.clone()).await, want, "{options:?}");
    }
    assert_eq!(
        read_all(&dir.path().join("missing.log"), LogOptions::default()).await,
        ""
    );
}

#[tokio::test]
async fn follow_sends_appended_lines_until_the_client_goes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("etcd.log");
    std::fs::write(&path, "old 1\nold 2\n").unwrap();
    let (tx, mut rx) = mpsc::channel(4);
    let options = LogOptions {
        tail_lines: Some(1),
        follow: true,
        ..LogOptions::default()
    };
    let pump = tokio::spawn(pump(path.clone(), options, tx));
    let mut got = String::new();
    receive_until(&mut rx, &mut got, "old 2\n").await;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"new 1\n").unwrap();
    receive_until(&mut rx, &mut got, "new 1\n").await;
    assert_eq!(got, "old 2\nnew 1\n");

    // Truncation (copytruncate rotation): the follower starts again from the top. The new
    // content is shorter than what was read, so the shrink is seen whenever the pump looks.
    std::fs::write(&path, "after rotation\n").unwrap();
    receive_until(&mut rx, &mut got, "after rotation\n").await;

    drop(rx);
    tokio::time::timeout(Duration::from_secs(10), pump)
        .await
        .expect("the pump did not notice the client leaving")
        .unwrap();
}

#[tokio::test]
async fn follow_waits_for_a_file_to_appear_and_honours_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.log");
    let (tx, mut rx) = mpsc::channel(4);
    let options = LogOptions {
        follow: true,
        limit_bytes: Some(5),
        ..LogOptions::default()
    };
    let pump = tokio::spawn(pump(path.clone(), options, tx));
    std::fs::write(&path, "hello world\n").unwrap();
    let mut got = String::new();
    receive_until(&mut rx, &mut got, "hello").await;
    // The limit ends the stream even while following.
    tokio::time::timeout(Duration::from_secs(10), pump)
        .await
        .unwrap()
        .unwrap();
    while let Some(chunk) = rx.recv().await {
        got.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert_eq!(got, "hello");
}
