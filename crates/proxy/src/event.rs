//! The Node event a proxy records when it starts, as kube-proxy's "Starting" event that `kubectl
//! describe node` lists.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::PostParams;

use crate::Result;

/// Node events live in `default`, since a Node has no namespace.
const NAMESPACE: &str = "default";

/// The Starting event for `node` at `now`, in the core events API (hakube serves no
/// events.k8s.io, and kubectl reads both).
pub(crate) fn starting(node: &str, now: Timestamp) -> Event {
    Event {
        metadata: ObjectMeta {
            // client-go names events `<object>.<hex nanoseconds>`, unique per object and time.
            name: Some(format!("{node}.{:x}", now.as_nanosecond())),
            namespace: Some(NAMESPACE.to_string()),
            ..ObjectMeta::default()
        },
        // kube-proxy refers to its Node with the node name as UID, not the Node's real UID.
        involved_object: ObjectReference {
            kind: Some("Node".to_string()),
            name: Some(node.to_string()),
            uid: Some(node.to_string()),
            ..ObjectReference::default()
        },
        reason: Some("Starting".to_string()),
        message: Some("Starting kube-proxy.".to_string()),
        type_: Some("Normal".to_string()),
        source: Some(EventSource {
            component: Some("kube-proxy".to_string()),
            host: Some(node.to_string()),
        }),
        count: Some(1),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        event_time: Some(MicroTime(now)),
        action: Some("StartKubeProxy".to_string()),
        reporting_component: Some("kube-proxy".to_string()),
        reporting_instance: Some(format!("kube-proxy-{node}")),
        ..Event::default()
    }
}

/// Records the Starting event.
pub(crate) async fn record_starting(client: kube::Client, node: &str) -> Result<()> {
    let api: Api<Event> = Api::namespaced(client, NAMESPACE);
    api.create(&PostParams::default(), &starting(node, Timestamp::now()))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starting_event_names_the_node() {
        let now: Timestamp = "2025-01-02T03:04:05.123456Z".parse().unwrap();
        let event = starting("minikube-m02", now);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json["metadata"]["name"],
            format!("minikube-m02.{:x}", now.as_nanosecond())
        );
        assert_eq!(json["metadata"]["namespace"], "default");
        assert_eq!(json["involvedObject"]["kind"], "Node");
        assert_eq!(json["involvedObject"]["name"], "minikube-m02");
        assert_eq!(json["reason"], "Starting");
        assert_eq!(json["type"], "Normal");
        assert_eq!(json["source"]["component"], "kube-proxy");
        assert_eq!(json["source"]["host"], "minikube-m02");
        assert_eq!(json["firstTimestamp"], "2025-01-02T03:04:05Z");
    }
}
