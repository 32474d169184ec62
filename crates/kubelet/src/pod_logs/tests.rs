//! Tests of stamped log lines: writing, rendering, and serving a real process's output.

use std::time::Duration;

use super::*;

#[test]
fn stamping() {
    let long = "x".repeat(MAX_LINE + 3);
    // (pending before, chunk, flush, output, pending after)
    let cases: Vec<(&str, &str, bool, String, &str)> = vec![
        ("", "a\nb\n", false, "T a\nT b\n".into(), ""),
        ("", "a\npart", false, "T a\n".into(), "part"),
        ("par", "t\n", false, "T part\n".into(), ""),
        ("", "end", true, "T end\n".into(), ""),
        ("", "", true, String::new(), ""),
        ("", "\n", false, "T \n".into(), ""),
        (
            "",
            &long,
            false,
            format!("T {}\n", "x".repeat(MAX_LINE)),
            "xxx",
        ),
    ];
    for (before, chunk, flush, want, after) in cases {
        let mut pending = before.as_bytes().to_vec();
        let out = stamp_lines(&mut pending, chunk.as_bytes(), "T", flush);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            want,
            "{before:?} + {chunk:?}"
        );
        assert_eq!(String::from_utf8(pending).unwrap(), after);
    }
}

#[test]
fn rendering() {
    let since: Timestamp = "2025-06-15T15:06:41Z".parse().unwrap();
    let line = b"2025-06-15T15:06:42.000000001Z hello world\n";
    let old = b"2025-06-15T15:06:40.000000000Z old\n";
    /// (stored line, timestamps, since, what is sent)
    type Case = (
        &'static [u8],
        bool,
        Option<Timestamp>,
        Option<&'static [u8]>,
    );
    let cases: [Case; 6] = [
        (line, false, None, Some(b"hello world\n")),
        (line, true, None, Some(line)),
        (line, false, Some(since), Some(b"hello world\n")),
        (old, false, Some(since), None),
        (
            b"no time here\n",
            false,
            Some(since),
            Some(b"no time here\n"),
        ),
        (b"plain\n", true, None, Some(b"plain\n")),
    ];
    for (input, timestamps, since, want) in cases {
        assert_eq!(
            render_line(input, timestamps, since),
            want,
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

async fn collect(path: &Path, options: LogOptions, done: watch::Receiver<bool>) -> String {
    let (tx, mut rx) = mpsc::channel(4);
    let pump = tokio::spawn(pump(path.to_owned(), options, done, tx));
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while let Some(chunk) = tokio::time::timeout_at(deadline, rx.recv()).await.unwrap() {
        out.extend_from_slice(&chunk);
    }
    pump.await.unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn a_process_output_is_stored_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    let mut child = tokio::process::Command::new("sh")
        .args([
            "-c",
            "echo one; echo two >&2; sleep 0.3; printf 'three\\nfour'",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let file = tokio::fs::File::create(&path).await.unwrap();
    let done = start_writer(
        child.stdout.take().unwrap(),
        child.stderr.take().unwrap(),
        file,
        path.clone(),
    );
    // Following from the start returns once the process has ended and all is written.
    let followed = collect(
        &path,
        LogOptions {
            follow: true,
            ..LogOptions::default()
        },
        done.clone(),
    )
    .await;
    child.wait().await.unwrap();
    let mut lines: Vec<&str> = followed.lines().collect();
    lines[..2].sort();
    assert_eq!(lines, ["one", "two", "three", "four"]);

    let stored = std::fs::read_to_string(&path).unwrap();
    for line in stored.lines() {
        let (time, _) = line.split_once(' ').unwrap();
        assert!(time.parse::<Timestamp>().is_ok(), "{line}");
        assert_eq!(time.len(), "2025-06-15T15:06:42.000000001Z".len(), "{line}");
    }

    let tail = collect(
        &path,
        LogOptions {
            tail_lines: Some(2),
            timestamps: true,
            ..LogOptions::default()
        },
        done.clone(),
    )
    .await;
    assert_eq!(tail.lines().count(), 2);
    assert!(tail.ends_with(" four\n"), "{tail}");

    let limited = collect(
        &path,
        LogOptions {
            tail_lines: Some(1),
            limit_bytes: Some(3),
            ..LogOptions::default()
        },
        done.clone(),
    )
    .await;
    assert_eq!(limited, "fou");

    let recent = collect(
        &path,
        LogOptions {
            since_time: Some(Timestamp::now() + jiff::SignedDuration::from_secs(60)),
            ..LogOptions::default()
        },
        done,
    )
    .await;
    assert_eq!(recent, "");
}
