//! Records core/v1 Events the way client-go's legacy event recorder does: queued without blocking
//! the controller, written by a background task, and repeats of one event folded into one Event
//! whose count and lastTimestamp grow.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use tokio::sync::mpsc;

/// How long a repeat still bumps the earlier Event instead of making a new one. client-go keeps
/// its correlation cache without a time bound; the API server drops Events after an hour, so a
/// shorter window keeps us from patching Events that are gone.
const REPEAT_WINDOW: Duration = Duration::from_secs(10 * 60);
/// How many distinct events the correlator remembers (client-go's cache holds 4096).
const REMEMBERED: usize = 4096;
/// Events waiting to be written; past this, new ones are dropped (as client-go's broadcaster
/// drops when its queue is full) rather than slowing a controller down.
const QUEUE: usize = 1000;

/// Records Events for one component. Cheap to clone; the writer task ends with the last clone.
#[derive(Clone)]
pub(crate) struct Recorder {
    queue: mpsc::Sender<Record>,
}

/// One event to write.
#[derive(Clone, Debug)]
struct Record {
    object: ObjectReference,
    type_: &'static str,
    reason: String,
    message: String,
}

impl Recorder {
    /// A recorder writing through `client`, naming `component` as the Event's source.
    pub(crate) fn new(client: kube::Client, component: &str) -> Recorder {
        let (queue, records) = mpsc::channel(QUEUE);
        tokio::spawn(write_events(client, component.to_string(), records));
        Recorder { queue }
    }

    /// Best effort (a failure is logged at debug, never returned). Repeats of the same
    /// (object, reason, message) within a few minutes bump count/lastTimestamp of one Event.
    pub(crate) async fn normal(&self, object: &ObjectReference, reason: &str, message: &str) {
        self.record(object, "Normal", reason, message);
    }

    pub(crate) async fn warning(&self, object: &ObjectReference, reason: &str, message: &str) {
        self.record(object, "Warning", reason, message);
    }

    fn record(&self, object: &ObjectReference, type_: &'static str, reason: &str, message: &str) {
        let record = Record {
            object: object.clone(),
            type_,
            reason: reason.to_string(),
            message: message.to_string(),
        };
        if self.queue.try_send(record).is_err() {
            tracing::debug!(target: "kube-controller-manager",
                "event queue full or closed; dropping event {reason}: {message}");
        }
    }
}

/// What to do with one event, given what was recorded before.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Write {
    /// Create a new Event under this name.
    Create { name: String },
    /// Bump the Event of this name to `count`.
    Bump { name: String, count: i32 },
}

/// Which earlier Event a repeat belongs to. Pure: time is passed in.
#[derive(Default)]
struct Correlator {
    seen: HashMap<Key, Seen>,
    /// Keys in the order first seen, to forget the oldest once full.
    order: VecDeque<Key>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Key {
    kind: String,
    namespace: String,
    name: String,
    uid: String,
    type_: &'static str,
    reason: String,
    message: String,
}

struct Seen {
    name: String,
    count: i32,
    last: jiff::Timestamp,
}

impl Key {
    fn of(record: &Record) -> Key {
        let o = &record.object;
        Key {
            kind: o.kind.clone().unwrap_or_default(),
            namespace: o.namespace.clone().unwrap_or_default(),
            name: o.name.clone().unwrap_or_default(),
            uid: o.uid.clone().unwrap_or_default(),
            type_: record.type_,
            reason: record.reason.clone(),
            message: record.message.clone(),
        }
    }
}

impl Correlator {
    fn observe(&mut self, record: &Record, now: jiff::Timestamp) -> Write {
        let key = Key::of(record);
        if let Some(seen) = self.seen.get_mut(&key)
            && now.duration_since(seen.last).unsigned_abs() < REPEAT_WINDOW
        {
            seen.count += 1;
            seen.last = now;
            return Write::Bump {
                name: seen.name.clone(),
                count: seen.count,
            };
        }
        // client-go names Events "<object>.<unix nanoseconds in hex>".
        let name = format!("{}.{:x}", key.name, now.as_nanosecond().max(0));
        if !self.seen.contains_key(&key) {
            self.order.push_back(key.clone());
        }
        self.seen.insert(
            key,
            Seen {
                name: name.clone(),
                count: 1,
                last: now,
            },
        );
        while self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        Write::Create { name }
    }

