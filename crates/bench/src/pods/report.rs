//! The report of one pod start-up run: each stage's latency percentiles, the scheduler's
//! throughput, the pods that did not start and why, and the verdict of Kubernetes' pod start-up
//! SLO, as a table for people or one JSON object.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::config::Config;
use super::summary::{Stage, Summary};
use crate::api::report::Target;
use crate::duration::format_duration;
use crate::recorder::ErrorCount;
use crate::report::Verdict;

/// Kubernetes' pod start-up SLO: the 99th percentile of start-up latency is at most 5 s.
pub const SLO_P99: Duration = Duration::from_secs(5);
/// What hakube aims for: a p99 start-up latency under 1 s.
pub const AIM_P99: Duration = Duration::from_secs(1);
/// The scheduling throughput Kubernetes' load test expects, in pods per second.
pub const REFERENCE_PODS_PER_S: f64 = 100.0;

/// How the wait for the pods ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Every created pod started or ended.
    Completed,
    /// The --timeout passed first; the pods still waiting count as not started.
    TimedOut,
    /// The run was stopped (Ctrl-C) first.
    Interrupted,
}

/// Everything a run measured, with the settings needed to tell runs apart. Field names are
/// stable: scripts compare the JSON of a hakube run with that of a real cluster's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// --label, or the server's URL.
    pub label: String,
    /// The API server's URL, from the kubeconfig.
    pub server: String,
    /// The namespace the pods were created in.
    pub namespace: String,
    /// Whether the run created that namespace (and deleted it afterwards).
    pub namespace_created: bool,
    /// The pods' image.
    pub image: String,
    /// Pods the run set out to create.
    pub pods: usize,
    /// Create calls in flight at once.
    pub concurrency: usize,
    /// How long the pods had, from the first create, to start.
    pub timeout_s: f64,
    /// How the wait ended.
    pub ending: Ending,
    /// Pods whose create was sent.
    pub sent: usize,
    /// Pods whose create was never sent, because the run ended first.
    pub not_sent: usize,
    /// Pods created.
    pub created: usize,
    /// Created pods seen bound to a node.
    pub bound: usize,
    /// Created pods seen started.
    pub running: usize,
    /// Pods of the run that did not start, for whatever reason (never sent, refused, not
    /// scheduled, not run).
    pub not_started: usize,
    /// Seconds from the first create sent to the end of the wait.
    pub elapsed_s: f64,
    /// Pods created per second, from the first create sent to the last create returned.
    pub created_per_s: f64,
    /// The scheduler's throughput: pods bound per second, from the first create sent to the
    /// last binding seen.
    pub scheduled_per_s: f64,
    /// Seconds from the first create sent to the last binding seen.
    pub scheduling_s: f64,
    /// What Kubernetes' load test expects of `scheduled_per_s`.
    pub reference_scheduled_per_s: f64,
    /// Create calls, from the request sent to the response.
    pub create: Stage,
    /// From the create returned to the watch showing the pod bound.
    pub schedule: Stage,
    /// From the watch showing the pod bound to the watch showing it started.
    pub run: Stage,
    /// From the create returned to the watch showing the pod started: the SLO's measure.
    pub startup: Stage,
    /// Creates that failed, by reason.
    pub create_errors: Vec<ErrorCount>,
    /// Created pods that did not start, by what the watch last showed of them.
    pub not_running: Vec<ErrorCount>,
    /// Kubernetes' pod start-up SLO: p99 at most 5 s, and every pod started.
    pub startup_slo: Verdict,
    /// Problems around the measurement, such as a clean-up that failed.
    pub warnings: Vec<String>,
}

impl Report {
    /// Builds the report of a finished run.
    pub fn new(
        config: &Config,
        target: &Target,
        summary: &Summary,
        elapsed: Duration,
        ending: Ending,
    ) -> Report {
        let not_started = config.count.saturating_sub(summary.running);
        let mut report = Report {
            label: config
                .label
                .clone()
                .unwrap_or_else(|| target.server.clone()),
            server: target.server.clone(),
            namespace: target.namespace.clone(),
            namespace_created: target.namespace_created,
            image: config.image.clone(),
            pods: config.count,
            concurrency: config.concurrency,
            timeout_s: config.timeout.as_secs_f64(),
            ending,
            sent: summary.sent,
            not_sent: config.count.saturating_sub(summary.sent),
            created: summary.created,
            bound: summary.bound,
            running: summary.running,
            not_started,
            elapsed_s: round3(elapsed.as_secs_f64()),
            created_per_s: summary.created_per_s,
            scheduled_per_s: summary.bound_per_s,
            scheduling_s: round3(summary.binding_span.as_secs_f64()),
            reference_scheduled_per_s: REFERENCE_PODS_PER_S,
            create: summary.create,
            schedule: summary.schedule,
            run: summary.run,
            startup: summary.startup,
            create_errors: summary.create_errors.clone(),
            not_running: summary.not_running.clone(),
            startup_slo: Verdict {
                passed: true,
                failures: Vec::new(),
            },
            warnings: Vec::new(),
        };
        report.startup_slo = report.slo_verdict();
        report
    }

