//! Ends agnhost when the process that started it (the node process running the pod) is gone, so
//! a killed node leaves no containers behind. Without unsafe code there is no prctl death
//! signal, so the parent's pid is polled: an orphan is re-parented, and its parent pid changes.

use std::time::Duration;

/// How often the parent is checked.
const PERIOD: Duration = Duration::from_secs(1);

/// Whether the parent that started this process is gone, given the parent pid seen at the start
/// and the one seen now.
pub(crate) fn orphaned(parent_at_start: u32, parent_now: u32) -> bool {
    parent_at_start != parent_now
}

/// Resolves once this process has lost its parent. A process started by init (pid 1) has no
/// parent to lose and never resolves.
pub(crate) async fn parent_gone() {
    let start = std::os::unix::process::parent_id();
    if start == 1 {
        return std::future::pending().await;
    }
    let mut ticks = tokio::time::interval(PERIOD);
    loop {
        ticks.tick().await;
        if orphaned(start, std::os::unix::process::parent_id()) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_parent_means_the_old_one_died() {
        let cases = [(4242, 4242, false), (4242, 1, true), (4242, 977, true)];
        for (start, now, expected) in cases {
            assert_eq!(orphaned(start, now), expected, "{start} -> {now}");
        }
    }
}
