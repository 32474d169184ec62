//! From the book of a run to its numbers: latency percentiles of each stage of a pod's start-up,
//! the scheduler's throughput, and the pods that did not make it, grouped by why. Pure.

use std::time::Duration;

use serde::Serialize;

use super::timeline::{PodTimes, Timeline};
use crate::recorder::ErrorCount;
use crate::report::LatencySummary;

/// How many samples a stage had, and their latency percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stage {
    /// Pods measured.
    pub count: usize,
    /// Their latencies.
    pub latency_ms: LatencySummary,
}

impl Stage {
    fn of(samples: Vec<Duration>) -> Stage {
        Stage {
            count: samples.len(),
            latency_ms: latency_summary(samples),
        }
    }
}

/// The numbers of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Pods whose create was sent.
    pub sent: usize,
    /// Pods whose create succeeded.
    pub created: usize,
    /// Creates that failed (or were not answered before the run ended), by reason.
    pub create_errors: Vec<ErrorCount>,
    /// Created pods seen bound to a node.
    pub bound: usize,
    /// Created pods seen started.
    pub running: usize,
    /// Created pods that did not start, by what the watch last said about them.
    pub not_running: Vec<ErrorCount>,
    /// Create call latency: request sent to response.
    pub create: Stage,
    /// Scheduling: create returned to the watch showing the pod bound.
    pub schedule: Stage,
    /// Running the pod: the watch showing it bound to the watch showing it started.
    pub run: Stage,
    /// Start-up, the SLO's measure: create returned to the watch showing the pod started.
    pub startup: Stage,
    /// Pods created per second: created pods over the time from the first create sent to the
    /// last create returned.
    pub created_per_s: f64,
    /// The scheduler's throughput: pods bound over the time from the first create sent to the
    /// last binding seen.
    pub bound_per_s: f64,
    /// From the first create sent to the last binding seen.
    pub binding_span: Duration,
}

impl Summary {
    /// Works out a run's numbers from its book.
    pub fn of(timeline: &Timeline) -> Summary {
        let pods = timeline.pods();
        let created: Vec<&PodTimes> = pods.iter().filter(|pod| pod.created()).collect();
        let first_sent = pods.iter().filter_map(|pod| pod.sent).min();
        let last_returned = created.iter().filter_map(|pod| pod.returned).max();
        let last_bound = created.iter().filter_map(|pod| pod.bound).max();
        let span = |end: Option<Duration>| match (first_sent, end) {
            (Some(first), Some(end)) => end.saturating_sub(first),
            _ => Duration::ZERO,
        };
        let between = |from: fn(&PodTimes) -> Option<Duration>,
                       to: fn(&PodTimes) -> Option<Duration>| {
            // The watch may show a pod bound before its create call has returned; that counts
            // as no time rather than as a negative one.
            created
                .iter()
                .filter_map(|pod| Some(to(pod)?.saturating_sub(from(pod)?)))
                .collect::<Vec<_>>()
        };
        let bound = created.iter().filter(|pod| pod.bound.is_some()).count();
        let binding_span = span(last_bound);
        Summary {
            sent: pods.iter().filter(|pod| pod.sent.is_some()).count(),
            created: created.len(),
            create_errors: group(pods.iter().filter_map(|pod| pod.create_error.as_deref())),
            bound,
            running: created.iter().filter(|pod| pod.running.is_some()).count(),
            not_running: group(
                created
                    .iter()
                    .filter(|pod| pod.running.is_none())
                    .map(|pod| pod.detail.as_deref().unwrap_or("never seen by the watch")),
            ),
            create: Stage::of(
                pods.iter()
                    .filter(|pod| pod.created())
                    .filter_map(|pod| Some(pod.returned?.saturating_sub(pod.sent?)))
                    .collect(),
            ),
            schedule: Stage::of(between(|pod| pod.returned, |pod| pod.bound)),
            run: Stage::of(between(|pod| pod.bound, |pod| pod.running)),
            startup: Stage::of(between(|pod| pod.returned, |pod| pod.running)),
            created_per_s: per_second(created.len(), span(last_returned)),
            bound_per_s: per_second(bound, binding_span),
            binding_span,
        }
    }
}

