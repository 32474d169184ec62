//! The book of one run: when each pod's create was sent and answered, and when the watch first
//! showed it bound and started. Times are offsets from the run's origin, so the book is pure and
//! its tests need no clock.

use std::time::Duration;

use super::status::Observation;

/// When things happened to one pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodTimes {
    /// The create request was sent.
    pub sent: Option<Duration>,
    /// The create call returned, successfully or not.
    pub returned: Option<Duration>,
    /// Why the create failed, if it did.
    pub create_error: Option<String>,
    /// The watch first showed the pod bound to a node.
    pub bound: Option<Duration>,
    /// The watch first showed the pod started ([`Observation::running`]).
    pub running: Option<Duration>,
    /// The node the pod was bound to.
    pub node: Option<String>,
    /// The pod ended (Failed or Succeeded) or was deleted before it started.
    pub ended: bool,
    /// What the watch last said about the pod, while it had not started.
    pub detail: Option<String>,
}

impl PodTimes {
    /// Whether the create succeeded.
    pub fn created(&self) -> bool {
        self.returned.is_some() && self.create_error.is_none()
    }

    /// Whether the run still waits for this pod: created, and neither started nor ended.
    pub fn waiting(&self) -> bool {
        self.created() && self.running.is_none() && !self.ended
    }
}

/// The times of every pod of a run, by index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    pods: Vec<PodTimes>,
}

impl Timeline {
    /// A book for `count` pods, none created yet.
    pub fn new(count: usize) -> Timeline {
        Timeline {
            pods: vec![PodTimes::default(); count],
        }
    }

    /// The create of pod `index` was sent at `at`.
    pub fn sent(&mut self, index: usize, at: Duration) {
        if let Some(pod) = self.pods.get_mut(index) {
            pod.sent = Some(at);
        }
    }

    /// The create of pod `index` returned at `at`, with the reason if it failed.
    pub fn returned(&mut self, index: usize, at: Duration, outcome: Result<(), String>) {
        if let Some(pod) = self.pods.get_mut(index) {
            pod.returned = Some(at);
            pod.create_error = outcome.err();
        }
    }

    /// The watch showed pod `index` as `observed` at `at`. Only the first sight of a binding
    /// and of a start counts; what happens to a pod after it started does not change its times.
    pub fn observed(&mut self, index: usize, at: Duration, observed: &Observation) {
        let Some(pod) = self.pods.get_mut(index) else {
            return;
        };
        if pod.running.is_some() {
            return;
        }
        if observed.node.is_some() && pod.bound.is_none() {
            pod.bound = Some(at);
            pod.node.clone_from(&observed.node);
        }
        if observed.running {
            pod.running = Some(at);
            // A pod seen started without a binding seen first was bound by the same moment.
            pod.bound.get_or_insert(at);
            pod.detail = None;
        } else {
            pod.ended |= observed.ended;
            pod.detail = Some(observed.detail.clone());
        }
    }

    /// The watch showed pod `index` deleted. One that had not started never will.
    pub fn deleted(&mut self, index: usize) {
        if let Some(pod) = self.pods.get_mut(index)
            && pod.running.is_none()
        {
            pod.ended = true;
            pod.detail = Some("deleted before it started".to_owned());
        }
    }

    /// How many created pods have neither started nor ended.
    pub fn waiting(&self) -> usize {
        self.pods.iter().filter(|pod| pod.waiting()).count()
    }

    /// Every pod's times, by index.
    pub fn pods(&self) -> &[PodTimes] {
        &self.pods
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    fn seen(node: Option<&str>, running: bool, ended: bool, detail: &str) -> Observation {
        Observation {
            node: node.map(str::to_owned),
            running,
            ended,
            detail: detail.to_owned(),
        }
    }

    #[test]
    fn keeps_the_first_sight_of_each_stage() {
        let mut timeline = Timeline::new(1);
        timeline.sent(0, ms(1));
        timeline.observed(0, ms(2), &seen(None, false, false, "not scheduled yet"));
        timeline.returned(0, ms(3), Ok(()));
        assert_eq!(timeline.waiting(), 1);
        timeline.observed(
            0,
            ms(5),
            &seen(Some("n1"), false, false, "Pending on a node"),
        );
        timeline.observed(
            0,
            ms(7),
            &seen(Some("n1"), false, false, "Pending on a node"),
        );
        timeline.observed(0, ms(9), &seen(Some("n1"), true, false, "Running"));
        // Later events (a crash, a deletion) do not change a started pod's times.
        timeline.observed(0, ms(11), &seen(Some("n1"), false, true, "Failed"));
        timeline.deleted(0);
        assert_eq!(timeline.waiting(), 0);
        assert_eq!(
            timeline.pods()[0],
            PodTimes {
                sent: Some(ms(1)),
                returned: Some(ms(3)),
                create_error: None,
                bound: Some(ms(5)),
                running: Some(ms(9)),
                node: Some("n1".to_owned()),
                ended: false,
                detail: None,
            }
        );
    }

    #[test]
    fn a_pod_first_seen_started_was_bound_then() {
        let mut timeline = Timeline::new(1);
        timeline.observed(0, ms(4), &seen(Some("n2"), true, false, "Running"));
        let pod = &timeline.pods()[0];
        assert_eq!((pod.bound, pod.running), (Some(ms(4)), Some(ms(4))));
    }

    #[test]
    fn tells_which_pods_the_run_still_waits_for() {
        // What happened to one pod -> whether the run waits for it.
        type Happened = fn(&mut Timeline);
        let cases: [(&str, Happened, bool); 6] = [
            ("never sent", |_| {}, false),
            ("sent, not answered", |t| t.sent(0, ms(1)), false),
            (
                "create failed",
                |t| t.returned(0, ms(1), Err("403 Forbidden".to_owned())),
                false,
            ),
            ("created", |t| t.returned(0, ms(1), Ok(())), true),
            (
                "created, then failed",
                |t| {
                    t.returned(0, ms(1), Ok(()));
                    t.observed(0, ms(2), &seen(Some("n1"), false, true, "Failed"));
                },
                false,
            ),
            (
                "created, then deleted",
                |t| {
                    t.returned(0, ms(1), Ok(()));
                    t.deleted(0);
                },
                false,
            ),
        ];
        for (name, happened, waits) in cases {
            let mut timeline = Timeline::new(1);
            happened(&mut timeline);
            assert_eq!(timeline.waiting() == 1, waits, "{name}");
        }
    }

    #[test]
    fn ignores_indexes_out_of_range() {
        let mut timeline = Timeline::new(1);
        timeline.sent(5, ms(1));
        timeline.returned(5, ms(1), Ok(()));
        timeline.observed(5, ms(1), &seen(Some("n1"), true, false, "Running"));
        timeline.deleted(5);
        assert_eq!(timeline, Timeline::new(1));
    }
}
