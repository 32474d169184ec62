//! Table tests for JSON merge patch (RFC 7386) on Kubernetes-shaped documents.

use serde_json::json;

use super::merge_patch;

#[test]
fn merges_as_rfc_7386_says() {
    let cases = [
        // A scalar is replaced, a new key added, an untouched key kept.
        (
            json!({"spec": {"replicas": 1, "paused": false}}),
            json!({"spec": {"replicas": 3}}),
            json!({"spec": {"replicas": 3, "paused": false}}),
        ),
        (
            json!({"metadata": {"name": "web"}}),
            json!({"metadata": {"labels": {"app": "web"}}}),
            json!({"metadata": {"name": "web", "labels": {"app": "web"}}}),
        ),
        // null deletes, at any depth.
        (
            json!({"metadata": {"labels": {"app": "web", "tier": "db"}}}),
            json!({"metadata": {"labels": {"tier": null}}}),
            json!({"metadata": {"labels": {"app": "web"}}}),
        ),
        (
            json!({"spec": {"nodeName": "n1"}}),
            json!({"spec": null}),
            json!({}),
        ),
        // Arrays are replaced whole, never merged.
        (
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            json!({"metadata": {"finalizers": ["c"]}}),
            json!({"metadata": {"finalizers": ["c"]}}),
        ),
        // An object patched over a scalar starts from empty, so its nulls vanish.
        (
            json!({"data": "x"}),
            json!({"data": {"k": "v", "gone": null}}),
            json!({"data": {"k": "v"}}),
        ),
        (
            json!({}),
            json!({"data": {"gone": null}}),
            json!({"data": {}}),
        ),
        // Objects inside a patched array lose their null members, as kube's library drops them.
        (
            json!({"spec": {"ports": [{"port": 80}]}}),
            json!({"spec": {"ports": [{"port": 81, "name": null}]}}),
            json!({"spec": {"ports": [{"port": 81}]}}),
        ),
        // A patch that is not an object replaces the document.
        (json!({"a": 1}), json!([1, 2]), json!([1, 2])),
        (json!("text"), json!({"a": 1}), json!({"a": 1})),
        (json!({"a": 1}), json!({}), json!({"a": 1})),
    ];
    for (doc, patch, want) in cases {
        assert_eq!(merge_patch(&doc, &patch), want, "{doc} + {patch}");
    }
}
