//! The pods a run creates: their names, the label that finds them again, and the manifest, small
//! enough that a hundred fit on three nodes and gone as soon as they are deleted.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::objects::RUN_LABEL;

/// The name of the pods' one container.
const CONTAINER: &str = "pause";
/// CPU each pod requests: the smallest amount there is, so that requests never limit the run.
const CPU_REQUEST: &str = "1m";
/// Memory each pod requests, for the same reason.
const MEMORY_REQUEST: &str = "1Mi";

/// Names and labels of one run's pods. The id keeps two runs in one namespace apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPods {
    id: String,
    image: String,
}

impl RunPods {
    /// A run with the given id (lowercase letters and digits) whose pods run `image`.
    pub fn new(id: String, image: String) -> RunPods {
        RunPods { id, image }
    }

    /// The run's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The namespace a run creates for itself when --namespace is not given.
    pub fn fresh_namespace(&self) -> String {
        format!("bench-pods-{}", self.id)
    }

    /// The name of the `index`th pod.
    pub fn pod_name(&self, index: usize) -> String {
        format!("bench-{}-{index}", self.id)
    }

    /// The index of a pod of this run, from its name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        let index = name
            .strip_prefix("bench-")?
            .strip_prefix(self.id.as_str())?
            .strip_prefix('-')?;
        // `parse` would take "+1" and "01", which `pod_name` never writes.
        if index.is_empty()
            || !index.bytes().all(|b| b.is_ascii_digit())
            || index.starts_with('0') && index.len() > 1
        {
            return None;
        }
        index.parse().ok()
    }

    /// The name of the pod sent with dryRun before the run, to learn whether the server will
    /// take pods in the namespace yet. Never stored, but labelled like the others in case a
    /// server ignores dryRun, so that the clean-up finds it.
    pub fn probe_name(&self) -> String {
        format!("bench-{}-probe", self.id)
    }

    /// Selects every pod of the run.
    pub fn selector(&self) -> String {
        format!("{RUN_LABEL}={}", self.id)
    }

    /// The labels of the run's namespace and pods.
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(RUN_LABEL.to_owned(), self.id.clone())])
    }

    /// The pod named `name`: one container of the run's image with tiny requests, and no grace
    /// period, so that deleting the run's pods does not wait for them.
    pub fn pod(&self, name: String) -> Pod {
        let requests = BTreeMap::from([
            ("cpu".to_owned(), Quantity(CPU_REQUEST.to_owned())),
            ("memory".to_owned(), Quantity(MEMORY_REQUEST.to_owned())),
        ]);
        Pod {
            metadata: ObjectMeta {
                name: Some(name),
                labels: Some(self.labels()),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: CONTAINER.to_owned(),
                    image: Some(self.image.clone()),
                    resources: Some(ResourceRequirements {
                        requests: Some(requests),
                        ..ResourceRequirements::default()
                    }),
                    ..Container::default()
                }],
                termination_grace_period_seconds: Some(0),
                ..PodSpec::default()
            }),
            status: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunPods {
        RunPods::new("x7k2q".to_owned(), "hakube/pause".to_owned())
    }

    #[test]
    fn names_carry_the_run_id() {
        let run = run();
        assert_eq!(run.fresh_namespace(), "bench-pods-x7k2q");
        assert_eq!(run.pod_name(42), "bench-x7k2q-42");
        assert_eq!(run.probe_name(), "bench-x7k2q-probe");
        assert_eq!(run.selector(), "bench.hakube.io/run=x7k2q");
    }

    #[test]
    fn indexes_come_back_from_names_of_this_run_only() {
        let run = run();
        let cases = [
            ("bench-x7k2q-0", Some(0)),
            ("bench-x7k2q-99", Some(99)),
            ("bench-x7k2q-probe", None),
            ("bench-x7k2q-", None),
            ("bench-x7k2q-01", None),
            ("bench-x7k2q-+1", None),
            ("bench-b4b4b-1", None),
            ("bench-x7k2q1", None),
            ("other", None),
        ];
        for (name, expected) in cases {
            assert_eq!(run.index_of(name), expected, "{name}");
        }
        assert_eq!(run.index_of(&run.pod_name(1234)), Some(1234));
    }

    #[test]
    fn pods_are_tiny_labelled_and_go_at_once() {
        let pod = serde_json::to_value(run().pod(run().pod_name(3))).expect("JSON");
        let expected = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "bench-x7k2q-3",
                "labels": {"bench.hakube.io/run": "x7k2q"},
            },
            "spec": {
                "containers": [{
                    "name": "pause",
                    "image": "hakube/pause",
                    "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}},
                }],
                "terminationGracePeriodSeconds": 0,
            },
        });
        assert_eq!(pod, expected);
    }
}
