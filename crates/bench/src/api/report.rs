//! The report of one API run: the same numbers, JSON field names and table columns as the store
//! benchmark's [`crate::report::Report`], with the settings of an API run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::config::Config;
use super::mix::OpKind;
use super::recorder::Recorder;
use crate::duration::format_duration;
use crate::recorder::{ErrorCount, OpRecord};
use crate::report::{LatencySummary, OpReport};

/// How many distinct error messages a report shows.
const ERRORS_SHOWN: usize = 5;

/// Everything an API run measured, with the settings needed to tell runs apart. Field names are
/// stable: scripts compare the JSON of a hakube run with that of a kube-apiserver run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// --label, or the server's URL.
    pub label: String,
    /// The API server's URL, from the kubeconfig.
    pub server: String,
    /// The namespace the objects were written in.
    pub namespace: String,
    /// Whether the run created that namespace (and deleted it afterwards).
    pub namespace_created: bool,
    /// All clients: request loops and watchers.
    pub clients: usize,
    /// Clients that kept a watch open.
    pub watchers: usize,
    /// The operation mix, as `create=20,get=40,list=10,update=20,watch=10`.
    pub mix: String,
    /// The request limit, if any.
    pub max_requests: Option<u64>,
    /// The time limit in seconds, if any.
    pub max_duration_s: Option<f64>,
    /// Bytes of ConfigMap data per object.
    pub object_size: usize,
    /// Objects pre-created for get, list and update.
    pub list_size: usize,
    /// Requests completed, successful or not (watch events are not requests).
    pub total: u64,
    /// Requests that failed.
    pub errors: u64,
    /// The most frequent distinct error messages, watch errors included.
    pub error_messages: Vec<ErrorCount>,
    /// Wall-clock seconds from the first request to the last response.
    pub elapsed_s: f64,
    /// Successful requests per second.
    pub ops_per_s: f64,
    /// Latencies of all successful requests.
    pub latency_ms: LatencySummary,
    /// The same numbers per kind in the mix ("create", "get", "list", "update", "watch"). For
    /// "watch", `total` counts events, `ops_per_s` events per second, and the latency runs from a
    /// write's acknowledgement to its event's arrival; "update" counts its 409 conflicts, which
    /// it retried.
    pub per_op: BTreeMap<String, OpReport>,
    /// Problems around the measurement, such as a clean-up that failed.
    pub warnings: Vec<String>,
}

/// Where a run took place, as found once connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The API server's URL.
    pub server: String,
    /// The namespace the objects went into.
    pub namespace: String,
    /// Whether the run created that namespace.
    pub namespace_created: bool,
}

