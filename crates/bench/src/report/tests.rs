//! Table tests for the report: numbers in, JSON fields and table lines out.

use std::time::Duration;

use super::*;
use crate::store::config::Options;

fn config(extra: impl FnOnce(&mut Options)) -> Config {
    let mut options = Options {
        endpoints: vec!["127.0.0.1:2379".to_owned()],
        label: Some("etcd".to_owned()),
        clients: Some(4),
        total: Some(6),
        mix: Some("put=50,range=40,txn=10".parse().expect("valid mix")),
        ..Options::default()
    };
    extra(&mut options);
    options.resolve().expect("valid options")
}

fn recorder() -> Recorder {
    let mut recorder = Recorder::new();
    for micros in [1000, 2000, 3000] {
        recorder.success(OpKind::Put, Duration::from_micros(micros), false);
    }
    recorder.success(OpKind::Range, Duration::from_micros(500), false);
    recorder.success(OpKind::Txn, Duration::from_micros(4000), true);
    recorder.failure(OpKind::Put, "Unavailable: etcdserver: leader changed");
    recorder
}

#[test]
fn summarises_latencies_in_milliseconds() {
    let mut histogram = crate::recorder::new_histogram();
    for micros in 1..=1000 {
        histogram.record(micros).expect("auto-resizing histogram");
    }
    let summary = LatencySummary::from_micros(&histogram);
    let cases = [
        ("p50", summary.p50, 0.5),
        ("p90", summary.p90, 0.9),
        ("p99", summary.p99, 0.99),
        ("max", summary.max, 1.0),
    ];
    for (name, got, expected) in cases {
        assert!(
            (got - expected).abs() < 0.002,
            "{name}: got {got}, expected {expected}"
        );
    }
    let empty = LatencySummary::from_micros(&crate::recorder::new_histogram());
    assert_eq!((empty.p50, empty.max, empty.stddev), (0.0, 0.0, 0.0));
}

#[test]
fn json_has_stable_field_names() {
    let report = Report::new(&config(|_| {}), None, &recorder(), Duration::from_secs(2));
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
    let cases = [
        ("/label", serde_json::json!("etcd")),
        ("/endpoints/0", serde_json::json!("http://127.0.0.1:2379")),
        ("/clients", serde_json::json!(4)),
        ("/conns", serde_json::json!(1)),
        ("/total", serde_json::json!(6)),
        ("/errors", serde_json::json!(1)),
        ("/elapsed_s", serde_json::json!(2.0)),
        ("/ops_per_s", serde_json::json!(2.5)),
        ("/latency_ms/p50", serde_json::json!(2.0)),
        ("/latency_ms/max", serde_json::json!(4.0)),
        ("/per_op/put/total", serde_json::json!(4)),
        ("/per_op/put/errors", serde_json::json!(1)),
        ("/per_op/put/ops_per_s", serde_json::json!(1.5)),
        ("/per_op/range/latency_ms/p99", serde_json::json!(0.5)),
        ("/per_op/txn/conflicts", serde_json::json!(1)),
        (
            "/error_messages/0/message",
            serde_json::json!("put: Unavailable: etcdserver: leader changed"),
        ),
        ("/error_messages/0/count", serde_json::json!(1)),
        ("/mix", serde_json::json!("put=50,range=40,txn=10")),
        ("/consistency", serde_json::json!("linearizable")),
        ("/check", serde_json::Value::Null),
    ];
    for (pointer, expected) in cases {
        let got = json.pointer(pointer);
        // Histogram buckets are 0.1% wide, so latencies are compared with that tolerance.
        let close = match (got.and_then(serde_json::Value::as_f64), expected.as_f64()) {
            (Some(got), Some(expected)) => (got - expected).abs() <= expected * 0.001 + 1e-9,
            _ => got == Some(&expected),
        };
        assert!(close, "field {pointer}: got {got:?}, expected {expected}");
    }
}

#[test]
fn table_shows_each_kind_and_the_total() {
    let report = Report::new(&config(|_| {}), None, &recorder(), Duration::from_secs(2));
    let table = report.to_table();
    let expected_lines = [
        "etcd",
        "  endpoints  http://127.0.0.1:2379",
        "  load       4 clients on 1 connection, 6 requests, put=50,range=40,txn=10",
        "  keys       10000 random keys of 8 bytes, 256-byte values, linearizable ranges",
        "  result     6 requests, 1 errors in 2.000s: 2.5 ops/s",
        "  op      requests  errors conflicts      ops/s    p50 ms    p90 ms    p99 ms    max ms",
        "  put            4       1         -        1.5      2.00      3.00      3.00      3.00",
        "  range          1       0         -        0.5      0.50      0.50      0.50      0.50",
        "  txn            1       0         1        0.5      4.00      4.00      4.00      4.00",
        "  all            6       1         1        2.5      2.00      4.00      4.00      4.00",
        "          1  put: Unavailable: etcdserver: leader changed",
    ];
    for line in expected_lines {
        assert!(
            table.lines().any(|got| got == line),
            "missing line {line:?} in:\n{table}"
        );
    }
}

#[test]
fn a_single_kind_has_no_total_row() {
    let report = Report::new(
        &config(|options| options.mix = None),
        None,
        &recorder(),
        Duration::from_secs(1),
    );
    let table = report.to_table();
    assert!(
        !table
            .lines()
            .any(|line| line.trim_start().starts_with("all"))
    );
    assert!(
        table
            .lines()
            .any(|line| line == "  keys       10000 random keys of 8 bytes, 256-byte values"),
        "{table}"
    );
    assert_eq!(report.per_op.keys().collect::<Vec<_>>(), ["put"]);
}

#[test]
fn the_check_perf_verdict_applies_etcdctls_bar() {
    let preset = |options: &mut Options| {
        options.preset = Some(Preset::CheckPerfL);
        options.mix = None;
        options.clients = None;
    };
    let fast = {
        let mut recorder = Recorder::new();
        for _ in 0..7500 {
            recorder.success(OpKind::Put, Duration::from_millis(2), false);
        }
        recorder
    };
    let slow = {
        let mut recorder = Recorder::new();
        recorder.success(OpKind::Put, Duration::from_millis(1), false);
        recorder.success(OpKind::Put, Duration::from_millis(600), false);
        recorder.failure(OpKind::Put, "DeadlineExceeded: timeout");
        recorder
    };
    // (recorder, expected failures mentioning these words)
    let cases: [(&Recorder, &[&str]); 2] = [
        (&fast, &[]),
        (
            &slow,
            &["requests failed", "throughput", "slowest request", "stddev"],
        ),
    ];
    for (recorder, expected) in cases {
        let report = Report::new(&config(preset), None, recorder, Duration::from_secs(1));
        let table = report.to_table();
        assert!(
            table
                .lines()
                .any(|line| line == "  keys       2^64 random keys of 276 bytes, 1024-byte values"),
            "{table}"
        );
        let check = report.check.as_ref().expect("a preset has a verdict");
        assert_eq!(check.passed, expected.is_empty(), "{check:?}");
        assert_eq!(check.failures.len(), expected.len(), "{check:?}");
        for (failure, word) in check.failures.iter().zip(expected) {
            assert!(
                failure.contains(word),
                "{failure:?} should mention {word:?}"
            );
        }
    }
}
