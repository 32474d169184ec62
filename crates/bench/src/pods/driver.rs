//! The measurement: a watch on the run's pods, opened before the first create, and a few
//! creators that create the pods as fast as the server takes them; both write into the run's
//! [`Timeline`] until every pod has started or ended, the timeout passes, or the run is stopped.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{ListParams, PostParams, WatchEvent, WatchParams};
use tokio::sync::{Notify, oneshot, watch};
use tokio::time::Instant;

use super::config::Config;
use super::manifest::RunPods;
use super::report::Ending;
use super::setup::timed;
use super::status::observe;
use super::timeline::Timeline;
use super::{Stop, stopped};
use crate::api::connection::{Connection, describe, status_line};
use crate::api::{Error, Result};

/// How long one create may take before it counts as failed. Generous, so that a slow server
/// shows up as high latency rather than as errors.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the watch gets to open before the creates start anyway; it still resumes from the
/// version before the first create, so no event is lost, only timed late.
const WATCH_OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// The server-side timeout asked for each watch; the watch is opened again when it ends.
const WATCH_TIMEOUT_SECONDS: u32 = 240;
/// The pause before watching again after an error, so that a failing server is not hammered.
const REWATCH_PAUSE: Duration = Duration::from_millis(100);
/// How many watch failures are kept for the warnings; later ones are dropped.
const WATCH_ERRORS_KEPT: usize = 100;
/// What a create still in flight when the run ends is recorded as.
const UNANSWERED: &str = "not answered before the run ended";

/// What a run measured.
pub(super) struct Measured {
    /// When each pod was created, bound and started.
    pub timeline: Timeline,
    /// From the first create sent to the end of the wait.
    pub elapsed: Duration,
    /// How the wait ended.
    pub ending: Ending,
    /// Problems around the measurement, for the report.
    pub warnings: Vec<String>,
}

/// What the creators and the watch share.
struct Shared {
    run: RunPods,
    timeline: Mutex<Timeline>,
    /// Times in the timeline are offsets from this moment.
    origin: Instant,
    /// Woken whenever the timeline changes, so that the wait checks whether it is over.
    changed: Notify,
}

impl Shared {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn update(&self, change: impl FnOnce(&mut Timeline)) {
        change(&mut self.timeline.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.notify_one();
    }