impl Report {
    /// Builds the report of a finished run.
    pub fn new(config: &Config, target: &Target, recorder: &Recorder, elapsed: Duration) -> Report {
        let requests = recorder.requests();
        let per_op = config
            .mix
            .kinds()
            .map(|kind| {
                (
                    kind.name().to_owned(),
                    op_report(recorder.op(kind), elapsed),
                )
            })
            .collect();
        Report {
            label: config
                .label
                .clone()
                .unwrap_or_else(|| target.server.clone()),
            server: target.server.clone(),
            namespace: target.namespace.clone(),
            namespace_created: target.namespace_created,
            clients: config.clients(),
            watchers: config.watchers,
            mix: config.mix.to_string(),
            max_requests: config.total,
            max_duration_s: config.duration.map(|duration| duration.as_secs_f64()),
            object_size: config.object_size,
            list_size: config.list_size,
            total: requests.total,
            errors: requests.errors,
            error_messages: recorder
                .error_counts()
                .into_iter()
                .take(ERRORS_SHOWN)
                .collect(),
            elapsed_s: round(elapsed.as_secs_f64(), 3),
            ops_per_s: per_second(requests.total - requests.errors, elapsed),
            latency_ms: LatencySummary::from_micros(&requests.latencies_us),
            per_op,
            warnings: Vec::new(),
        }
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> String {
        // Serialising plain numbers, strings and maps with string keys cannot fail.
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"))
    }

    /// The report as a table for people.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.label);
        let created = if self.namespace_created {
            " (created for the run)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  server     {}, namespace {}{created}",
            self.server, self.namespace
        );
        let _ = writeln!(out, "  load       {}", self.load_line());
        let _ = writeln!(out, "  objects    {}", self.objects_line());
        let _ = writeln!(
            out,
            "  result     {} requests, {} errors in {:.3}s: {:.1} ops/s",
            self.total, self.errors, self.elapsed_s, self.ops_per_s
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  {:<6} {:>9} {:>7} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9}",
            "op", "count", "errors", "conflicts", "ops/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        let overall = OpReport {
            total: self.total,
            errors: self.errors,
            conflicts: self
                .per_op
                .get(OpKind::Update.name())
                .map_or(0, |update| update.conflicts),
            ops_per_s: self.ops_per_s,
            latency_ms: self.latency_ms,
        };
        let requests: Vec<(&str, &OpReport)> = self
            .per_op
            .iter()
            .filter(|(name, _)| name.as_str() != OpKind::Watch.name())
            .map(|(name, op)| (name.as_str(), op))
            .collect();
        let mut rows = requests.clone();
        if requests.len() > 1 {
            rows.push(("all", &overall));
        }
        let watch = self.per_op.get(OpKind::Watch.name());
        if let Some(watch) = watch {
            rows.push((OpKind::Watch.name(), watch));
        }
        for (name, op) in rows {
            let conflicts = if name == OpKind::Update.name() || name == "all" {
                op.conflicts.to_string()
            } else {
                "-".to_owned()
            };
            let latency = op.latency_ms;
            let _ = writeln!(
                out,
                "  {:<6} {:>9} {:>7} {:>9} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                name,
                op.total,
                op.errors,
                conflicts,
                op.ops_per_s,
                latency.p50,
                latency.p90,
                latency.p99,
                latency.max
            );
        }
        if watch.is_some() {
            let _ = writeln!(
                out,
                "  (watch counts the events received by {}; its latency runs from a write's acknowledgement to the event's arrival)",
                plural(self.watchers, "watcher")
            );
        }
        if !self.error_messages.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(out, "  errors (most frequent first)");
            for error in &self.error_messages {
                let _ = writeln!(out, "  {:>9}  {}", error.count, error.message);
            }
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "  warning: {warning}");
        }
        out
    }

    fn load_line(&self) -> String {
        let requesters = self.clients - self.watchers;
        let clients = match self.watchers {
            0 => plural(requesters, "client"),
            watchers => format!(
                "{} and {}",
                plural(requesters, "client"),
                plural(watchers, "watcher")
            ),
        };
        let limit = match (self.max_requests, self.max_duration_s) {
            (Some(total), None) => format!("{total} requests"),
            (None, Some(seconds)) => format_duration(Duration::from_secs_f64(seconds)),
            (Some(total), Some(seconds)) => format!(
                "{total} requests or {}, whichever ends first",
                format_duration(Duration::from_secs_f64(seconds))
            ),
            (None, None) => "until interrupted".to_owned(),
        };
        format!("{clients}, {limit}, {}", self.mix)
    }

    fn objects_line(&self) -> String {
        let seeds = match self.list_size {
            0 => "none pre-created".to_owned(),
            count => format!("{count} pre-created for get, list and update"),
        };
        format!(
            "ConfigMaps with {} bytes of data; {seeds}",
            self.object_size
        )
    }
}