    /// Forgets a key whose Event could not be bumped (it expired), so the next one creates.
    fn forget(&mut self, record: &Record) {
        let key = Key::of(record);
        self.seen.remove(&key);
        self.order.retain(|k| k != &key);
    }
}

/// The Event namespace: the object's, or "default" for cluster-scoped objects as client-go does.
fn event_namespace(object: &ObjectReference) -> String {
    match object.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => ns.to_string(),
        _ => "default".to_string(),
    }
}

/// The new Event for `record`, named `name`, first seen at `now`.
fn new_event(record: &Record, component: &str, name: String, now: jiff::Timestamp) -> Event {
    Event {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(event_namespace(&record.object)),
            ..ObjectMeta::default()
        },
        involved_object: record.object.clone(),
        reason: Some(record.reason.clone()),
        message: Some(record.message.clone()),
        type_: Some(record.type_.to_string()),
        count: Some(1),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        source: Some(EventSource {
            component: Some(component.to_string()),
            host: None,
        }),
        reporting_component: Some(component.to_string()),
        reporting_instance: Some(String::new()),
        ..Event::default()
    }
}

/// The writer task: one Event write at a time, in order, until every Recorder is gone.
async fn write_events(
    client: kube::Client,
    component: String,
    mut records: mpsc::Receiver<Record>,
) {
    let mut correlator = Correlator::default();
    while let Some(record) = records.recv().await {
        let now = jiff::Timestamp::now();
        let namespace = event_namespace(&record.object);
        let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
        let result = match correlator.observe(&record, now) {
            Write::Create { name } => {
                let event = new_event(&record, &component, name, now);
                api.create(&PostParams::default(), &event).await.map(drop)
            }
            Write::Bump { name, count } => {
                let patch = serde_json::json!({
                    "count": count,
                    "lastTimestamp": Time(now),
                });
                match api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(status)) if status.code == 404 => {
                        // The earlier Event expired: start a new one.
                        correlator.forget(&record);
                        let Write::Create { name } = correlator.observe(&record, now) else {
                            continue;
                        };
                        let event = new_event(&record, &component, name, now);
                        api.create(&PostParams::default(), &event).await.map(drop)
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = result {
            tracing::debug!(target: "kube-controller-manager",
                "unable to write event {} {}: {e}", record.reason, record.message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, reason: &str, message: &str) -> Record {
        Record {
            object: ObjectReference {
                kind: Some("ReplicaSet".into()),
                namespace: Some("default".into()),
                name: Some(name.into()),
                uid: Some(format!("uid-{name}")),
                ..ObjectReference::default()
            },
            type_: "Normal",
            reason: reason.into(),
            message: message.into(),
        }
    }

    fn at(seconds: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    #[test]
    fn repeats_bump_one_event_within_the_window() {
        let mut c = Correlator::default();
        let a = record("web", "SuccessfulCreate", "Created pod: web-1");
        let Write::Create { name } = c.observe(&a, at(0)) else {
            panic!("first sighting creates");
        };
        assert!(name.starts_with("web."), "{name}");
        assert_eq!(
            c.observe(&a, at(30)),
            Write::Bump {
                name: name.clone(),
                count: 2
            }
        );
        assert_eq!(
            c.observe(&a, at(60)),
            Write::Bump {
                name: name.clone(),
                count: 3
            }
        );
        // Another message is another Event.
        let b = record("web", "SuccessfulCreate", "Created pod: web-2");
        assert!(matches!(c.observe(&b, at(61)), Write::Create { .. }));
        // Past the window since the last sighting, a new Event starts.
        assert!(matches!(
            c.observe(&a, at(60 + 11 * 60)),
            Write::Create { .. }
        ));
    }

    #[test]
    fn forgets_the_oldest_when_full() {
        let mut c = Correlator::default();
        for i in 0..=REMEMBERED {
            c.observe(&record(&format!("o{i}"), "R", "m"), at(0));
        }
        assert_eq!(c.seen.len(), REMEMBERED);
        assert!(matches!(
            c.observe(&record("o0", "R", "m"), at(1)),
            Write::Create { .. }
        ));
        assert!(matches!(
            c.observe(&record(&format!("o{REMEMBERED}"), "R", "m"), at(1)),
            Write::Bump { count: 2, .. }
        ));
    }

    #[test]
    fn cluster_scoped_objects_record_in_default() {
        let mut node = record("n1", "R", "m").object;
        node.namespace = None;
        assert_eq!(event_namespace(&node), "default");
        let e = new_event(
            &record("web", "R", "m"),
            "deployment-controller",
            "x".into(),
            at(0),
        );
        assert_eq!(e.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(
            e.source.unwrap().component.as_deref(),
            Some("deployment-controller")
        );
        assert_eq!(e.count, Some(1));
    }
}
