//! A steady write load: writer threads put unique keys through etcdctl and record every write,
//! acknowledged or not, so tests can check that no acknowledged write was lost and see when
//! writes failed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::etcdctl::{Etcdctl, POLL_INTERVAL};

/// One put and how it ended.
#[derive(Clone, Debug)]
pub struct Write {
    pub key: String,
    pub value: String,
    pub started: Instant,
    pub finished: Instant,
    /// etcdctl exited 0 and printed OK: the cluster promised the write is durable.
    pub acked: bool,
    /// What etcdctl said when the write was not acknowledged.
    pub error: String,
}

struct Shared {
    stop: AtomicBool,
    /// Writers pick this up before every put, so a test can move the load to new members.
    client: Mutex<Etcdctl>,
    writes: Mutex<Vec<Write>>,
}

/// Writer threads that run until stopped.
pub struct Load {
    shared: Arc<Shared>,
    writers: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts `writers` threads that put `<prefix>/<writer>/<n>` keys through `client`.
    pub fn start(client: Etcdctl, prefix: &str, writers: usize) -> Load {
        // Short client timeouts keep writers cycling through a fail-over instead of waiting on
        // one stuck request for etcdctl's default five seconds.
        let client = client.with_global_args(&["--dial-timeout=1s", "--command-timeout=2s"]);
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            client: Mutex::new(client),
            writes: Mutex::new(Vec::new()),
        });
        let writers = (0..writers)
            .map(|w| {
                let shared = shared.clone();
                let prefix = format!("{prefix}/{w}");
                std::thread::spawn(move || write_until_stopped(&shared, &prefix))
            })
            .collect();
        Load { shared, writers }
    }

    /// Sends later writes to other endpoints.
    pub fn retarget(&self, client: Etcdctl) {
        let client = client.with_global_args(&["--dial-timeout=1s", "--command-timeout=2s"]);
        *self.shared.client.lock().expect("load client") = client;
    }

    /// Every write so far, in the order they finished.
    pub fn writes(&self) -> Vec<Write> {
        self.shared.writes.lock().expect("load writes").clone()
    }

    /// Waits until `count` more writes than now have been acknowledged.
    pub fn wait_for_more_acks(&self, count: usize, limit: Duration) -> Result<()> {
        let acked = || self.writes().iter().filter(|w| w.acked).count();
        let target = acked() + count;
        let deadline = Instant::now() + limit;
        while acked() < target {
            if Instant::now() > deadline {
                let latest: Vec<_> = self.writes().into_iter().rev().take(3).collect();
                bail!(
                    "the load did not get {count} more writes acknowledged within {limit:?}; \
                     the latest writes: {latest:#?}"
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        Ok(())
    }

    /// Stops the writers and returns every write they made.
    pub fn stop(self) -> Vec<Write> {
        self.shared.stop.store(true, Ordering::SeqCst);
        for writer in self.writers {
            let _ = writer.join();
        }
        self.shared.writes.lock().expect("load writes").clone()
    }
}

fn write_until_stopped(shared: &Shared, prefix: &str) {
    let mut n = 0u64;
    while !shared.stop.load(Ordering::SeqCst) {
        n += 1;
        let key = format!("{prefix}/{n:06}");
        let value = format!("v{n}-{}", rand::random::<u32>());
        let client = shared.client.lock().expect("load client").clone();
        let started = Instant::now();
        let (acked, error) = match client.run(&["put", &key, &value]) {
            Ok(out) if out.success() && out.stdout.trim() == "OK" => (true, String::new()),
            Ok(out) => (false, out.stderr.trim().to_string()),
            Err(e) => (false, format!("{e:#}")),
        };
        shared.writes.lock().expect("load writes").push(Write {
            key,
            value,
            started,
            finished: Instant::now(),
            acked,
            error,
        });
    }
}

/// Reads every key under `prefix` through `client` and checks that each acknowledged write is
/// there with its value.
pub fn check_acked_writes_present(client: &Etcdctl, prefix: &str, writes: &[Write]) -> Result<()> {
    let out = client
        .run(&["get", prefix, "--prefix"])?
        .ok("reading the load's keys back")?;
    // Simple output alternates key and value lines; the load's keys and values have no
    // newlines.
    let lines: Vec<&str> = out.stdout.lines().collect();
    let stored: HashMap<&str, &str> = lines
        .chunks(2)
        .map(|kv| (kv[0], kv.get(1).copied().unwrap_or("")))
        .collect();
    let acked: Vec<&Write> = writes.iter().filter(|w| w.acked).collect();
    let lost: Vec<String> = acked
        .iter()
        .filter(|w| stored.get(w.key.as_str()) != Some(&w.value.as_str()))
        .map(|w| {
            format!(
                "{} = {} (read {:?})",
                w.key,
                w.value,
                stored.get(w.key.as_str())
            )
        })
        .collect();
    if !lost.is_empty() {
        bail!(
            "{} of {} acknowledged writes are missing or wrong via {:?}:\n{}",
            lost.len(),
            acked.len(),
            client.endpoints(),
            lost.join("\n")
        );
    }
    if acked.is_empty() {
        bail!("no write was acknowledged, so nothing was checked");
    }
    Ok(())
}
