//! What the clients of an API run measured, per operation kind. Built from the same
//! [`OpRecord`]s and histograms as the store benchmark's recorder, so that both report alike.

use std::time::Duration;

use super::mix::OpKind;
use crate::recorder::{ErrorCount, OpRecord, new_histogram};

/// How many distinct error messages are kept; later new ones are only counted, so a flood of
/// unique messages cannot grow memory without bound.
const DISTINCT_ERRORS_KEPT: usize = 16;

/// Measurements of one client (or, merged, of a whole run). Each client owns one, so recording
/// takes no lock; they are merged when the run ends.
#[derive(Debug, Clone)]
pub struct Recorder {
    ops: [OpRecord; 5],
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
            ops: std::array::from_fn(|_| empty_record()),
            distinct_errors: Vec::new(),
        }
    }

    /// Records a successful operation, how long it took, and how many conflicts it retried.
    pub fn success(&mut self, kind: OpKind, latency: Duration, conflicts: u64) {
        let op = &mut self.ops[kind.index()];
        op.total += 1;
        op.conflicts += conflicts;
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        // `record` grows the histogram to fit; `saturating_record` would clamp instead of growing.
        if op.latencies_us.record(micros).is_err() {
            op.latencies_us.saturating_record(micros);
        }
    }

    /// Records `count` failed operations with one message.
    pub fn failures(&mut self, kind: OpKind, message: &str, count: u64) {
        if count == 0 {
            return;
        }
        let op = &mut self.ops[kind.index()];
        op.total += count;
        op.errors += count;
        self.count_error(&format!("{}: {message}", kind.name()), count);
    }

    /// Records a failed operation and its message.
    pub fn failure(&mut self, kind: OpKind, message: &str) {
        self.failures(kind, message, 1);
    }

    /// Adds conflicts of an operation that then failed, so that they are not lost from the count.
    pub fn conflicts(&mut self, kind: OpKind, conflicts: u64) {
        self.ops[kind.index()].conflicts += conflicts;
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
            add(mine, theirs);
        }
        for error in &other.distinct_errors {
            self.count_error(&error.message, error.count);
        }
    }

    /// The measurements of one kind.
    pub fn op(&self, kind: OpKind) -> &OpRecord {
        &self.ops[kind.index()]
    }

    /// The requests together: every kind but watch, whose events are not requests and whose
    /// latencies mean something else.
    pub fn requests(&self) -> OpRecord {
        let mut all = empty_record();
        for kind in OpKind::ALL.into_iter().filter(|kind| kind.is_request()) {
            add(&mut all, self.op(kind));
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

fn empty_record() -> OpRecord {
    OpRecord {
        latencies_us: new_histogram(),
        total: 0,
        errors: 0,
        conflicts: 0,
    }
}

fn add(into: &mut OpRecord, from: &OpRecord) {
    into.total += from.total;
    into.errors += from.errors;
    into.conflicts += from.conflicts;
    // Both histograms auto-resize, so adding cannot run out of range.
    let _ = into.latencies_us.add(&from.latencies_us);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_merges_and_leaves_watch_out_of_the_requests() {
        let mut first = Recorder::new();
        first.success(OpKind::Create, Duration::from_micros(100), 0);
        first.success(OpKind::Update, Duration::from_micros(300), 2);
        first.failure(OpKind::Get, "503 ServiceUnavailable: try again");
        first.success(OpKind::Watch, Duration::from_micros(9000), 0);
        let mut second = Recorder::new();
        second.success(OpKind::Create, Duration::from_micros(200), 0);
        second.failure(OpKind::Get, "503 ServiceUnavailable: try again");
        second.failures(OpKind::Watch, "3 events never arrived", 3);
        second.conflicts(OpKind::Update, 10);
        first.merge(&second);

        // kind -> (total, errors, conflicts, latencies recorded)
        let cases = [
            (OpKind::Create, (2, 0, 0, 2)),
            (OpKind::Get, (2, 2, 0, 0)),
            (OpKind::List, (0, 0, 0, 0)),
            (OpKind::Update, (1, 0, 12, 1)),
            (OpKind::Watch, (4, 3, 0, 1)),
        ];
        for (kind, expected) in cases {
            let op = first.op(kind);
            assert_eq!(
                (op.total, op.errors, op.conflicts, op.latencies_us.len()),
                expected,
                "{kind:?}"
            );
        }
        let requests = first.requests();
        assert_eq!(
            (
                requests.total,
                requests.errors,
                requests.conflicts,
                requests.latencies_us.max()
            ),
            (5, 2, 12, 300)
        );
        let messages: Vec<(String, u64)> = first
            .error_counts()
            .into_iter()
            .map(|e| (e.message, e.count))
            .collect();
        assert_eq!(
            messages,
            [
                ("watch: 3 events never arrived".to_owned(), 3),
                ("get: 503 ServiceUnavailable: try again".to_owned(), 2),
            ]
        );
    }

    #[test]
    fn keeps_a_bounded_number_of_distinct_errors() {
        let mut recorder = Recorder::new();
        for n in 0..100 {
            recorder.failure(OpKind::Create, &format!("error {n}"));
        }
        assert_eq!(recorder.error_counts().len(), DISTINCT_ERRORS_KEPT);
        assert_eq!(recorder.op(OpKind::Create).errors, 100);
        recorder.failures(OpKind::Create, "nothing", 0);
        assert_eq!(recorder.op(OpKind::Create).total, 100);
    }
}