fn op_report(record: &OpRecord, elapsed: Duration) -> OpReport {
    OpReport {
        total: record.total,
        errors: record.errors,
        conflicts: record.conflicts,
        ops_per_s: per_second(record.total - record.errors, elapsed),
        latency_ms: LatencySummary::from_micros(&record.latencies_us),
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        round(count as f64 / elapsed.as_secs_f64(), 1)
    }
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10_f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::config::Options;

    fn config() -> Config {
        Options {
            clients: Some(4),
            total: Some(7),
            label: Some("hakube".to_owned()),
            mix: Some(
                "create=1,get=1,update=1,watch=1"
                    .parse()
                    .expect("valid mix"),
            ),
            ..Options::default()
        }
        .resolve()
        .expect("valid options")
    }

    fn target() -> Target {
        Target {
            server: "https://127.0.0.1:6443/".to_owned(),
            namespace: "bench-x7k2q".to_owned(),
            namespace_created: true,
        }
    }

    fn recorder() -> Recorder {
        let mut recorder = Recorder::new();
        for micros in [1000, 2000, 3000] {
            recorder.success(OpKind::Create, Duration::from_micros(micros), 0);
        }
        recorder.success(OpKind::Get, Duration::from_micros(500), 0);
        recorder.success(OpKind::Update, Duration::from_micros(4000), 2);
        recorder.failure(OpKind::Create, "409 AlreadyExists: exists");
        recorder.success(OpKind::Watch, Duration::from_micros(8000), 0);
        recorder.failures(OpKind::Watch, "events not delivered", 2);
        recorder
    }

    #[test]
    fn json_has_stable_field_names() {
        let report = Report::new(&config(), &target(), &recorder(), Duration::from_secs(2));
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("JSON");
        let cases = [
            ("/label", serde_json::json!("hakube")),
            ("/server", serde_json::json!("https://127.0.0.1:6443/")),
            ("/namespace", serde_json::json!("bench-x7k2q")),
            ("/namespace_created", serde_json::json!(true)),
            ("/clients", serde_json::json!(4)),
            ("/watchers", serde_json::json!(1)),
            ("/mix", serde_json::json!("create=1,get=1,update=1,watch=1")),
            ("/max_requests", serde_json::json!(7)),
            ("/max_duration_s", serde_json::Value::Null),
            ("/object_size", serde_json::json!(1024)),
            ("/list_size", serde_json::json!(100)),
            // Watch events are not requests.
            ("/total", serde_json::json!(6)),
            ("/errors", serde_json::json!(1)),
            ("/elapsed_s", serde_json::json!(2.0)),
            ("/ops_per_s", serde_json::json!(2.5)),
            ("/latency_ms/p50", serde_json::json!(2.0)),
            ("/latency_ms/max", serde_json::json!(4.0)),
            ("/per_op/create/total", serde_json::json!(4)),
            ("/per_op/create/errors", serde_json::json!(1)),
            ("/per_op/create/ops_per_s", serde_json::json!(1.5)),
            ("/per_op/get/latency_ms/p99", serde_json::json!(0.5)),
            ("/per_op/update/conflicts", serde_json::json!(2)),
            ("/per_op/watch/total", serde_json::json!(3)),
            ("/per_op/watch/errors", serde_json::json!(2)),
            ("/per_op/watch/latency_ms/p50", serde_json::json!(8.0)),
            (
                "/error_messages/0/message",
                serde_json::json!("watch: events not delivered"),
            ),
            ("/error_messages/0/count", serde_json::json!(2)),
            ("/per_op/list", serde_json::Value::Null),
        ];
        for (pointer, expected) in cases {
            let got = json.pointer(pointer).unwrap_or(&serde_json::Value::Null);
            // Histogram buckets are 0.1% wide, so latencies are compared with that tolerance.
            let close = match (got.as_f64(), expected.as_f64()) {
                (Some(got), Some(expected)) => (got - expected).abs() <= expected * 0.001 + 1e-9,
                _ => *got == expected,
            };
            assert!(close, "field {pointer}: got {got:?}, expected {expected}");
        }
    }

    #[test]
    fn table_shows_each_kind_the_total_and_then_watch() {
        let report = Report::new(&config(), &target(), &recorder(), Duration::from_secs(2));
        let table = report.to_table();
        let expected = [
            "hakube",
            "  server     https://127.0.0.1:6443/, namespace bench-x7k2q (created for the run)",
            "  load       3 clients and 1 watcher, 7 requests, create=1,get=1,update=1,watch=1",
            "  objects    ConfigMaps with 1024 bytes of data; 100 pre-created for get, list and update",
            "  result     6 requests, 1 errors in 2.000s: 2.5 ops/s",
            "",
            "  op         count  errors conflicts      ops/s    p50 ms    p90 ms    p99 ms    max ms",
            "  create         4       1         -        1.5      2.00      3.00      3.00      3.00",
            "  get            1       0         -        0.5      0.50      0.50      0.50      0.50",
            "  update         1       0         2        0.5      4.00      4.00      4.00      4.00",
            "  all            6       1         2        2.5      2.00      4.00      4.00      4.00",
            "  watch          3       2         -        0.5      8.00      8.00      8.00      8.00",
            "  (watch counts the events received by 1 watcher; its latency runs from a write's acknowledgement to the event's arrival)",
            "",
            "  errors (most frequent first)",
            "          2  watch: events not delivered",
            "          1  create: 409 AlreadyExists: exists",
        ];
        assert_eq!(table.lines().collect::<Vec<_>>(), expected, "{table}");
    }

    #[test]
    fn a_single_request_kind_has_no_total_row() {
        let config = Options {
            clients: Some(2),
            duration: Some(Duration::from_secs(3)),
            mix: Some("get=1".parse().expect("valid mix")),
            ..Options::default()
        }
        .resolve()
        .expect("valid options");
        let mut recorder = Recorder::new();
        recorder.success(OpKind::Get, Duration::from_millis(1), 0);
        let mut report = Report::new(
            &config,
            &Target {
                namespace_created: false,
                ..target()
            },
            &recorder,
            Duration::from_secs(3),
        );
        report
            .warnings
            .push("the namespace was not deleted".to_owned());
        let table = report.to_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "https://127.0.0.1:6443/");
        assert_eq!(
            lines[1],
            "  server     https://127.0.0.1:6443/, namespace bench-x7k2q"
        );
        assert_eq!(lines[2], "  load       2 clients, 3s, get=1");
        assert!(!lines.iter().any(|line| line.starts_with("  all")));
        assert!(!lines.iter().any(|line| line.contains("watch")));
        assert_eq!(
            lines.last(),
            Some(&"  warning: the namespace was not deleted")
        );
    }
}
