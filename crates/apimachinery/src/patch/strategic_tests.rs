//! Table tests for strategic merge patch: merging by key, the directives, replace-by-default lists,
//! kube's ordering, its errors, and the strategy table itself.

use serde_json::{Value, json};

use super::{MergeStrategy, PatchError, merge_strategy, strategic_merge};
use crate::resource::RESOURCES;

/// A Pod whose `spec` is `spec`.
fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

/// A Deployment whose pod template's `spec` is `spec`.
fn deployment(spec: Value) -> Value {
    json!({"kind": "Deployment", "spec": {"replicas": 1, "template": {"spec": spec}}})
}

#[test]
fn merges_as_kube_does() {
    let cases: Vec<(&str, &str, Value, Value, Value)> = vec![
        (
            "containers merge by name inside a Deployment's template",
            "Deployment",
            deployment(
                json!({"containers": [{"name": "app", "image": "app:1"}, {"name": "side", "image": "side:1"}]}),
            ),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "side:2"}]}}}}),
            deployment(
                json!({"containers": [{"name": "app", "image": "app:1"}, {"name": "side", "image": "side:2"}]}),
            ),
        ),
        (
            // kube's ordering: an added item goes before the object's items it cannot place.
            "a new container lands before the existing ones",
            "Pod",
            pod(json!({"containers": [{"name": "a", "image": "a"}]})),
            json!({"spec": {"containers": [{"name": "b", "image": "b"}]}}),
            pod(json!({"containers": [{"name": "b", "image": "b"}, {"name": "a", "image": "a"}]})),
        ),
        (
            "env merges by name",
            "Pod",
            pod(
                json!({"containers": [{"name": "app", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}),
            ),
            json!({"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "3"}]}]}}),
            pod(
                json!({"containers": [{"name": "app", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]}]}),
            ),
        ),
        (
            "ports merge by containerPort",
            "Pod",
            pod(
                json!({"containers": [{"name": "app", "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}]}]}),
            ),
            json!({"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 443, "protocol": "TCP"}]}]}}),
            pod(
                json!({"containers": [{"name": "app", "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https", "protocol": "TCP"}]}]}),
            ),
        ),
        (
            "$patch: delete removes the list element with that key",
            "Pod",
            pod(json!({"containers": [{"name": "a"}, {"name": "b"}]})),
            json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}),
            pod(json!({"containers": [{"name": "b"}]})),
        ),
        (
            "$patch: replace in a list keeps only the patch's elements",
            "Pod",
            pod(
                json!({"volumes": [{"name": "v1", "emptyDir": {}}, {"name": "v2", "emptyDir": {}}]}),
            ),
            json!({"spec": {"volumes": [{"$patch": "replace"}, {"name": "v3", "emptyDir": {}}]}}),
            pod(json!({"volumes": [{"name": "v3", "emptyDir": {}}]})),
        ),
        (
            "$patch: replace on an object replaces it",
            "ConfigMap",
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
            json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
            json!({"metadata": {"labels": {"c": "3"}}}),
        ),
        (
            "$patch: delete on an object empties it",
            "Deployment",
            json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}),
            json!({"spec": {"strategy": {"$patch": "delete"}}}),
            json!({"spec": {"strategy": {}}}),
        ),
        (
            "$retainKeys drops the keys it does not list",
            "Deployment",
            json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
        ),
        (
            "$setElementOrder orders the merged list",
            "Pod",
            pod(json!({"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]})),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
                "containers": [{"name": "a", "image": "a2"}],
            }}),
            pod(
                json!({"containers": [{"name": "c"}, {"name": "a", "image": "a2"}, {"name": "b"}]}),
            ),
        ),
        (
            "$setElementOrder keeps the object's other items near their neighbours",
            "Pod",
            pod(json!({"containers": [{"name": "a"}, {"name": "x"}, {"name": "b"}]})),
            json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}),
            pod(json!({"containers": [{"name": "x"}, {"name": "b"}, {"name": "a"}]})),
        ),
        (
            "$deleteFromPrimitiveList/finalizers removes finalizers",
            "Namespace",
            json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "z"]}}),
            json!({"metadata": {"finalizers": ["a", "c"]}}),
        ),
        (
            "$deleteFromPrimitiveList never creates the list",
            "Namespace",
            json!({"metadata": {"name": "n"}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}),
            json!({"metadata": {"name": "n"}}),
        ),
        (
            "finalizers merge as a set, new ones first",
            "ConfigMap",
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            json!({"metadata": {"finalizers": ["c", "a"]}}),
            json!({"metadata": {"finalizers": ["c", "a", "b"]}}),
        ),
        (
            "lists without a strategy are replaced",
            "Pod",
            pod(
                json!({"tolerations": [{"key": "a"}], "containers": [{"name": "app", "args": ["x", "y"]}]}),
            ),
            json!({"spec": {"tolerations": [{"key": "b"}], "containers": [{"name": "app", "args": ["z"]}]}}),
            pod(
                json!({"tolerations": [{"key": "b"}], "containers": [{"name": "app", "args": ["z"]}]}),
            ),
        ),
        (
            "null deletes, and nulls in new values are dropped",
            "Pod",
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"nodeSelector": {"x": "y"}}}),
            json!({"metadata": {"labels": {"a": null}, "annotations": {"k": "v", "gone": null}}, "spec": {"nodeSelector": null}}),
            json!({"metadata": {"labels": {"b": "2"}, "annotations": {"k": "v"}}, "spec": {}}),
        ),
        (
            "ownerReferences merge by uid on any kind",
            "Secret",
            json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b"}]}}),
            json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "c"}]}}),
            json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "c"}]}}),
        ),
        (
            "node conditions merge by type",
            "Node",
            json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "DiskPressure", "status": "False"}]}}),
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}]}}),
        ),
        (
            "service ports merge by port",
            "Service",
            json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}),
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}}),
        ),
        (
            "a PodDisruptionBudget's selector is replaced, not merged",
            "PodDisruptionBudget",
            json!({"spec": {"selector": {"matchLabels": {"a": "1"}}, "minAvailable": 1}}),
            json!({"spec": {"selector": {"matchLabels": {"b": "2"}}}}),
            json!({"spec": {"selector": {"matchLabels": {"b": "2"}}, "minAvailable": 1}}),
        ),
        (
            "a new list keeps no directive elements",
            "Pod",
            pod(json!({})),
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b", "$patch": "delete"}]}}),
            pod(json!({"containers": [{"name": "a"}]})),
        ),
        (
            "an unknown kind merges objects and replaces lists",
            "Widget",
            json!({"spec": {"a": 1, "items": [1, 2]}, "metadata": {"finalizers": ["x"]}}),
            json!({"spec": {"b": 2, "items": [3]}, "metadata": {"finalizers": ["y"]}}),
            json!({"spec": {"a": 1, "b": 2, "items": [3]}, "metadata": {"finalizers": ["y", "x"]}}),
        ),
    ];
    for (name, kind, doc, patch, want) in cases {
        let got = strategic_merge(&doc, &patch, kind).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn fails_with_kubes_messages() {
    let containers = pod(json!({"containers": [{"name": "a"}, {"name": "b"}]}));
    let cases: Vec<(&str, &str, Value, Value, &str, u16)> = vec![
        (
            "a patch element without the merge key",
            "Pod",
            containers.clone(),
            json!({"spec": {"containers": [{"image": "x"}]}}),
            "map: map[image:x] does not contain declared merge key: name",
            500,
        ),
        (
            "an unknown directive in an object",
            "Pod",
            containers.clone(),
            json!({"metadata": {"$patch": "merge"}}),
            "unknown patch type: merge in map: map[$patch:merge]",
            500,
        ),
        (
            "$patch: merge in a list",
            "Pod",
            containers.clone(),
            json!({"spec": {"containers": [{"$patch": "merge"}]}}),
            "merging lists cannot yet be specified in the patch",
            500,
        ),
        (
            "$setElementOrder contradicting the patch's order",
            "Pod",
            containers.clone(),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                "containers": [{"name": "b", "image": "x"}, {"name": "a", "image": "y"}],
            }}),
            "The order in patch list:\n[map[image:x name:b] map[image:y name:a]]\n doesn't match $setElementOrder list:\n[map[name:a] map[name:b]]\n",
            500,
        ),
        (
            "$deleteFromPrimitiveList without a field",
            "Pod",
            containers.clone(),
            json!({"metadata": {"$deleteFromPrimitiveList": ["x"]}}),
            "invalid patch format of primitive list",
            400,
        ),
        (
            "$retainKeys that is not a list",
            "Deployment",
            json!({"spec": {"strategy": {}}}),
            json!({"spec": {"strategy": {"$retainKeys": "type"}}}),
            "invalid patch format of retainKeys",
            400,
        ),
        (
            "$retainKeys missing a key the patch sets",
            "Deployment",
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}}),
            "invalid patch format of retainKeys",
            400,
        ),
        (
            "a list of lists",
            "Node",
            json!({"spec": {"podCIDRs": [["10.0.0.0/24"]]}}),
            json!({"spec": {"podCIDRs": [["10.0.1.0/24"]]}}),
            "lists of lists are not supported",
            422,
        ),
    ];
    for (name, kind, doc, patch, want, code) in cases {
        let err = strategic_merge(&doc, &patch, kind).expect_err(name);
        assert_eq!(err.to_string(), want, "{name}");
        assert_eq!(err.status_code(), code, "{name}");
    }
    assert_eq!(
        strategic_merge(&json!([1]), &json!({}), "Pod"),
        Err(PatchError::InvalidDocument)
    );
}

