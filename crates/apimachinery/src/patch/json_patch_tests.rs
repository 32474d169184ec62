//! Table tests for JSON patch: each operation, pointer escaping, and kube's error messages.

use serde_json::{Value, json};

use super::{PatchError, json_patch};

#[test]
fn applies_operations() {
    let cases = [
        (
            json!({"a": 1}),
            json!([{"op": "add", "path": "/b", "value": 2}]),
            json!({"a": 1, "b": 2}),
        ),
        (
            json!({"a": [1, 3]}),
            json!([{"op": "add", "path": "/a/1", "value": 2}]),
            json!({"a": [1, 2, 3]}),
        ),
        (
            json!({"a": [1]}),
            json!([{"op": "add", "path": "/a/-", "value": 2}]),
            json!({"a": [1, 2]}),
        ),
        (
            json!({"a/b": 1, "m~n": 2}),
            json!([
                {"op": "replace", "path": "/a~1b", "value": 10},
                {"op": "replace", "path": "/m~0n", "value": 20},
            ]),
            json!({"a/b": 10, "m~n": 20}),
        ),
        (
            json!({"a": 1, "b": 2}),
            json!([{"op": "remove", "path": "/a"}]),
            json!({"b": 2}),
        ),
        (
            json!({"a": [1, 2, 3]}),
            json!([{"op": "remove", "path": "/a/0"}]),
            json!({"a": [2, 3]}),
        ),
        (
            json!({"a": {"b": 1}}),
            json!([{"op": "replace", "path": "/a/b", "value": 2}]),
            json!({"a": {"b": 2}}),
        ),
        (
            json!({"a": {"b": 1}, "c": {}}),
            json!([{"op": "move", "from": "/a/b", "path": "/c/d"}]),
            json!({"a": {}, "c": {"d": 1}}),
        ),
        (
            json!({"a": [1, 2]}),
            json!([{"op": "copy", "from": "/a/0", "path": "/a/-"}]),
            json!({"a": [1, 2, 1]}),
        ),
        (
            json!({"a": 1}),
            json!([{"op": "test", "path": "/a", "value": 1}, {"op": "add", "path": "/b", "value": true}]),
            json!({"a": 1, "b": true}),
        ),
        (
            json!({"metadata": {"labels": {"app": "web"}}}),
            json!([{"op": "add", "path": "/metadata/labels/tier", "value": "db"}]),
            json!({"metadata": {"labels": {"app": "web", "tier": "db"}}}),
        ),
        // kube's library extends the RFC: negative indices count from the end...
        (
            json!({"a": [1, 2, 3]}),
            json!([{"op": "remove", "path": "/a/-1"}]),
            json!({"a": [1, 2]}),
        ),
        // ...`replace` of a missing key adds it...
        (
            json!({}),
            json!([{"op": "replace", "path": "/a", "value": 1}]),
            json!({"a": 1}),
        ),
        // ...and `test` of a missing key passes when the expected value is null.
        (
            json!({}),
            json!([{"op": "test", "path": "/a", "value": null}]),
            json!({}),
        ),
        (json!({"a": 1}), json!(null), json!({"a": 1})),
        (
            json!({"a": 1}),
            json!([{"op": "replace", "path": "", "value": {"b": 2}}]),
            json!({"b": 2}),
        ),
    ];
    for (doc, patch, want) in cases {
        let got = json_patch(&doc, &patch).unwrap_or_else(|e| panic!("{patch}: {e}"));
        assert_eq!(got, want, "{patch}");
    }
}

#[test]
fn fails_with_kubes_messages() {
    let cases: Vec<(Value, Value, &str)> = vec![
        (
            json!({"a": 1}),
            json!([{"op": "test", "path": "/a", "value": 2}]),
            "testing value /a failed: test failed",
        ),
        (
            json!({"a": 1}),
            json!([{"op": "add", "path": "/x/y", "value": 1}]),
            "add operation does not apply: doc is missing path: \"/x/y\": missing value",
        ),
        (
            json!({"a": 1}),
            json!([{"op": "remove", "path": "/b"}]),
            "error in remove for path: '/b': Unable to remove nonexistent key: b: missing value",
        ),
        (
            json!({"a": [1]}),
            json!([{"op": "add", "path": "/a/5", "value": 1}]),
            "error in add for path: '/a/5': Unable to access invalid index: 5: invalid index referenced",
        ),
        (
            json!({"a": [1]}),
            json!([{"op": "add", "path": "/a/x", "value": 1}]),
            "error in add for path: '/a/x': value was not a proper array index: 'x': strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        (
            json!({"a": [1]}),
            json!([{"op": "replace", "path": "/a/3", "value": 1}]),
            "replace operation does not apply: doc is missing key: /a/3: missing value",
        ),
        (
            json!({"a": 1}),
            json!([{"op": "move", "from": "/b", "path": "/c"}]),
            "error in move for path: 'b': Unable to remove nonexistent key: b: missing value",
        ),
        (
            json!({"a": 1}),
            json!([{"op": "copy", "from": "/x/y", "path": "/c"}]),
            "copy operation does not apply: doc is missing from path: /x/y: missing value",
        ),
        (
            json!({"a": 1}),
            json!([{"op": "add", "value": 1}]),
            "add operation failed to decode path: missing value",
        ),
        (
            json!({"a": 1}),
            json!([{"op": "replace", "value": 1}]),
            "replace operation failed to decode path: operation missing path field: missing value",
        ),
        (
            json!({"a": 1}),
            json!([{"op": "frob", "path": "/a"}]),
            "Unexpected kind: frob",
        ),
        (
            json!({"a": 1}),
            json!([{"path": "/a"}]),
            "Unexpected kind: unknown",
        ),
    ];
    for (doc, patch, want) in cases {
        let err = json_patch(&doc, &patch).expect_err(&patch.to_string());
        assert_eq!(err.to_string(), want, "{patch}");
        assert_eq!(err.status_code(), 422, "{patch}");
    }
}

#[test]
fn refuses_bodies_that_are_not_operation_lists() {
    let cases = [
        (
            json!({"op": "add"}),
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
        ),
        (
            json!([1]),
            "json: cannot unmarshal number into Go value of type jsonpatch.Operation",
        ),
    ];
    for (patch, want) in cases {
        let err = json_patch(&json!({}), &patch).unwrap_err();
        assert_eq!(err, PatchError::MalformedJsonPatch(want.to_string()));
        assert_eq!(err.status_code(), 400);
    }
}

#[test]
fn a_failing_operation_leaves_nothing_applied() {
    let doc = json!({"a": 1});
    let patch =
        json!([{"op": "add", "path": "/b", "value": 2}, {"op": "test", "path": "/a", "value": 9}]);
    assert!(json_patch(&doc, &patch).is_err());
    assert_eq!(doc, json!({"a": 1}));
}
