//! The clients of a run: request loops that create, get, list and update ConfigMaps, and
//! watchers that keep a watch open and time the delivery of the run's own writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ListParams, PostParams, WatchEvent, WatchParams};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{oneshot, watch};

use super::connection::{Connection, describe, status_line};
use super::deliveries::{Deliveries, WriteId};
use super::mix::{Mix, OpKind};
use super::objects::{self, RunObjects, Set};
use super::recorder::Recorder;
use super::{Stop, stopped};
use crate::api::error::{Error, Result};

/// How long one measured operation may take before it counts as an error. Generous, so that a
/// slow server shows up as high latency rather than as errors.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times an update is tried when its replace keeps conflicting.
const UPDATE_ATTEMPTS: u64 = 10;
/// How long the watchers get, after the last write, to receive the events still due.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the watchers get to open their watches before the request loops start.
const WATCH_OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the drain checks for events still due.
const DRAIN_POLL: Duration = Duration::from_millis(10);
/// The server-side timeout asked for each watch; the watcher re-watches when it ends.
const WATCH_TIMEOUT_SECONDS: u32 = 240;
/// The pause before a watcher re-watches after an error, so that a failing server is not hammered.
const REWATCH_PAUSE: Duration = Duration::from_millis(100);

/// What a run does, shared by its clients.
pub(super) struct Plan {
    /// ConfigMaps in the run's namespace.
    pub api: Api<ConfigMap>,
    /// The run's names and labels.
    pub run: RunObjects,
    /// Which requests to send.
    pub mix: Mix,
    /// Bytes of data per object.
    pub object_size: usize,
    /// Pre-created objects, named by index.
    pub list_size: usize,
    /// Stop after this many requests.
    pub total: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Request loops.
    pub request_clients: usize,
    /// Watchers.
    pub watchers: usize,
    /// The resource version to watch from: after the pre-created objects, before the run.
    pub start_version: String,
}

/// What a finished run measured.
pub(super) struct Measured {
    pub recorder: Recorder,
    /// From the first request to the last response (the drain afterwards is not included).
    pub elapsed: Duration,
    /// Problems around the measurement, for the report.
    pub warnings: Vec<String>,
}

/// What the request loops share while they run.
struct Shared {
    plan: Plan,
    /// Requests started so far, counted against `plan.total`.
    issued: AtomicU64,
    deliveries: Deliveries,
}

/// Opens the watches, then runs the request loops until the request or time limit or until
/// `stop`, then gives the watchers a moment to receive the events still due.
pub(super) async fn drive(plan: Plan, connection: &Connection, stop: Stop) -> Result<Measured> {
    let deliveries = Deliveries::new(plan.watchers);
    let api = plan.api.clone();
    let shared = Arc::new(Shared {
        plan,
        issued: AtomicU64::new(0),
        deliveries,
    });

    // The watchers stop on their own signal: they outlive the request loops by the drain.
    let (stop_watchers, watchers_stop) = watch::channel(false);
    let mut watchers = Vec::new();
    let mut ready = Vec::new();
    for index in 0..shared.plan.watchers {
        let (established, is_established) = oneshot::channel();
        watchers.push(tokio::spawn(watcher(
            shared.clone(),
            index,
            established,
            watchers_stop.clone(),
        )));
        ready.push(is_established);
    }
    // Each watcher says when its watch is open (the server has answered its request), so that
    // the first writes are not timed against a watch still being set up. A server that holds
    // back the response headers until the first event would make this wait forever, so it is
    // bounded; the watches still resume from the start version, so no event is lost.
    let mut warnings = Vec::new();
    let opened = tokio::time::timeout(WATCH_OPEN_TIMEOUT, futures::future::join_all(ready)).await;
    match opened {
        Ok(results) => {
            // A watcher that panicked drops its sender; joining it below reports that.
            if let Some(error) = results
                .into_iter()
                .find_map(|result| result.ok().and_then(std::result::Result::err))
            {
                let _ = stop_watchers.send(true);
                let action = format!("watch ConfigMaps in namespace {}", namespace(&api));
                return Err(connection.setup_error(action, &error).await);
            }
        }
        Err(_) => warnings.push(format!(
            "the watches did not open within {}s; the first events' latency may include the wait",
            WATCH_OPEN_TIMEOUT.as_secs()
        )),
    }

    let started = Instant::now();
    let deadline = shared.plan.duration.map(|duration| started + duration);
    let loops: Vec<_> = (0..shared.plan.request_clients)
        .map(|client| tokio::spawn(client_loop(shared.clone(), client, deadline, stop.clone())))
        .collect();
    let mut recorder = Recorder::new();
    for joined in futures::future::join_all(loops).await {
        recorder.merge(&joined.map_err(Error::Worker)?);
    }
    let elapsed = started.elapsed();

    if !shared.deliveries.enabled() {
        return Ok(Measured {
            recorder,
            elapsed,
            warnings,
        });
    }
    // Poll with a deadline: the watchers are receiving events meanwhile.
    let drain_deadline = Instant::now() + DRAIN_TIMEOUT;
    while shared.deliveries.outstanding() > 0 && Instant::now() < drain_deadline {
        tokio::time::sleep(DRAIN_POLL).await;
    }
    let _ = stop_watchers.send(true);
    for joined in futures::future::join_all(watchers).await {
        recorder.merge(&joined.map_err(Error::Worker)?);
    }
    recorder.failures(
        OpKind::Watch,
        &format!(
            "event not received within {}s of the last write",
            DRAIN_TIMEOUT.as_secs()
        ),
        shared.deliveries.outstanding(),
    );
    Ok(Measured {
        recorder,
        elapsed,
        warnings,
    })
}

