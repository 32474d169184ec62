//! The report of one run: numbers with stable names for JSON, and a table for people.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::duration::format_duration;
use crate::recorder::{ErrorCount, OpRecord, Recorder};
use crate::store::config::{Config, Preset};
use crate::store::endpoint::Endpoint;
use crate::store::mix::OpKind;

/// How many distinct error messages a report shows.
const ERRORS_SHOWN: usize = 5;

/// Latency percentiles of successful requests, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest request.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Standard deviation.
    pub stddev: f64,
}

impl LatencySummary {
    /// Summarises a histogram of microseconds; an empty one gives zeros.
    pub fn from_micros(histogram: &Histogram<u64>) -> LatencySummary {
        if histogram.is_empty() {
            return LatencySummary {
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                max: 0.0,
                mean: 0.0,
                stddev: 0.0,
            };
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        LatencySummary {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            max: ms(histogram.max()),
            mean: round(histogram.mean() / 1000.0, 3),
            stddev: round(histogram.stdev() / 1000.0, 3),
        }
    }
}

/// The numbers of one operation kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpReport {
    /// Requests completed, successful or not.
    pub total: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Transactions whose compare failed (always 0 for puts and ranges).
    pub conflicts: u64,
    /// Successful requests per second of the run's elapsed time.
    pub ops_per_s: f64,
    /// Latencies of the successful requests.
    pub latency_ms: LatencySummary,
}

impl OpReport {
    fn new(record: &OpRecord, elapsed: Duration) -> OpReport {
        OpReport {
            total: record.total,
            errors: record.errors,
            conflicts: record.conflicts,
            ops_per_s: per_second(record.total - record.errors, elapsed),
            latency_ms: LatencySummary::from_micros(&record.latencies_us),
        }
    }
}

/// Whether a preset run met the bar of the tool it mimics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// True when there are no failures.
    pub passed: bool,
    /// One sentence per criterion that was missed.
    pub failures: Vec<String>,
}

/// Everything a run measured, with the settings needed to tell runs apart. Field names are stable:
/// scripts compare the JSON of a hakube run with that of an etcd run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// --label, or the endpoints.
    pub label: String,
    /// The endpoints as given (normalised).
    pub endpoints: Vec<String>,
    /// The endpoint all requests went to, when --target-leader picked it.
    pub leader: Option<String>,
    /// The preset the run mimics.
    pub preset: Option<String>,
    /// Concurrent request loops.
    pub clients: usize,
    /// gRPC connections.
    pub conns: usize,
    /// The operation mix, as `put=50,range=40,txn=10`.
    pub mix: String,
    /// The request limit, if any.
    pub max_requests: Option<u64>,
    /// The time limit in seconds, if any.
    pub max_duration_s: Option<f64>,
    /// The rate limit in requests per second, if any.
    pub rate: Option<u64>,
    /// Bytes per key, prefix included.
    pub key_size: usize,
    /// Bytes per value.
    pub val_size: usize,
    /// Distinct keys.
    pub key_space_size: u64,
    /// Whether keys were taken in order.
    pub sequential_keys: bool,
    /// "linearizable" or "serializable" ranges.
    pub consistency: String,
    /// Requests completed, successful or not.
    pub total: u64,
    /// Requests that failed.
    pub errors: u64,
    /// The most frequent distinct error messages.
    pub error_messages: Vec<ErrorCount>,
    /// Wall-clock seconds from the first request to the last response.
    pub elapsed_s: f64,
    /// Successful requests per second.
    pub ops_per_s: f64,
    /// Latencies of all successful requests.
    pub latency_ms: LatencySummary,
    /// The same numbers per operation kind in the mix ("put", "range", "txn").
    pub per_op: BTreeMap<String, OpReport>,
    /// The preset's pass/fail verdict.
    pub check: Option<Verdict>,
    /// Problems around the measurement, such as a clean-up that failed.
    pub warnings: Vec<String>,
}

