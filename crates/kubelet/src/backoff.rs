//! The kubelet's exponential back-off, for restarting crashed containers (CrashLoopBackOff) and
//! for pulling images (ImagePullBackOff): 10 s, doubling up to 5 min, forgotten after 10 min
//! without a restart. Pure: times come in as arguments.

use std::time::{Duration, Instant};

/// The first back-off.
pub(crate) const INITIAL: Duration = Duration::from_secs(10);
/// The longest back-off.
pub(crate) const MAX: Duration = Duration::from_secs(300);

/// The back-off of one container (or one image pull).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Backoff {
    /// The current delay and when it was last raised (at a restart or a pull attempt).
    entry: Option<(Duration, Instant)>,
}

impl Backoff {
    /// An entry not raised for twice the longest delay is forgotten: a container that ran for
    /// ten minutes starts over at the first delay.
    fn live(&self, now: Instant) -> Option<(Duration, Instant)> {
        self.entry
            .filter(|(_, raised)| now.saturating_duration_since(*raised) <= 2 * MAX)
    }

    /// Raises the delay: the first (or a forgotten) entry starts at [`INITIAL`], each later one
    /// doubles, up to [`MAX`]. Called at each restart and each pull attempt.
    pub(crate) fn next(&mut self, now: Instant) {
        let delay = match self.live(now) {
            None => INITIAL,
            Some((delay, _)) => (delay * 2).min(MAX),
        };
        self.entry = Some((delay, now));
    }

    /// For a container that finished at `finished`: the current delay and when it may start
    /// again, or `None` if it may start now.
    pub(crate) fn wait_after(
        &self,
        finished: Instant,
        now: Instant,
    ) -> Option<(Duration, Instant)> {
        let (delay, _) = self.live(now)?;
        (now.saturating_duration_since(finished) < delay).then(|| (delay, finished + delay))
    }

    /// For an image pull: the current delay and when the next attempt is due, or `None` if an
    /// attempt may be made now.
    pub(crate) fn wait_since_raised(&self, now: Instant) -> Option<(Duration, Instant)> {
        let (delay, raised) = self.live(now)?;
        (now.saturating_duration_since(raised) < delay).then(|| (delay, raised + delay))
    }
}

/// A delay as Go prints a duration in the kubelet's messages: `10s`, `2m40s`, `5m0s`.
pub(crate) fn go_duration(delay: Duration) -> String {
    let secs = delay.as_secs();
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn crash_loop_delays() {
        let t0 = Instant::now();
        let mut backoff = Backoff::default();
        // (the container finished at, now, the wait expected, then restarted at `now` if it may)
        /// (finished at, now, the wait expected: (delay, until)); restarted at `now` if it may.
        type Step = (u64, u64, Option<(u64, u64)>);
        let steps: [Step; 9] = [
            // The first crash restarts at once.
            (1, 1, None),
            // The second waits 10 s from its finish.
            (3, 3, Some((10, 13))),
            (3, 13, None),
            (14, 14, Some((20, 34))),
            (14, 34, None),
            (35, 35, Some((40, 75))),
            (35, 75, None),
            (76, 76, Some((80, 156))),
            // Long after the last restart (10 min) the back-off is forgotten.
            (900, 900, None),
        ];
        for (finished, now, want) in steps {
            let (finished, now) = (t0 + secs(finished), t0 + secs(now));
            let got = backoff.wait_after(finished, now);
            let want = want.map(|(d, until)| (secs(d), t0 + secs(until)));
            assert_eq!(got, want, "finished {finished:?}");
            if got.is_none() {
                backoff.next(now);
            }
        }
    }

    #[test]
    fn delays_are_capped() {
        let t0 = Instant::now();
        let mut backoff = Backoff::default();
        let mut now = t0;
        for _ in 0..10 {
            backoff.next(now);
            now += Duration::from_secs(1);
        }
        assert_eq!(backoff.wait_after(now, now), Some((MAX, now + MAX)));
    }

    #[test]
    fn image_pulls() {
        let t0 = Instant::now();
        let mut backoff = Backoff::default();
        assert_eq!(backoff.wait_since_raised(t0), None);
        backoff.next(t0);
        assert_eq!(
            backoff.wait_since_raised(t0 + S),
            Some((10 * S, t0 + 10 * S))
        );
        assert_eq!(backoff.wait_since_raised(t0 + 10 * S), None);
        backoff.next(t0 + 10 * S);
        assert_eq!(
            backoff.wait_since_raised(t0 + 11 * S),
            Some((20 * S, t0 + 30 * S))
        );
    }

    #[test]
    fn go_durations() {
        for (secs, want) in [(10, "10s"), (160, "2m40s"), (300, "5m0s"), (3725, "1h2m5s")] {
            assert_eq!(go_duration(Duration::from_secs(secs)), want);
        }
    }
}
