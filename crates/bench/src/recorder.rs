//! What the request loops measured: latencies per operation kind, request counts and errors.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::store::mix::OpKind;

/// How many distinct error messages are kept; later new ones are only counted, so a flood of
/// unique messages cannot grow memory without bound.
const DISTINCT_ERRORS_KEPT: usize = 16;

/// Significant figures kept by the latency histograms: 3 gives 0.1% precision.
const SIGNIFICANT_FIGURES: u8 = 3;

/// The measurements of one operation kind.
#[derive(Debug, Clone)]
pub struct OpRecord {
    /// Latencies of successful requests, in microseconds. Failed requests are left out, so that a
    /// fast rejection does not flatter the percentiles.
    pub latencies_us: Histogram<u64>,
    /// Requests completed, successful or not.
    pub total: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Transactions whose compare failed, so they read the key instead of writing it.
    pub conflicts: u64,
}

impl OpRecord {
    fn new() -> OpRecord {
        OpRecord {
            latencies_us: new_histogram(),
            total: 0,
            errors: 0,
            conflicts: 0,
        }
    }
}

/// A latency histogram in microseconds that grows to fit whatever it records.
pub fn new_histogram() -> Histogram<u64> {
    // An auto-resizing histogram starts small, which matters because there is one per shard and
    // kind; `new` only fails for invalid significant figures, which SIGNIFICANT_FIGURES is not.
    match Histogram::new(SIGNIFICANT_FIGURES) {
        Ok(histogram) => histogram,
        Err(error) => unreachable!("3 significant figures are valid: {error}"),
    }
}

/// An error message and how often it occurred.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErrorCount {
    /// The operation kind and the gRPC status, such as `put: Unavailable: etcdserver: leader changed`.
    pub message: String,
    /// How many requests failed with it.
    pub count: u64,
}

/// Measurements of some request loops; merged into one at the end of a run.
#[derive(Debug, Clone)]
pub struct Recorder {
    ops: [OpRecord; 3],
    distinct_errors: Vec<ErrorCount>,
}

impl Default for Recorder {
    fn default() -> Recorder {
        Recorder::new()
    }
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Recorder {
        Recorder {
            ops: [OpRecord::new(), OpRecord::new(), OpRecord::new()],
            distinct_errors: Vec::new(),
        }
    }

    /// Records a successful request and how long it took.
    pub fn success(&mut self, kind: OpKind, latency: Duration, conflict: bool) {
        let op = &mut self.ops[kind.index()];
        op.total += 1;
        op.conflicts += u64::from(conflict);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        // `record` grows the histogram to fit; `saturating_record` would clamp instead of growing.
        if op.latencies_us.record(micros).is_err() {
            op.latencies_us.saturating_record(micros);
        }
    }

    /// Records a failed request and its message.
    pub fn failure(&mut self, kind: OpKind, message: &str) {
        let op = &mut self.ops[kind.index()];
        op.total += 1;
        op.errors += 1;
        self.count_error(&format!("{}: {message}", kind.name()), 1);
    }

    fn count_error(&mut self, message: &str, count: u64) {
        if let Some(known) = self
            .distinct_errors
            .iter_mut()
            .find(|known| known.message == message)
        {
            known.count += count;
        } else if self.distinct_errors.len() < DISTINCT_ERRORS_KEPT {
            self.distinct_errors.push(ErrorCount {
                message: message.to_owned(),
                count,
            });
        }
    }

    /// Adds another recorder's measurements to this one.
    pub fn merge(&mut self, other: &Recorder) {
        for (mine, theirs) in self.ops.iter_mut().zip(&other.ops) {
            mine.total += theirs.total;
            mine.errors += theirs.errors;
            mine.conflicts += theirs.conflicts;
            // Both histograms auto-resize, so adding cannot run out of range.
            let _ = mine.latencies_us.add(&theirs.latencies_us);
        }
        for error in &other.distinct_errors {
            self.count_error(&error.message, error.count);
        }
    }

    /// The measurements of one kind.
    pub fn op(&self, kind: OpKind) -> &OpRecord {
        &self.ops[kind.index()]
    }

    /// All kinds together.
    pub fn overall(&self) -> OpRecord {
        let mut all = OpRecord::new();
        for op in &self.ops {
            all.total += op.total;
            all.errors += op.errors;
            all.conflicts += op.conflicts;
            let _ = all.latencies_us.add(&op.latencies_us);
        }
        all
    }

    /// The distinct error messages kept, most frequent first.
    pub fn error_counts(&self) -> Vec<ErrorCount> {
        let mut counts = self.distinct_errors.clone();
        counts.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.message.cmp(&b.message))
        });
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_merges() {
        let mut first = Recorder::new();
        first.success(OpKind::Put, Duration::from_micros(100), false);
        first.success(OpKind::Txn, Duration::from_micros(300), true);
        first.failure(OpKind::Put, "Unavailable: leader changed");
        let mut second = Recorder::new();
        second.success(OpKind::Put, Duration::from_micros(200), false);
        second.failure(OpKind::Put, "Unavailable: leader changed");
        second.failure(OpKind::Range, "DeadlineExceeded: timeout");
        first.merge(&second);

        let put = first.op(OpKind::Put);
        assert_eq!((put.total, put.errors, put.latencies_us.len()), (4, 2, 2));
        assert_eq!(first.op(OpKind::Txn).conflicts, 1);
        let all = first.overall();
        assert_eq!(
            (all.total, all.errors, all.conflicts, all.latencies_us.len()),
            (6, 3, 1, 3)
        );
        assert_eq!(all.latencies_us.max(), 300);
        let messages: Vec<(String, u64)> = first
            .error_counts()
            .into_iter()
            .map(|e| (e.message, e.count))
            .collect();
        assert_eq!(
            messages,
            [
                ("put: Unavailable: leader changed".to_owned(), 2),
                ("range: DeadlineExceeded: timeout".to_owned(), 1)
            ]
        );
    }

    #[test]
    fn keeps_a_bounded_number_of_distinct_errors() {
        let mut recorder = Recorder::new();
        for n in 0..100 {
            recorder.failure(OpKind::Put, &format!("error {n}"));
        }
        assert_eq!(recorder.error_counts().len(), DISTINCT_ERRORS_KEPT);
        assert_eq!(recorder.op(OpKind::Put).errors, 100);
    }
}
