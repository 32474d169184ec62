//! Events about pods and their containers (core/v1 Events, source `kubelet` on this node), as
//! `kubectl describe pod` shows them: Pulled, Created, Started, Killing, BackOff, Unhealthy...
//! Recording never waits: events go through a queue to one task that writes them, and a repeat
//! of a recent event bumps its count instead of making a new one, as Kubernetes' recorder does.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::call::call;

/// Events waiting to be written; past this, new ones are dropped (events are best effort).
const QUEUE: usize = 1024;
/// How long a repeated event counts as the same one.
const AGGREGATE_WINDOW: Duration = Duration::from_secs(600);
/// Past this many remembered events, the memory of repeats starts over.
const REMEMBERED: usize = 4096;

/// Normal or Warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// One event to record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub object: ObjectReference,
    pub type_: EventType,
    pub reason: String,
    pub message: String,
    pub at: Timestamp,
}

/// Records events; cheap to clone.
#[derive(Clone)]
pub(crate) struct Recorder {
    tx: mpsc::Sender<Record>,
}

/// The reference to a pod, or (with `field_path`, e.g. `spec.containers{web}`) to one of its
/// containers.
pub(crate) fn reference(pod: &Pod, field_path: Option<&str>) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".to_string()),
        kind: Some("Pod".to_string()),
        name: pod.metadata.name.clone(),
        namespace: pod.metadata.namespace.clone(),
        uid: pod.metadata.uid.clone(),
        resource_version: pod.metadata.resource_version.clone(),
        field_path: field_path.map(str::to_string),
    }
}

impl Recorder {
    /// Starts the task that writes events, until `stop`.
    pub(crate) fn start(
        client: kube::Client,
        node_name: String,
        stop: watch::Receiver<bool>,
    ) -> (Recorder, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(client, node_name, rx, stop));
        (Recorder { tx }, task)
    }

    /// Records an event about `object`.
    pub(crate) fn record(
        &self,
        object: ObjectReference,
        type_: EventType,
        reason: &str,
        message: String,
    ) {
        let record = Record {
            object,
            type_,
            reason: reason.to_string(),
            message,
            at: Timestamp::now(),
        };
        if self.tx.try_send(record).is_err() {
            tracing::debug!(target: "kubelet", reason, "event queue full; event dropped");
        }
    }
}

/// The Event object for a record seen for the first time.
pub(crate) fn event(record: &Record, node_name: &str) -> Event {
    let object = &record.object;
    let name = format!(
        "{}.{:x}",
        object.name.as_deref().unwrap_or("unknown"),
        record.at.as_nanosecond()
    );
    Event {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: object.namespace.clone(),
            ..ObjectMeta::default()
        },
        involved_object: object.clone(),
        reason: Some(record.reason.clone()),
        message: Some(record.message.clone()),
        type_: Some(record.type_.as_str().to_string()),
        source: Some(EventSource {
            component: Some("kubelet".to_string()),
            host: Some(node_name.to_string()),
        }),
        first_timestamp: Some(Time(record.at)),
        last_timestamp: Some(Time(record.at)),
        count: Some(1),
        reporting_component: Some("kubelet".to_string()),
        reporting_instance: Some(node_name.to_string()),
        ..Event::default()
    }
}

/// What makes two records the same event.
fn key(record: &Record) -> (Option<String>, Option<String>, String, String, EventType) {
    (
        record.object.uid.clone(),
        record.object.field_path.clone(),
        record.reason.clone(),
        record.message.clone(),
        record.type_,
    )
}

/// A written event: its name, count, and when it was last seen.
struct Written {
    name: String,
    count: i32,
    seen: Instant,
}

async fn run(
    client: kube::Client,
    node_name: String,
    mut rx: mpsc::Receiver<Record>,
    mut stop: watch::Receiver<bool>,
) {
    let mut written: HashMap<_, Written> = HashMap::new();
    loop {
        let record = tokio::select! {
            record = rx.recv() => match record {
                Some(record) => record,
                None => return,
            },
            _ = stop.changed() => return,
        };
        let namespace = record.object.namespace.clone().unwrap_or_default();
        let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
        if written.len() > REMEMBERED {
            written.clear();
        }
        let key = key(&record);
        let now = Instant::now();
        if let Some(seen) = written
            .get_mut(&key)
            .filter(|w| now - w.seen < AGGREGATE_WINDOW)
        {
            seen.count += 1;
            seen.seen = now;
            let patch = Patch::Merge(json!({
                "count": seen.count,
                "lastTimestamp": Time(record.at),
            }));
            let what = format!("updating event {namespace}/{}", seen.name);
            match call(
                &what,
                api.patch(&seen.name, &PatchParams::default(), &patch),
            )
            .await
            {
                Ok(_) => continue,
                // Gone (expired): written anew below.
                Err(e) if e.code() == Some(404) => {}
                Err(e) => {
                    tracing::debug!(target: "kubelet", error = %e, "event not recorded");
                    continue;
                }
            }
        }
        let event = event(&record, &node_name);
        let name = event.metadata.name.clone().unwrap_or_default();
        let what = format!("creating event {namespace}/{name}");
        match call(&what, api.create(&PostParams::default(), &event)).await {
            Ok(_) => {
                written.insert(
                    key,
                    Written {
                        name,
                        count: 1,
                        seen: now,
                    },
                );
            }
            Err(e) => tracing::debug!(target: "kubelet", error = %e, "event not recorded"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_the_pod_container_and_node() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "shop", "uid": "u1", "resourceVersion": "7"},
        }))
        .unwrap();
        let at = Timestamp::from_second(1_750_000_000).unwrap();
        let record = Record {
            object: reference(&pod, Some("spec.containers{app}")),
            type_: EventType::Warning,
            reason: "BackOff".into(),
            message: "Back-off restarting failed container app in pod web_shop(u1)".into(),
            at,
        };
        let got = serde_json::to_value(event(&record, "n1")).unwrap();
        assert_eq!(
            got,
            json!({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "web.18493fba64ef0000", "namespace": "shop"},
                "involvedObject": {
                    "apiVersion": "v1", "kind": "Pod", "name": "web", "namespace": "shop",
                    "uid": "u1", "resourceVersion": "7", "fieldPath": "spec.containers{app}",
                },
                "reason": "BackOff",
                "message": "Back-off restarting failed container app in pod web_shop(u1)",
                "type": "Warning",
                "source": {"component": "kubelet", "host": "n1"},
                "firstTimestamp": "2025-06-15T15:06:40Z",
                "lastTimestamp": "2025-06-15T15:06:40Z",
                "count": 1,
                "reportingComponent": "kubelet",
                "reportingInstance": "n1",
            })
        );
    }
}