/// Counts equal messages, most frequent first (then alphabetically, so reports are stable).
fn group<'a>(messages: impl Iterator<Item = &'a str>) -> Vec<ErrorCount> {
    let mut counts: Vec<ErrorCount> = Vec::new();
    for message in messages {
        match counts.iter_mut().find(|known| known.message == message) {
            Some(known) => known.count += 1,
            None => counts.push(ErrorCount {
                message: message.to_owned(),
                count: 1,
            }),
        }
    }
    counts.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.message.cmp(&b.message))
    });
    counts
}

/// Exact percentiles of a set of latencies, in milliseconds, by the nearest-rank method (the
/// smallest sample with at least p% of the samples at or below it), as Kubernetes' density test
/// reports them. With 100 pods, p99 is the second slowest. No samples give zeros.
pub fn latency_summary(mut samples: Vec<Duration>) -> LatencySummary {
    if samples.is_empty() {
        return LatencySummary {
            p50: 0.0,
            p90: 0.0,
            p99: 0.0,
            max: 0.0,
            mean: 0.0,
            stddev: 0.0,
        };
    }
    samples.sort_unstable();
    let ms = |duration: Duration| round(duration.as_secs_f64() * 1000.0, 3);
    let count = samples.len() as f64;
    let values: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    let mean = values.iter().sum::<f64>() / count;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count;
    LatencySummary {
        p50: ms(nearest_rank(&samples, 50)),
        p90: ms(nearest_rank(&samples, 90)),
        p99: ms(nearest_rank(&samples, 99)),
        max: ms(samples[samples.len() - 1]),
        mean: round(mean, 3),
        stddev: round(variance.sqrt(), 3),
    }
}

