//! Events about pods, as kube-scheduler records them: core/v1 Events in the pod's namespace
//! from `default-scheduler`. A repeat of the same reason and message for the same pod bumps
//! the first Event's `count` and `lastTimestamp` instead of creating another, like client-go's
//! event correlator.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The component name kube-scheduler reports events under.
pub const COMPONENT: &str = "default-scheduler";

/// Which pod an event is about.
#[derive(Debug, Clone)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: String,
}

impl PodRef {
    pub fn of(pod: &Pod) -> PodRef {
        PodRef {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            resource_version: pod.metadata.resource_version.clone().unwrap_or_default(),
        }
    }
}

/// An event to record.
#[derive(Debug, Clone)]
pub struct Record {
    pub pod: PodRef,
    /// `Normal` or `Warning`.
    pub type_: &'static str,
    pub reason: &'static str,
    /// What the scheduler was doing (`Scheduling`, `Binding`, `Preempting`).
    pub action: &'static str,
    pub message: String,
}

/// An Event already written, to bump on repeats.
#[derive(Debug, Clone)]
struct Series {
    name: String,
    count: i32,
}

/// Writes events without blocking the scheduling loop; the writes run on the given task set.
pub struct Recorder {
    client: kube::Client,
    instance: String,
    /// By pod UID, reason and message.
    series: HashMap<(String, &'static str, String), Series>,
    limit: Arc<Semaphore>,
}

impl Recorder {
    pub fn new(client: kube::Client, instance: String, limit: Arc<Semaphore>) -> Recorder {
        Recorder {
            client,
            instance,
            series: HashMap::new(),
            limit,
        }
    }

    /// Records an event, or bumps the series of an identical earlier one.
    pub fn record(&mut self, record: Record, tasks: &mut JoinSet<()>) {
        let now = Timestamp::now();
        let key = (
            record.pod.uid.clone(),
            record.reason,
            record.message.clone(),
        );
        let api: Api<Event> = Api::namespaced(self.client.clone(), &record.pod.namespace);
        let limit = self.limit.clone();
        match self.series.get_mut(&key) {
            Some(series) => {
                series.count += 1;
                let (name, count) = (series.name.clone(), series.count);
                let fallback = self.event(&record, now, &name);
                tasks.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    let patch = json!({"count": count, "lastTimestamp": Time(now)});
                    match api
                        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                    {
                        Ok(_) => {}
                        // The Event expired (events have a TTL): start the series again.
                        Err(kube::Error::Api(s)) if s.code == 404 => {
                            let mut event = fallback;
                            event.count = Some(count);
                            create(&api, event).await;
                        }
                        Err(e) => warn_failed(&name, &e),
                    }
                });
            }
            None => {
                // kube names events `<object>.<hex nanoseconds>`.
                let name = format!("{}.{:x}", record.pod.name, now.as_nanosecond());
                self.series.insert(
                    key,
                    Series {
                        name: name.clone(),
                        count: 1,
                    },
                );
                let event = self.event(&record, now, &name);
                tasks.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    create(&api, event).await;
                });
            }
        }
    }

    /// Drops the series kept for a pod (deleted, or scheduled).
    pub fn forget(&mut self, uid: &str) {
        self.series.retain(|(pod, _, _), _| pod != uid);
    }

    fn event(&self, record: &Record, now: Timestamp, name: &str) -> Event {
        Event {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(record.pod.namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                namespace: Some(record.pod.namespace.clone()),
                name: Some(record.pod.name.clone()),
                uid: Some(record.pod.uid.clone()),
                resource_version: Some(record.pod.resource_version.clone())
                    .filter(|rv| !rv.is_empty()),
                ..ObjectReference::default()
            },
            type_: Some(record.type_.into()),
            reason: Some(record.reason.into()),
            action: Some(record.action.into()),
            message: Some(record.message.clone()),
            source: Some(EventSource {
                component: Some(COMPONENT.into()),
                host: None,
            }),
            reporting_component: Some(COMPONENT.into()),
            reporting_instance: Some(self.instance.clone()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            ..Event::default()
        }
    }
}

async fn create(api: &Api<Event>, event: Event) {
    let name = event.metadata.name.clone().unwrap_or_default();
    if let Err(e) = api.create(&PostParams::default(), &event).await {
        warn_failed(&name, &e);
    }
}

fn warn_failed(name: &str, e: &kube::Error) {
    tracing::warn!(target: "kube-scheduler", event = name, err = %e, "Server rejected event (will not retry!)");
}
