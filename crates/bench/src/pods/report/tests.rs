//! The pod report's JSON field names, its table, and the SLO verdict, from hand-made books.

use std::time::Duration;

use super::*;
use crate::pods::config::Options;
use crate::pods::status::Observation;
use crate::pods::timeline::Timeline;

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn config(count: usize) -> Config {
    Options {
        count: Some(count),
        concurrency: Some(2),
        label: Some("hakube".to_owned()),
        ..Options::default()
    }
    .resolve()
    .expect("valid options")
}

fn target() -> Target {
    Target {
        server: "https://127.0.0.49.254:8443/".to_owned(),
        namespace: "bench-pods-x7k2q".to_owned(),
        namespace_created: true,
    }
}

fn observation(node: Option<&str>, running: bool, detail: &str) -> Observation {
    Observation {
        node: node.map(str::to_owned),
        running,
        ended: false,
        detail: detail.to_owned(),
    }
}

/// A book where pod `i` (of those in `startups`) is sent at 10·i ms, returns 5 ms later, is
/// bound 20 ms after that and starts `startups[i]` ms after its create returned; the pods after
/// them are created but never scheduled.
fn timeline(startups: &[u64], unscheduled: usize) -> Timeline {
    let mut timeline = Timeline::new(startups.len() + unscheduled);
    for (index, startup) in startups.iter().enumerate() {
        let sent = 10 * index as u64;
        timeline.sent(index, ms(sent));
        timeline.returned(index, ms(sent + 5), Ok(()));
        timeline.observed(
            index,
            ms(sent + 25),
            &observation(Some("n1"), false, "Pending on a node"),
        );
        timeline.observed(
            index,
            ms(sent + 5 + startup),
            &observation(Some("n1"), true, "Running"),
        );
    }
    for index in startups.len()..startups.len() + unscheduled {
        timeline.sent(index, ms(0));
        timeline.returned(index, ms(5), Ok(()));
        timeline.observed(
            index,
            ms(6),
            &observation(
                None,
                false,
                "not scheduled: Unschedulable: 0/3 nodes are available",
            ),
        );
    }
    timeline
}

fn report(startups: &[u64], unscheduled: usize, ending: Ending) -> Report {
    let timeline = timeline(startups, unscheduled);
    Report::new(
        &config(startups.len() + unscheduled),
        &target(),
        &Summary::of(&timeline),
        ms(1500),
        ending,
    )
}

#[test]
fn json_has_stable_field_names() {
    let report = report(&[300, 500], 0, Ending::Completed);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("JSON");
    let cases = [
        ("/label", serde_json::json!("hakube")),
        ("/server", serde_json::json!("https://127.0.0.49.254:8443/")),
        ("/namespace", serde_json::json!("bench-pods-x7k2q")),
        ("/namespace_created", serde_json::json!(true)),
        ("/image", serde_json::json!("hakube/pause")),
        ("/pods", serde_json::json!(2)),
        ("/concurrency", serde_json::json!(2)),
        ("/timeout_s", serde_json::json!(120.0)),
        ("/ending", serde_json::json!("completed")),
        ("/sent", serde_json::json!(2)),
        ("/not_sent", serde_json::json!(0)),
        ("/created", serde_json::json!(2)),
        ("/bound", serde_json::json!(2)),
        ("/running", serde_json::json!(2)),
        ("/not_started", serde_json::json!(0)),
        ("/elapsed_s", serde_json::json!(1.5)),
        // Two created by 15 ms; two bound by 35 ms.
        ("/created_per_s", serde_json::json!(133.3)),
        ("/scheduled_per_s", serde_json::json!(57.1)),
        ("/scheduling_s", serde_json::json!(0.035)),
        ("/reference_scheduled_per_s", serde_json::json!(100.0)),
        ("/create/count", serde_json::json!(2)),
        ("/create/latency_ms/p50", serde_json::json!(5.0)),
        ("/schedule/latency_ms/max", serde_json::json!(20.0)),
        ("/run/latency_ms/p50", serde_json::json!(280.0)),
        ("/startup/count", serde_json::json!(2)),
        ("/startup/latency_ms/p50", serde_json::json!(300.0)),
        ("/startup/latency_ms/p99", serde_json::json!(500.0)),
        ("/startup/latency_ms/mean", serde_json::json!(400.0)),
        ("/create_errors", serde_json::json!([])),
        ("/not_running", serde_json::json!([])),
        ("/startup_slo/passed", serde_json::json!(true)),
        ("/startup_slo/failures", serde_json::json!([])),
        ("/warnings", serde_json::json!([])),
    ];
    for (pointer, expected) in cases {
        let got = json.pointer(pointer).unwrap_or(&serde_json::Value::Null);
        assert_eq!(*got, expected, "field {pointer}");
    }
}