/// The `percent`th percentile of sorted, non-empty samples by nearest rank.
fn nearest_rank(sorted: &[Duration], percent: usize) -> Duration {
    // rank = ceil(percent/100 * n), 1-based; done in integers so that 99% of 100 is exactly 99.
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// `count` per second of `span`, to one decimal; no time gives 0.
pub fn per_second(count: usize, span: Duration) -> f64 {
    if span.is_zero() {
        0.0
    } else {
        round(count as f64 / span.as_secs_f64(), 1)
    }
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10_f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::status::Observation;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn percentiles_are_exact_nearest_ranks() {
        let one_to = |n: u64| (1..=n).map(ms).collect::<Vec<_>>();
        // samples -> (p50, p90, p99, max)
        let cases = [
            (vec![], (0.0, 0.0, 0.0, 0.0)),
            (vec![ms(7)], (7.0, 7.0, 7.0, 7.0)),
            (vec![ms(30), ms(10), ms(20)], (20.0, 30.0, 30.0, 30.0)),
            (vec![ms(1), ms(2), ms(3), ms(4)], (2.0, 4.0, 4.0, 4.0)),
            (one_to(10), (5.0, 9.0, 10.0, 10.0)),
            (one_to(100), (50.0, 90.0, 99.0, 100.0)),
            (one_to(1000), (500.0, 900.0, 990.0, 1000.0)),
            (one_to(101), (51.0, 91.0, 100.0, 101.0)),
            (
                vec![Duration::from_micros(1500), Duration::from_micros(2250)],
                (1.5, 2.25, 2.25, 2.25),
            ),
        ];
        for (samples, expected) in cases {
            let summary = latency_summary(samples.clone());
            assert_eq!(
                (summary.p50, summary.p90, summary.p99, summary.max),
                expected,
                "{} samples",
                samples.len()
            );
        }
    }

    #[test]
    fn mean_and_stddev_are_of_the_population() {
        let summary = latency_summary([2, 4, 4, 4, 5, 5, 7, 9].map(ms).to_vec());
        assert_eq!((summary.mean, summary.stddev), (5.0, 2.0));
    }

    #[test]
    fn rates_are_per_second_of_the_span() {
        let cases = [
            (100, ms(1000), 100.0),
            (100, ms(800), 125.0),
            (3, ms(900), 3.3),
            (0, ms(1000), 0.0),
            (5, Duration::ZERO, 0.0),
        ];
        for (count, span, expected) in cases {
            assert_eq!(per_second(count, span), expected, "{count} in {span:?}");
        }
    }

    /// One pod's story as offsets in ms: sent, returned (Err = failed), bound, running, detail.
    type Story = (
        Option<u64>,
        Option<Result<u64, &'static str>>,
        Option<u64>,
        Option<u64>,
        Option<&'static str>,
    );

    fn timeline(stories: &[Story]) -> Timeline {
        let mut timeline = Timeline::new(stories.len());
        for (index, (sent, returned, bound, running, detail)) in stories.iter().enumerate() {
            if let Some(sent) = sent {
                timeline.sent(index, ms(*sent));
            }
            match returned {
                Some(Ok(at)) => timeline.returned(index, ms(*at), Ok(())),
                Some(Err(why)) => timeline.returned(index, ms(0), Err((*why).to_owned())),
                None => {}
            }
            if let Some(detail) = detail {
                let observation = Observation {
                    node: None,
                    running: false,
                    ended: false,
                    detail: (*detail).to_owned(),
                };
                timeline.observed(index, ms(0), &observation);
            }
            if let Some(bound) = bound {
                let observation = Observation {
                    node: Some("n1".to_owned()),
                    running: false,
                    ended: false,
                    detail: "Pending on a node".to_owned(),
                };
                timeline.observed(index, ms(*bound), &observation);
            }
            if let Some(running) = running {
                let observation = Observation {
                    node: Some("n1".to_owned()),
                    running: true,
                    ended: false,
                    detail: "Running".to_owned(),
                };
                timeline.observed(index, ms(*running), &observation);
            }
        }
        timeline
    }

    #[test]
    fn stages_throughput_and_failures_come_from_the_book() {
        let summary = Summary::of(&timeline(&[
            // Started: create 10 ms, scheduled 40 ms later, running 200 ms after that.
            (Some(0), Some(Ok(10)), Some(50), Some(250), None),
            (Some(5), Some(Ok(25)), Some(105), Some(425), None),
            // Seen bound before its create returned: scheduling counts as no time.
            (Some(10), Some(Ok(60)), Some(55), Some(360), None),
            // Bound, never started.
            (
                Some(15),
                Some(Ok(30)),
                Some(1015),
                None,
                Some("Pending on a node"),
            ),
            // Never scheduled, or never seen.
            (
                Some(20),
                Some(Ok(40)),
                None,
                None,
                Some("not scheduled: Unschedulable: 0/3 nodes are available"),
            ),
            (Some(25), Some(Ok(45)), None, None, None),
            // Refused, twice for the same reason.
            (Some(30), Some(Err("403 Forbidden: no")), None, None, None),
            (Some(35), Some(Err("403 Forbidden: no")), None, None, None),
            // Not answered; not sent.
            (Some(40), None, None, None, None),
            (None, None, None, None, None),
        ]));
        let messages = |counts: &[ErrorCount]| {
            counts
                .iter()
                .map(|c| (c.message.clone(), c.count))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            (
                summary.sent,
                summary.created,
                summary.bound,
                summary.running
            ),
            (9, 6, 4, 3)
        );
        assert_eq!(
            messages(&summary.create_errors),
            [("403 Forbidden: no".to_owned(), 2)]
        );
        assert_eq!(
            messages(&summary.not_running),
            [
                ("Pending on a node".to_owned(), 1),
                ("never seen by the watch".to_owned(), 1),
                (
                    "not scheduled: Unschedulable: 0/3 nodes are available".to_owned(),
                    1
                ),
            ]
        );
        let stage = |stage: Stage| {
            (
                stage.count,
                stage.latency_ms.p50,
                stage.latency_ms.p99,
                stage.latency_ms.max,
            )
        };
        assert_eq!(stage(summary.create), (6, 20.0, 50.0, 50.0));
        assert_eq!(stage(summary.schedule), (4, 40.0, 985.0, 985.0));
        assert_eq!(stage(summary.run), (3, 305.0, 320.0, 320.0));
        assert_eq!(stage(summary.startup), (3, 300.0, 400.0, 400.0));
        // 6 created by 60 ms; 4 bound by 1015 ms.
        assert_eq!(summary.created_per_s, 100.0);
        assert_eq!(summary.binding_span, ms(1015));
        assert_eq!(summary.bound_per_s, 3.9);
    }

    #[test]
    fn an_empty_run_has_zeros() {
        let summary = Summary::of(&Timeline::new(3));
        assert_eq!((summary.sent, summary.created, summary.running), (0, 0, 0));
        assert_eq!((summary.created_per_s, summary.bound_per_s), (0.0, 0.0));
        assert!(summary.create_errors.is_empty() && summary.not_running.is_empty());
    }
}