    fn timeline(&self) -> Timeline {
        self.timeline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn waiting(&self) -> usize {
        self.timeline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .waiting()
    }
}

/// Opens the watch, creates the pods and waits for them to start.
pub(super) async fn drive(
    api: Api<Pod>,
    run: RunPods,
    config: &Config,
    connection: &Connection,
    mut stop: Stop,
) -> Result<Measured> {
    let namespace = api.namespace().unwrap_or_default().to_owned();
    let selector = run.selector();
    // The watch starts from a version at which the run has no pods, so it sees every event of
    // every pod, even if it opens late.
    let params = ListParams::default().labels(&selector).limit(1);
    let listed = tokio::select! {
        listed = timed(api.list_metadata(&params)) => listed,
        () = stopped(&mut stop) => return Err(Error::Interrupted),
    };
    let start_version = match listed {
        Ok(list) => list.metadata.resource_version.unwrap_or_default(),
        Err(error) => {
            return Err(connection
                .setup_error(format!("list pods in namespace {namespace}"), &error)
                .await);
        }
    };
    let shared = Arc::new(Shared {
        run,
        timeline: Mutex::new(Timeline::new(config.count)),
        origin: Instant::now(),
        changed: Notify::new(),
    });
    let mut warnings = Vec::new();

    let (stop_watch, watch_stopped) = watch::channel(false);
    let (established, is_established) = oneshot::channel();
    let mut watcher = tokio::spawn(watch_pods(
        api.clone(),
        shared.clone(),
        start_version,
        established,
        watch_stopped,
    ));
    let opened = tokio::select! {
        opened = tokio::time::timeout(WATCH_OPEN_TIMEOUT, is_established) => opened,
        () = stopped(&mut stop) => {
            watcher.abort();
            return Err(Error::Interrupted);
        }
    };
    match opened {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => {
            let _ = stop_watch.send(true);
            return Err(connection
                .setup_error(format!("watch pods in namespace {namespace}"), &error)
                .await);
        }
        // The watcher dropped its sender without a word: it panicked, which joining it tells.
        Ok(Err(_)) => {
            return Err(match (&mut watcher).await {
                Err(panic) => Error::Worker(panic),
                Ok(_) => Error::Setup {
                    action: format!("watch pods in namespace {namespace}"),
                    reason: "the watch ended before it opened".to_owned(),
                },
            });
        }
        Err(_) => warnings.push(format!(
            "the watch took over {}s to open; the first pods may be seen late",
            WATCH_OPEN_TIMEOUT.as_secs()
        )),
    }

    let started = Instant::now();
    let deadline = started + config.timeout;
    let (stop_creating, creating_stopped) = watch::channel(false);
    let mut creating = tokio::spawn(create_pods(
        api,
        shared.clone(),
        config.count,
        config.concurrency,
        creating_stopped,
    ));
    let mut created_all = false;
    let ending = loop {
        if created_all && shared.waiting() == 0 {
            break Ending::Completed;
        }
        tokio::select! {
            joined = &mut creating, if !created_all => {
                joined.map_err(Error::Worker)?;
                created_all = true;
            }
            () = shared.changed.notified() => {}
            () = tokio::time::sleep_until(deadline) => break Ending::TimedOut,
            () = stopped(&mut stop) => break Ending::Interrupted,
        }
    };
    let elapsed = started.elapsed();

    let _ = stop_creating.send(true);
    if !created_all {
        creating.await.map_err(Error::Worker)?;
    }
    let _ = stop_watch.send(true);
    let watch_errors = watcher.await.map_err(Error::Worker)?;
    warnings.extend(watch_warnings(&watch_errors));
    Ok(Measured {
        timeline: shared.timeline(),
        elapsed,
        ending,
        warnings,
    })
}

/// Creates pods `0..count`, `concurrency` at a time, until all are sent or `stop` is set.
async fn create_pods(
    api: Api<Pod>,
    shared: Arc<Shared>,
    count: usize,
    concurrency: usize,
    stop: watch::Receiver<bool>,
) {
    futures::stream::iter(0..count)
        .map(|index| create_pod(&api, &shared, index, stop.clone()))
        .buffer_unordered(concurrency.max(1))
        .for_each(|()| async {})
        .await;
}

/// Creates one pod and books when its create was sent and when it returned.
async fn create_pod(
    api: &Api<Pod>,
    shared: &Shared,
    index: usize,
    mut stop: watch::Receiver<bool>,
) {
    if *stop.borrow() {
        return;
    }
    let pod = shared.run.pod(shared.run.pod_name(index));
    let sent = shared.now();
    shared.update(|timeline| timeline.sent(index, sent));
    let params = PostParams::default();
    let outcome = tokio::select! {
        created = tokio::time::timeout(REQUEST_TIMEOUT, api.create(&params, &pod)) => {
            match created {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(error)) => Err(describe(&error)),
                Err(_) => Err(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())),
            }
        }
        () = stopped(&mut stop) => Err(UNANSWERED.to_owned()),
    };
    let returned = shared.now();
    shared.update(|timeline| timeline.returned(index, returned, outcome));
}