#[test]
fn the_slo_verdict_needs_every_pod_started_and_a_p99_of_5s() {
    let hundred = |slowest: u64| {
        let mut startups = vec![400; 98];
        startups.extend([slowest, slowest]);
        startups
    };
    // (startups, unscheduled pods, ending) -> failures
    let cases: Vec<(Vec<u64>, usize, Ending, Vec<&str>)> = vec![
        (hundred(900), 0, Ending::Completed, vec![]),
        (hundred(5000), 0, Ending::Completed, vec![]),
        (
            hundred(5001),
            0,
            Ending::Completed,
            vec!["p99 start-up latency 5.001s is over 5s"],
        ),
        (
            vec![400; 90],
            10,
            Ending::TimedOut,
            vec!["10 of 100 pods did not start within 120s"],
        ),
        (
            vec![400; 3],
            1,
            Ending::Interrupted,
            vec!["1 of 4 pods did not start before the run was stopped"],
        ),
        (
            vec![],
            2,
            Ending::TimedOut,
            vec!["2 of 2 pods did not start within 120s"],
        ),
    ];
    for (startups, unscheduled, ending, failures) in cases {
        let report = report(&startups, unscheduled, ending);
        assert_eq!(
            (
                report.startup_slo.passed,
                report.startup_slo.failures.clone()
            ),
            (
                failures.is_empty(),
                failures.iter().map(|f| (*f).to_owned()).collect()
            ),
            "{} started, {unscheduled} unscheduled, {ending:?}",
            startups.len()
        );
    }
}

#[test]
fn table_shows_the_stages_the_throughput_and_the_verdict() {
    let table = report(&[300, 500], 0, Ending::Completed).to_table();
    let expected = [
        "hakube",
        "  server     https://127.0.0.49.254:8443/, namespace bench-pods-x7k2q (created for the run)",
        "  load       2 pods of hakube/pause, 2 creates at a time, timeout 120s",
        "  result     2 created, 2 bound, 2 started in 1.500s",
        "",
        "  stage       pods    p50 ms    p90 ms    p99 ms    max ms",
        "  create         2      5.00      5.00      5.00      5.00",
        "  schedule       2     20.00     20.00     20.00     20.00",
        "  run            2    280.00    480.00    480.00    480.00",
        "  startup        2    300.00    500.00    500.00    500.00",
        "  (create: request to response; schedule: created to bound; run: bound to started; \
         startup: created to started; bound and started as seen by a watch)",
        "",
        "  scheduler  57.1 pods/s: 2 bound in 0.035s from the first create (Kubernetes' load \
         test expects 100 pods/s); created at 133.3 pods/s",
        "  start-up SLO (p99 <= 5s): PASS, p99 500ms (hakube aims for under 1s: met)",
    ];
    assert_eq!(table.lines().collect::<Vec<_>>(), expected, "{table}");
}

#[test]
fn table_says_which_pods_did_not_start_and_why() {
    let mut report = report(&[1200, 1500], 2, Ending::TimedOut);
    report
        .warnings
        .push("namespace bench-pods-x7k2q was not deleted: 500".to_owned());
    let table = report.to_table();
    let tail: Vec<&str> = table
        .lines()
        .skip_while(|line| !line.starts_with("  start-up SLO"))
        .collect();
    let expected = [
        "  start-up SLO (p99 <= 5s): FAIL: 2 of 4 pods did not start within 120s",
        "  start-up SLO (p99 <= 5s): p99 1.5s (hakube aims for under 1s: missed)",
        "",
        "  not started (by what the watch last showed)",
        "          2  not scheduled: Unschedulable: 0/3 nodes are available",
        "  warning: namespace bench-pods-x7k2q was not deleted: 500",
    ];
    assert_eq!(tail, expected, "{table}");
    assert!(
        table.contains(
            "  result     4 created, 2 bound, 2 started in 1.500s (timed out after 120s)"
        ),
        "{table}"
    );
}

#[test]
fn a_run_stopped_early_shows_no_latency_for_stages_no_pod_reached() {
    let mut timeline = Timeline::new(3);
    timeline.sent(0, ms(0));
    timeline.returned(0, ms(8), Ok(()));
    timeline.observed(
        0,
        ms(30),
        &observation(Some("n1"), false, "Pending on a node"),
    );
    let report = Report::new(
        &config(3),
        &target(),
        &Summary::of(&timeline),
        ms(250),
        Ending::Interrupted,
    );
    let table = report.to_table();
    let lines: Vec<&str> = table.lines().collect();
    let expected_stages = [
        "  create         1      8.00      8.00      8.00      8.00",
        "  schedule       1     22.00     22.00     22.00     22.00",
        "  run            0         -         -         -         -",
        "  startup        0         -         -         -         -",
    ];
    assert_eq!(lines[6..10], expected_stages, "{table}");
    let tail: Vec<&str> = table
        .lines()
        .skip_while(|line| !line.starts_with("  start-up SLO"))
        .collect();
    let expected_tail = [
        "  start-up SLO (p99 <= 5s): FAIL: 3 of 3 pods did not start before the run was stopped",
        "",
        "  not started (by what the watch last showed)",
        "          1  Pending on a node",
        "          2  not created: the run ended before its create was sent",
    ];
    assert_eq!(tail, expected_tail, "{table}");
    assert_eq!(
        (report.sent, report.not_sent, report.ending),
        (1, 2, Ending::Interrupted)
    );
    assert!(
        lines[3].ends_with("1 created, 1 bound, 0 started in 0.250s (stopped early)"),
        "{table}"
    );
}