    fn slo_verdict(&self) -> Verdict {
        let mut failures = Vec::new();
        if self.not_started > 0 {
            let why = match self.ending {
                Ending::Completed => String::new(),
                Ending::TimedOut => format!(" within {}", self.timeout()),
                Ending::Interrupted => " before the run was stopped".to_owned(),
            };
            failures.push(format!(
                "{} of {} pods did not start{why}",
                self.not_started, self.pods
            ));
        }
        let p99 = self.startup.latency_ms.p99;
        if self.startup.count > 0 && p99 > SLO_P99.as_secs_f64() * 1000.0 {
            failures.push(format!(
                "p99 start-up latency {} is over {}",
                millis(p99),
                format_duration(SLO_P99)
            ));
        }
        Verdict {
            passed: failures.is_empty(),
            failures,
        }
    }

    fn timeout(&self) -> String {
        format_duration(Duration::from_secs_f64(self.timeout_s))
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> String {
        // Serialising plain numbers, strings and lists cannot fail.
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
        let _ = writeln!(
            out,
            "  load       {} pods of {}, {} creates at a time, timeout {}",
            self.pods,
            self.image,
            self.concurrency,
            self.timeout()
        );
        let ending = match self.ending {
            Ending::Completed => String::new(),
            Ending::TimedOut => format!(" (timed out after {})", self.timeout()),
            Ending::Interrupted => " (stopped early)".to_owned(),
        };
        let _ = writeln!(
            out,
            "  result     {} created, {} bound, {} started in {:.3}s{ending}",
            self.created, self.bound, self.running, self.elapsed_s
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  {:<9} {:>6} {:>9} {:>9} {:>9} {:>9}",
            "stage", "pods", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        for (name, stage) in [
            ("create", &self.create),
            ("schedule", &self.schedule),
            ("run", &self.run),
            ("startup", &self.startup),
        ] {
            let latency = stage.latency_ms;
            if stage.count == 0 {
                // Zeros would read as instant; no pod got this far.
                let _ = writeln!(
                    out,
                    "  {:<9} {:>6} {:>9} {:>9} {:>9} {:>9}",
                    name, 0, "-", "-", "-", "-"
                );
                continue;
            }
            let _ = writeln!(
                out,
                "  {:<9} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                name, stage.count, latency.p50, latency.p90, latency.p99, latency.max
            );
        }
        let _ = writeln!(
            out,
            "  (create: request to response; schedule: created to bound; run: bound to started; \
             startup: created to started; bound and started as seen by a watch)"
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  scheduler  {:.1} pods/s: {} bound in {:.3}s from the first create \
             (Kubernetes' load test expects {:.0} pods/s); created at {:.1} pods/s",
            self.scheduled_per_s,
            self.bound,
            self.scheduling_s,
            self.reference_scheduled_per_s,
            self.created_per_s
        );
        let aim = if self.startup.count == 0 {
            String::new()
        } else {
            let met = if self.startup.latency_ms.p99 < AIM_P99.as_secs_f64() * 1000.0 {
                "met"
            } else {
                "missed"
            };
            format!(
                ", p99 {} (hakube aims for under {}: {met})",
                millis(self.startup.latency_ms.p99),
                format_duration(AIM_P99)
            )
        };
        let slo = format!("start-up SLO (p99 <= {})", format_duration(SLO_P99));
        if self.startup_slo.passed {
            let _ = writeln!(out, "  {slo}: PASS{aim}");
        } else {
            for failure in &self.startup_slo.failures {
                let _ = writeln!(out, "  {slo}: FAIL: {failure}");
            }
            if !aim.is_empty() {
                let _ = writeln!(out, "  {slo}: {}", aim.trim_start_matches(", "));
            }
        }
        let mut not_running = self.not_running.clone();
        if self.not_sent > 0 {
            not_running.push(ErrorCount {
                message: "not created: the run ended before its create was sent".to_owned(),
                count: self.not_sent as u64,
            });
        }
        for (title, counts) in [
            ("not started (by what the watch last showed)", &not_running),
            ("create errors (most frequent first)", &self.create_errors),
        ] {
            if !counts.is_empty() {
                let _ = writeln!(out);
                let _ = writeln!(out, "  {title}");
                for count in counts {
                    let _ = writeln!(out, "  {:>9}  {}", count.count, count.message);
                }
            }
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "  warning: {warning}");
        }
        out
    }
}

/// Milliseconds as people read them: "812ms", "1.5s".
fn millis(value: f64) -> String {
    format_duration(Duration::from_secs_f64(value / 1000.0))
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests;