#[test]
fn the_strategy_table_follows_the_api_types() {
    use MergeStrategy::{MergeByKey, MergeScalars, Replace};
    let cases = [
        (
            "Deployment",
            "spec.template.spec.containers",
            Some(MergeByKey("name")),
        ),
        (
            "Deployment",
            "spec.template.spec.containers.env",
            Some(MergeByKey("name")),
        ),
        ("Deployment", "status.conditions", Some(MergeByKey("type"))),
        (
            "StatefulSet",
            "spec.template.spec.volumes",
            Some(MergeByKey("name")),
        ),
        (
            "DaemonSet",
            "spec.template.spec.initContainers.volumeMounts",
            Some(MergeByKey("mountPath")),
        ),
        (
            "ReplicaSet",
            "spec.template.metadata.finalizers",
            Some(MergeScalars),
        ),
        (
            "CronJob",
            "spec.jobTemplate.spec.template.spec.containers",
            Some(MergeByKey("name")),
        ),
        (
            "Pod",
            "spec.containers.ports",
            Some(MergeByKey("containerPort")),
        ),
        (
            "Pod",
            "spec.ephemeralContainers.volumeDevices",
            Some(MergeByKey("devicePath")),
        ),
        ("Pod", "spec.imagePullSecrets", Some(MergeByKey("name"))),
        ("Pod", "status.podIPs", Some(MergeByKey("ip"))),
        ("Pod", "spec.tolerations", None),
        ("Pod", "spec.containers.args", None),
        ("Pod", "spec.volumes.name", None),
        ("Pod", "spec.nope.containers", None),
        ("Node", "status.addresses", Some(MergeByKey("type"))),
        ("Node", "spec.podCIDRs", Some(MergeScalars)),
        ("Service", "spec.ports", Some(MergeByKey("port"))),
        ("ServiceAccount", "secrets", Some(MergeByKey("name"))),
        ("ServiceAccount", "imagePullSecrets", None),
        ("Namespace", "status.conditions", Some(MergeByKey("type"))),
        ("PodDisruptionBudget", "spec.selector", Some(Replace)),
        (
            "Secret",
            "metadata.ownerReferences",
            Some(MergeByKey("uid")),
        ),
        ("Widget", "metadata.finalizers", Some(MergeScalars)),
    ];
    for (kind, path, want) in cases {
        assert_eq!(merge_strategy(kind, path), want, "{kind} {path}");
    }
}

#[test]
fn every_served_kind_merges_its_metadata_lists() {
    for r in RESOURCES {
        assert_eq!(
            merge_strategy(r.kind, "metadata.finalizers"),
            Some(MergeStrategy::MergeScalars),
            "{}",
            r.kind
        );
        assert_eq!(
            merge_strategy(r.kind, "metadata.ownerReferences"),
            Some(MergeStrategy::MergeByKey("uid")),
            "{}",
            r.kind
        );
    }
}