impl Report {
    /// Builds the report of a finished run.
    pub fn new(
        config: &Config,
        leader: Option<&Endpoint>,
        recorder: &Recorder,
        elapsed: Duration,
    ) -> Report {
        let overall = recorder.overall();
        let per_op = config
            .mix
            .kinds()
            .map(|kind| {
                (
                    kind.name().to_owned(),
                    OpReport::new(recorder.op(kind), elapsed),
                )
            })
            .collect();
        let mut report = Report {
            label: config.label.clone(),
            endpoints: config.endpoints.iter().map(Endpoint::to_string).collect(),
            leader: leader.map(Endpoint::to_string),
            preset: config.preset.map(|preset| preset.name().to_owned()),
            clients: config.clients,
            conns: config.conns,
            mix: config.mix.to_string(),
            max_requests: config.total,
            max_duration_s: config.duration.map(|duration| duration.as_secs_f64()),
            rate: config.rate,
            key_size: config.keys.prefix().len() + config.keys.key_size(),
            val_size: config.val_size,
            key_space_size: config.keys.size(),
            sequential_keys: config.keys.sequential(),
            consistency: config.consistency.name().to_owned(),
            total: overall.total,
            errors: overall.errors,
            error_messages: recorder
                .error_counts()
                .into_iter()
                .take(ERRORS_SHOWN)
                .collect(),
            elapsed_s: round(elapsed.as_secs_f64(), 3),
            ops_per_s: per_second(overall.total - overall.errors, elapsed),
            latency_ms: LatencySummary::from_micros(&overall.latencies_us),
            per_op,
            check: None,
            warnings: Vec::new(),
        };
        report.check = config.preset.map(|preset| match preset {
            Preset::CheckPerfL => check_perf_verdict(&report),
        });
        report
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
        let _ = writeln!(out, "  endpoints  {}", self.endpoints.join(","));
        if let Some(leader) = &self.leader {
            let _ = writeln!(out, "  leader     {leader}");
        }
        let _ = writeln!(out, "  load       {}", self.load_line());
        let _ = writeln!(out, "  keys       {}", self.keys_line());
        let _ = writeln!(
            out,
            "  result     {} requests, {} errors in {:.3}s: {:.1} ops/s",
            self.total, self.errors, self.elapsed_s, self.ops_per_s
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  {:<6} {:>9} {:>7} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9}",
            "op",
            "requests",
            "errors",
            "conflicts",
            "ops/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms"
        );
        let mut rows: Vec<(&str, &OpReport)> = self
            .per_op
            .iter()
            .map(|(name, op)| (name.as_str(), op))
            .collect();
        let overall = OpReport {
            total: self.total,
            errors: self.errors,
            conflicts: self.per_op.values().map(|op| op.conflicts).sum(),
            ops_per_s: self.ops_per_s,
            latency_ms: self.latency_ms,
        };
        if rows.len() > 1 {
            rows.push(("all", &overall));
        }
        for (name, op) in rows {
            let conflicts = if name == OpKind::Txn.name() || name == "all" {
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
        if !self.error_messages.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(out, "  errors (most frequent first)");
            for error in &self.error_messages {
                let _ = writeln!(out, "  {:>9}  {}", error.count, error.message);
            }
        }
        if let (Some(preset), Some(check)) = (&self.preset, &self.check) {
            let _ = writeln!(out);
            if check.passed {
                let _ = writeln!(out, "  {preset}: PASS");
            } else {
                for failure in &check.failures {
                    let _ = writeln!(out, "  {preset}: FAIL: {failure}");
                }
            }
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "  warning: {warning}");
        }
        out
    }

    fn keys_line(&self) -> String {
        let space = if self.key_space_size == u64::MAX {
            "2^64".to_owned()
        } else {
            self.key_space_size.to_string()
        };
        let order = if self.sequential_keys {
            "sequential"
        } else {
            "random"
        };
        // Consistency only matters to ranges, so it is left out of put-only runs.
        let ranges = if self.per_op.contains_key(OpKind::Range.name()) {
            format!(", {} ranges", self.consistency)
        } else {
            String::new()
        };
        format!(
            "{space} {order} keys of {} bytes, {}-byte values{ranges}",
            self.key_size, self.val_size
        )
    }

    fn load_line(&self) -> String {
        let connections = if self.conns == 1 {
            "connection"
        } else {
            "connections"
        };
        let limit = match (self.max_requests, self.max_duration_s) {
            (Some(total), None) => format!("{total} requests"),
            (None, Some(seconds)) => format_duration(Duration::from_secs_f64(seconds)),
            (Some(total), Some(seconds)) => {
                format!(
                    "{total} requests or {}, whichever ends first",
                    format_duration(Duration::from_secs_f64(seconds))
                )
            }
            (None, None) => "until interrupted".to_owned(),
        };
        let rate = self
            .rate
            .map(|rate| format!(", at most {rate} requests/s"))
            .unwrap_or_default();
        let preset = self
            .preset
            .as_ref()
            .map(|preset| format!(" (preset {preset})"))
            .unwrap_or_default();
        format!(
            "{} clients on {} {connections}, {limit}{rate}, {}{preset}",
            self.clients, self.conns, self.mix
        )
    }
}

/// The bar `etcdctl check perf` sets: no errors, at least 90% of the target rate, no request
/// slower than half a second, and a standard deviation of at most 100 ms.
fn check_perf_verdict(report: &Report) -> Verdict {
    let mut failures = Vec::new();
    if report.errors > 0 {
        failures.push(format!("{} requests failed", report.errors));
    }
    if let Some(rate) = report.rate
        && report.ops_per_s <= 0.9 * rate as f64
    {
        failures.push(format!(
            "throughput {:.0} writes/s is not above 90% of the {rate}/s target",
            report.ops_per_s
        ));
    }
    if report.latency_ms.max > 500.0 {
        failures.push(format!(
            "slowest request took {:.2} ms, more than 500 ms",
            report.latency_ms.max
        ));
    }
    if report.latency_ms.stddev > 100.0 {
        failures.push(format!(
            "latency stddev is {:.2} ms, more than 100 ms",
            report.latency_ms.stddev
        ));
    }
    Verdict {
        passed: failures.is_empty(),
        failures,
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
mod tests;
