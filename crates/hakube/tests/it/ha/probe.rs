//! A background loop that runs one kubectl command through the VIP about every 100 ms while
//! the test does something disruptive, recording when each attempt ran and whether it worked,
//! and the outages those records show. Dropping a probe stops its loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::harness::Kubectl;

/// How often the loop starts an attempt (when the previous one took less).
const PERIOD: Duration = Duration::from_millis(100);

/// The wall-clock limit of one attempt; each command also carries `--request-timeout`.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(15);

/// One run of the probed command.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub index: u64,
    pub started: Instant,
    pub ended: Instant,
    pub ok: bool,
    /// The first line kubectl printed on stderr when it failed.
    pub error: String,
}

/// A running loop; see the module docs.
pub struct Probe {
    pub began: Instant,
    stop: Arc<AtomicBool>,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    thread: Option<JoinHandle<()>>,
}

impl Probe {
    /// Starts the loop; `args(i)` is the kubectl command line of attempt `i`.
    pub fn start(kubectl: Kubectl, args: impl Fn(u64) -> Vec<String> + Send + 'static) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, attempts) = (stop.clone(), attempts.clone());
            std::thread::spawn(move || {
                let mut index = 0;
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let line = args(index);
                    let line: Vec<&str> = line.iter().map(String::as_str).collect();
                    let (ok, error) = match kubectl.run_within(&line, ATTEMPT_LIMIT) {
                        Ok(out) if out.success() => (true, String::new()),
                        Ok(out) => (false, out.stderr.lines().next().unwrap_or("").to_string()),
                        Err(e) => (false, format!("{e:#}")),
                    };
                    let ended = Instant::now();
                    attempts.lock().expect("attempts").push(Attempt {
                        index,
                        started,
                        ended,
                        ok,
                        error,
                    });
                    index += 1;
                    if let Some(rest) = PERIOD.checked_sub(ended - started) {
                        std::thread::sleep(rest);
                    }
                }
            })
        };
        Probe {
            began: Instant::now(),
            stop,
            attempts,
            thread: Some(thread),
        }
    }

    /// The attempts so far.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.attempts.lock().expect("attempts").clone()
    }

    /// Whether an attempt that started at or after `since` worked.
    pub fn succeeded_since(&self, since: Instant) -> bool {
        self.attempts().iter().any(|a| a.ok && a.started >= since)
    }

    /// Stops the loop and returns every attempt.
    pub fn finish(mut self) -> Vec<Attempt> {
        self.halt();
        self.attempts()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.halt();
    }
}

/// A run of failed attempts: from the start of its first failure to the start of the first
/// success after it (`None` when the loop ended before one).
#[derive(Clone, Debug)]
pub struct Outage {
    pub from: Instant,
    pub until: Option<Instant>,
    pub failures: usize,
    /// What the first failure said.
    pub first_error: String,
}

impl Outage {
    /// Its length; an outage that never ended counts up to `end`.
    pub fn length(&self, end: Instant) -> Duration {
        self.until.unwrap_or(end) - self.from
    }
}

/// Every outage in `attempts`, in order.
pub fn outages(attempts: &[Attempt]) -> Vec<Outage> {
    let mut found: Vec<Outage> = Vec::new();
    let mut open: Option<Outage> = None;
    for attempt in attempts {
        match (&mut open, attempt.ok) {
            (None, false) => {
                open = Some(Outage {
                    from: attempt.started,
                    until: None,
                    failures: 1,
                    first_error: attempt.error.clone(),
                });
            }
            (Some(outage), false) => outage.failures += 1,
            (Some(_), true) => {
                let mut outage = open.take().expect("an open outage");
                outage.until = Some(attempt.started);
                found.push(outage);
            }
            (None, true) => {}
        }
    }
    found.extend(open);
    found
}

/// A line for the closing note: how many attempts, how many failed, and the longest outage.
pub fn summary(what: &str, attempts: &[Attempt], began: Instant) -> (String, Duration) {
    let end = attempts.last().map_or(began, |a| a.ended);
    let failed = attempts.iter().filter(|a| !a.ok).count();
    let all = outages(attempts);
    let longest = all.iter().max_by_key(|o| o.length(end));
    let window = longest.map_or(Duration::ZERO, |o| o.length(end));
    let line = match longest {
        None => format!("{what}: {} attempts, none failed", attempts.len()),
        Some(o) => format!(
            "{what}: {} attempts, {failed} failed in {} outage(s); longest {:.2}s ({} failures{}, \
             from +{:.2}s; first error: {})",
            attempts.len(),
            all.len(),
            window.as_secs_f64(),
            o.failures,
            if o.until.is_none() {
                ", never ended"
            } else {
                ""
            },
            (o.from - began).as_secs_f64(),
            o.first_error
        ),
    };
    (line, window)
}