fn namespace(api: &Api<ConfigMap>) -> String {
    api.namespace().unwrap_or_default().to_owned()
}

/// One request loop: picks an operation, sends it, records the outcome, until a limit or `stop`.
async fn client_loop(
    shared: Arc<Shared>,
    client: usize,
    deadline: Option<Instant>,
    mut stop: Stop,
) -> Recorder {
    let mut rng = SmallRng::from_os_rng();
    let mut recorder = Recorder::new();
    let mut sequence = 0_u64;
    let plan = &shared.plan;
    loop {
        if *stop.borrow() || deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            break;
        }
        if let Some(total) = plan.total
            && shared.issued.fetch_add(1, Ordering::Relaxed) >= total
        {
            break;
        }
        let kind = plan
            .mix
            .pick_request(rng.random_range(0..plan.mix.request_weight()));
        let started = Instant::now();
        let request = async {
            match kind {
                OpKind::Create => {
                    sequence += 1;
                    create(&shared, plan.run.created_name(client, sequence)).await
                }
                OpKind::Get => {
                    let name = plan.run.seed_name(rng.random_range(0..plan.list_size));
                    plan.api
                        .get(&name)
                        .await
                        .map(|_| 0)
                        .map_err(|error| Failure::new(&error, &name, 0))
                }
                OpKind::List => {
                    let params = ListParams::default().labels(&plan.run.seed_selector());
                    plan.api
                        .list(&params)
                        .await
                        .map(|_| 0)
                        .map_err(|error| Failure::new(&error, "", 0))
                }
                // Watch is never picked for a request; treating it as an update keeps the
                // match total without a panic.
                OpKind::Update | OpKind::Watch => {
                    update(
                        &shared,
                        plan.run.seed_name(rng.random_range(0..plan.list_size)),
                    )
                    .await
                }
            }
        };
        let outcome = tokio::select! {
            outcome = tokio::time::timeout(REQUEST_TIMEOUT, request) => outcome,
            () = stopped(&mut stop) => break,
        };
        match outcome {
            Ok(Ok(conflicts)) => recorder.success(kind, started.elapsed(), conflicts),
            Ok(Err(failure)) => {
                recorder.conflicts(kind, failure.conflicts);
                recorder.failure(kind, &failure.message);
            }
            Err(_) => recorder.failure(
                kind,
                &format!("no answer within {}s", REQUEST_TIMEOUT.as_secs()),
            ),
        }
    }
    recorder
}

/// A failed operation: its one-line reason, and the conflicts it retried before failing.
struct Failure {
    message: String,
    conflicts: u64,
}

impl Failure {
    /// Object names would make every message distinct, so they are replaced by a placeholder.
    fn new(error: &kube::Error, name: &str, conflicts: u64) -> Failure {
        let message = describe(error);
        let message = if name.is_empty() {
            message
        } else {
            message.replace(name, "<name>")
        };
        Failure { message, conflicts }
    }
}

/// Creates a new object. Returns the conflicts retried (none).
async fn create(shared: &Shared, name: String) -> Result<u64, Failure> {
    let plan = &shared.plan;
    let written_at = objects::now_nanos();
    let object = plan.run.config_map(
        name.clone(),
        Set::Created,
        plan.object_size,
        Some(written_at),
    );
    let id: WriteId = (name, written_at);
    shared.deliveries.sending(id.clone());
    match plan.api.create(&PostParams::default(), &object).await {
        Ok(_) => {
            shared.deliveries.acknowledged(&id, Instant::now());
            Ok(0)
        }
        Err(error) => {
            shared.deliveries.abandoned(&id);
            Err(Failure::new(&error, &id.0, 0))
        }
    }
}