/// Watches the run's pods from `version`, watching again from the last version seen whenever
/// the server ends the watch, and books what each event shows. Says on `established` whether
/// the first watch opened; returns the failures of later ones.
async fn watch_pods(
    api: Api<Pod>,
    shared: Arc<Shared>,
    mut version: String,
    established: oneshot::Sender<Result<(), kube::Error>>,
    mut stop: watch::Receiver<bool>,
) -> Vec<String> {
    let selector = shared.run.selector();
    let params = WatchParams::default()
        .labels(&selector)
        .timeout(WATCH_TIMEOUT_SECONDS);
    let mut established = Some(established);
    let mut errors = Vec::new();
    while !*stop.borrow() {
        let opened = tokio::select! {
            opened = api.watch(&params, &version) => opened,
            () = stopped(&mut stop) => break,
        };
        let events = match opened {
            Ok(events) => events,
            Err(error) => {
                if let Some(established) = established.take() {
                    let _ = established.send(Err(error));
                    return errors;
                }
                failed(&mut errors, describe(&error));
                pause(&mut stop).await;
                continue;
            }
        };
        if let Some(established) = established.take() {
            let _ = established.send(Ok(()));
        }
        let opened_at = Instant::now();
        let mut events = std::pin::pin!(events);
        loop {
            let event = tokio::select! {
                event = events.next() => event,
                () = stopped(&mut stop) => return errors,
            };
            let at = shared.now();
            match event {
                // The server ended the watch (its timeout): watch again at once, as a pause
                // would delay events; only a server that ends every watch straight away gets a
                // pause, so that it is not hammered.
                None => {
                    if opened_at.elapsed() < REWATCH_PAUSE * 10 {
                        pause(&mut stop).await;
                    }
                    break;
                }
                Some(Ok(WatchEvent::Added(pod) | WatchEvent::Modified(pod))) => {
                    if let Some(seen) = &pod.metadata.resource_version {
                        version.clone_from(seen);
                    }
                    book(&shared, &pod, at);
                }
                Some(Ok(WatchEvent::Deleted(pod))) => {
                    if let Some(seen) = &pod.metadata.resource_version {
                        version.clone_from(seen);
                    }
                    if let Some(index) = index_of(&shared, &pod) {
                        shared.update(|timeline| timeline.deleted(index));
                    }
                }
                Some(Ok(WatchEvent::Bookmark(bookmark))) => {
                    version = bookmark.metadata.resource_version;
                }
                Some(Ok(WatchEvent::Error(status))) => {
                    failed(&mut errors, status_line(&status));
                    // 410 Gone: the version is too old to resume from, so list the pods to
                    // catch up (their times are then those of the list) and watch from there.
                    if status.code == 410 {
                        match timed(api.list(&ListParams::default().labels(&selector))).await {
                            Ok(list) => {
                                let at = shared.now();
                                for pod in &list.items {
                                    book(&shared, pod, at);
                                }
                                version = list.metadata.resource_version.unwrap_or_default();
                            }
                            Err(error) => failed(&mut errors, describe(&error)),
                        }
                    }
                    pause(&mut stop).await;
                    break;
                }
                Some(Err(error)) => {
                    failed(&mut errors, describe(&error));
                    pause(&mut stop).await;
                    break;
                }
            }
        }
    }
    errors
}

/// Keeps a watch failure for the warnings, up to [`WATCH_ERRORS_KEPT`] of them.
fn failed(errors: &mut Vec<String>, message: String) {
    if errors.len() < WATCH_ERRORS_KEPT {
        errors.push(message);
    }
}

fn index_of(shared: &Shared, pod: &Pod) -> Option<usize> {
    shared.run.index_of(pod.metadata.name.as_deref()?)
}

/// Books what one event shows of one of the run's pods.
fn book(shared: &Shared, pod: &Pod, at: Duration) {
    if let Some(index) = index_of(shared, pod) {
        let observed = observe(pod);
        shared.update(|timeline| timeline.observed(index, at, &observed));
    }
}

/// One warning per distinct watch failure, with how often it happened.
fn watch_warnings(errors: &[String]) -> Vec<String> {
    let mut distinct: Vec<(&str, usize)> = Vec::new();
    for error in errors {
        match distinct.iter_mut().find(|(known, _)| known == error) {
            Some((_, count)) => *count += 1,
            None => distinct.push((error, 1)),
        }
    }
    distinct
        .into_iter()
        .map(|(error, count)| {
            let times = if count == 1 {
                "once".to_owned()
            } else {
                format!("{count} times")
            };
            format!(
                "the watch failed {times} ({error}); pods seen after it was opened again may \
                 be timed late"
            )
        })
        .collect()
}

/// Waits a little before watching again, unless the run stops first.
async fn pause(stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        () = tokio::time::sleep(REWATCH_PAUSE) => {},
        () = stopped(stop) => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_failures_become_one_warning_each() {
        let errors = [
            "410 Expired: too old".to_owned(),
            "connection reset".to_owned(),
            "410 Expired: too old".to_owned(),
        ];
        assert_eq!(
            watch_warnings(&errors),
            [
                "the watch failed 2 times (410 Expired: too old); pods seen after it was opened \
                 again may be timed late",
                "the watch failed once (connection reset); pods seen after it was opened again \
                 may be timed late",
            ]
        );
        assert!(watch_warnings(&[]).is_empty());
    }
}