/// Gets an object, changes it and replaces it under the resource version it read, as a
/// controller updates; a 409 Conflict starts over. Returns how many conflicts were retried.
async fn update(shared: &Shared, name: String) -> Result<u64, Failure> {
    let plan = &shared.plan;
    let mut conflicts = 0;
    loop {
        let mut object = plan
            .api
            .get(&name)
            .await
            .map_err(|error| Failure::new(&error, &name, conflicts))?;
        let written_at = objects::now_nanos();
        objects::modify(&mut object, plan.object_size, written_at);
        let id: WriteId = (name.clone(), written_at);
        shared.deliveries.sending(id.clone());
        match plan
            .api
            .replace(&name, &PostParams::default(), &object)
            .await
        {
            Ok(_) => {
                shared.deliveries.acknowledged(&id, Instant::now());
                return Ok(conflicts);
            }
            Err(error) => {
                shared.deliveries.abandoned(&id);
                let conflict = matches!(&error, kube::Error::Api(status) if status.code == 409);
                if !conflict {
                    return Err(Failure::new(&error, &name, conflicts));
                }
                conflicts += 1;
                if conflicts >= UPDATE_ATTEMPTS {
                    return Err(Failure {
                        message: format!("gave up after {conflicts} conflicts in a row"),
                        conflicts,
                    });
                }
            }
        }
    }
}

/// One watcher: watches the run's objects from the plan's start version, re-watching from the
/// last version seen whenever the server ends the watch, and times each event of a measured
/// write. Reports on `established` whether its first watch opened.
async fn watcher(
    shared: Arc<Shared>,
    index: usize,
    established: oneshot::Sender<Result<(), kube::Error>>,
    mut stop: watch::Receiver<bool>,
) -> Recorder {
    let plan = &shared.plan;
    let mut recorder = Recorder::new();
    let mut established = Some(established);
    let mut version = plan.start_version.clone();
    let params = WatchParams::default()
        .labels(&plan.run.run_selector())
        .timeout(WATCH_TIMEOUT_SECONDS);
    while !*stop.borrow() {
        let opened = tokio::select! {
            opened = plan.api.watch(&params, &version) => opened,
            () = stopped(&mut stop) => break,
        };
        let events = match opened {
            Ok(events) => events,
            Err(error) => {
                if let Some(established) = established.take() {
                    let _ = established.send(Err(error));
                    return recorder;
                }
                recorder.failure(OpKind::Watch, &describe(&error));
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
                () = stopped(&mut stop) => return recorder,
            };
            let arrived = Instant::now();
            match event {
                // The server ended the watch (its timeout): watch again from where it left off
                // at once, as a pause would delay events; only a server that ends every watch
                // straight away gets a pause, so that it is not hammered.
                None => {
                    if opened_at.elapsed() < REWATCH_PAUSE * 10 {
                        pause(&mut stop).await;
                    }
                    break;
                }
                Some(Ok(WatchEvent::Added(object) | WatchEvent::Modified(object))) => {
                    if let Some(seen) = &object.metadata.resource_version {
                        version.clone_from(seen);
                    }
                    if let Some((name, written_at)) = objects::write_id(&object)
                        && let Some(latency) = shared.deliveries.arrived(
                            index,
                            &(name.to_owned(), written_at),
                            arrived,
                        )
                    {
                        recorder.success(OpKind::Watch, latency, 0);
                    }
                }
                Some(Ok(WatchEvent::Deleted(object))) => {
                    if let Some(seen) = object.metadata.resource_version {
                        version = seen;
                    }
                }
                Some(Ok(WatchEvent::Bookmark(bookmark))) => {
                    version = bookmark.metadata.resource_version;
                }
                Some(Ok(WatchEvent::Error(status))) => {
                    recorder.failure(OpKind::Watch, &status_line(&status));
                    // 410 Gone: the version is too old to resume from, so start from now; the
                    // events in between are counted as not received when the run ends.
                    if status.code == 410
                        && let Ok(list) = plan
                            .api
                            .list_metadata(
                                &ListParams::default()
                                    .labels(&plan.run.run_selector())
                                    .limit(1),
                            )
                            .await
                        && let Some(current) = list.metadata.resource_version
                    {
                        version = current;
                    }
                    pause(&mut stop).await;
                    break;
                }
                Some(Err(error)) => {
                    recorder.failure(OpKind::Watch, &describe(&error));
                    pause(&mut stop).await;
                    break;
                }
            }
        }
    }
    recorder
}

/// Waits a little before watching again, unless the run stops first.
async fn pause(stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        () = tokio::time::sleep(REWATCH_PAUSE) => {},
        () = stopped(stop) => {},
    }
}
