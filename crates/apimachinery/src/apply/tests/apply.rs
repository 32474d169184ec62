//! Server-side apply: create, merge, removal of fields no longer applied, conflicts and force.

use serde_json::{Value, json};

use super::{LATER, NOW, content, entries, writer};
use crate::apply::{ApplyError, Conflict, FieldManager, apply, record_update};

fn cm(metadata: Value, data: Value) -> Value {
    let mut meta = json!({"name": "c", "namespace": "default"});
    meta.as_object_mut()
        .expect("object")
        .extend(metadata.as_object().expect("object").clone());
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
}

fn applier(manager: &str) -> FieldManager<'_> {
    writer(manager, "ConfigMap", "v1")
}

fn later(fm: FieldManager<'_>) -> FieldManager<'_> {
    FieldManager { now: LATER, ..fm }
}

/// A ConfigMap created by `kubectl-create` with `data`.
fn created(data: Value) -> Value {
    let mut object = cm(json!({}), data);
    record_update(
        None,
        &mut object,
        &writer("kubectl-create", "ConfigMap", "v1"),
    );
    object
}

#[test]
fn apply_creates() {
    let config = cm(json!({"labels": {"app": "x"}}), json!({"a": "1"}));
    let object = apply(None, &config, false, &applier("kubectl")).expect("applies");
    assert_eq!(content(&object), config);
    assert_eq!(
        object["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": NOW,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}
        }])
    );
}

#[test]
fn apply_updates_and_removes_what_is_no_longer_applied() {
    // (name, first config's data, second config's data, an Update in between, data after)
    let cases: Vec<(&str, Value, Value, Option<Value>, Value)> = vec![
        (
            "values change and keys are added",
            json!({"a": "1"}),
            json!({"a": "2", "b": "2"}),
            None,
            json!({"a": "2", "b": "2"}),
        ),
        (
            "a key no longer applied is removed",
            json!({"a": "1", "b": "1"}),
            json!({"a": "1"}),
            None,
            json!({"a": "1"}),
        ),
        (
            "a key an updater has changed since stays",
            json!({"a": "1", "b": "1"}),
            json!({"a": "1"}),
            Some(json!({"a": "1", "b": "9"})),
            json!({"a": "1", "b": "9"}),
        ),
        (
            "keys others added are kept",
            json!({"a": "1"}),
            json!({"a": "2"}),
            Some(json!({"a": "1", "z": "0"})),
            json!({"a": "2", "z": "0"}),
        ),
    ];
    for (name, first, second, between, want) in cases {
        let mut object =
            apply(None, &cm(json!({}), first), false, &applier("kubectl")).expect(name);
        if let Some(data) = between {
            let mut new = object.clone();
            new["data"] = data;
            record_update(
                Some(&object),
                &mut new,
                &writer("kubectl-edit", "ConfigMap", "v1"),
            );
            object = new;
        }
        let fm = later(applier("kubectl"));
        let object = apply(Some(&object), &cm(json!({}), second.clone()), false, &fm).expect(name);
        assert_eq!(object["data"], want, "{name}");
        let mine = entries(&object)
            .into_iter()
            .find(|e| e.0 == "kubectl")
            .expect(name);
        let keys: serde_json::Map<String, Value> = second
            .as_object()
            .expect("data")
            .keys()
            .map(|k| (format!("f:{k}"), json!({})))
            .collect();
        assert_eq!(
            mine.2,
            json!({"f:data": keys}),
            "{name}: the entry is exactly the config"
        );
    }
}

#[test]
fn removing_the_last_label_removes_the_map() {
    let first = cm(json!({"labels": {"app": "x"}}), json!({"a": "1"}));
    let object = apply(None, &first, false, &applier("kubectl")).expect("applies");
    let object = apply(
        Some(&object),
        &cm(json!({}), json!({"a": "1"})),
        false,
        &applier("kubectl"),
    )
    .expect("applies");
    assert_eq!(object["metadata"].get("labels"), None, "{object}");
}

#[test]
fn applying_the_same_config_is_a_no_op() {
    let config = cm(json!({}), json!({"a": "1"}));
    let object = apply(None, &config, false, &applier("kubectl")).expect("applies");
    let again = apply(Some(&object), &config, false, &later(applier("kubectl"))).expect("applies");
    // Nothing changed, so the entry keeps its time.
    assert_eq!(again, object);
}

fn deployment(containers: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"template": {"spec": {"containers": containers}}}})
}

fn deployment_applier(manager: &str) -> FieldManager<'_> {
    FieldManager {
        status_subresource: true,
        ..writer(manager, "Deployment", "apps/v1")
    }
}

#[test]
fn keyed_lists_merge_by_key() {
    let cases: Vec<(&str, Value, Value, Value)> = vec![
        (
            "a container another manager added is kept, fields merge into ours",
            json!([{"name": "app", "image": "app:1", "imagePullPolicy": "Always"},
                   {"name": "side", "image": "side:1"}]),
            json!([{"name": "app", "image": "app:2"}]),
            json!([{"name": "app", "image": "app:2", "imagePullPolicy": "Always"},
                   {"name": "side", "image": "side:1"}]),
        ),
        (
            // kube's order: shared items follow the configuration, a live item it skips
            // over to reach them comes first.
            "items the configuration reorders",
            json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]),
            json!([{"name": "c"}, {"name": "a"}]),
            json!([{"name": "b"}, {"name": "c"}, {"name": "a"}]),
        ),
        (
            "ports match with the defaulted protocol",
            json!([{"name": "app", "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}]}]),
            json!([{"name": "app", "ports": [{"containerPort": 80}]}]),
            json!([{"name": "app", "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}]}]),
        ),
        (
            "atomic lists are replaced",
            json!([{"name": "app", "args": ["a", "b"]}]),
            json!([{"name": "app", "args": ["c"]}]),
            json!([{"name": "app", "args": ["c"]}]),
        ),
    ];
    for (name, live, config, want) in cases {
        // The live containers belong to an updater, so nothing of ours is pruned.
        let mut object = deployment(live);
        record_update(None, &mut object, &deployment_applier("kubectl-create"));
        let result = apply(
            Some(&object),
            &deployment(config),
            true,
            &deployment_applier("kubectl"),
        )
        .expect(name);
        assert_eq!(
            result["spec"]["template"]["spec"]["containers"], want,
            "{name}"
        );
    }
}

#[test]
fn a_container_no_longer_applied_is_removed() {
    let both = deployment(json!([{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]));
    let object = apply(None, &both, false, &deployment_applier("kubectl")).expect("applies");
    let one = deployment(json!([{"name": "b", "image": "b"}]));
    let object =
        apply(Some(&object), &one, false, &deployment_applier("kubectl")).expect("applies");
    assert_eq!(
        object["spec"]["template"]["spec"]["containers"],
        json!([{"name": "b", "image": "b"}])
    );
    assert_eq!(
        object["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"b\"}": {".": {}, "f:image": {}, "f:name": {}}
        }}}}})
    );
}

#[test]
fn conflicts() {
    // (name, how the live object came to be, config, force, error or the entries afterwards)
    type Entries = Vec<(&'static str, &'static str, Value)>;
    type Case = (
        &'static str,
        Value,
        Value,
        bool,
        Result<Entries, ApplyError>,
    );
    let by_applier = || {
        apply(
            None,
            &cm(json!({}), json!({"color": "red", "size": "s"})),
            false,
            &applier("other"),
        )
        .expect("applies")
    };
    let cases: Vec<Case> = vec![
        (
            "another applier's field with another value",
            by_applier(),
            cm(json!({}), json!({"color": "blue"})),
            false,
            Err(ApplyError::Conflicts(vec![Conflict {
                manager: "\"other\"".into(),
                field: ".data.color".into(),
            }])),
        ),
        (
            "another applier's field with the same value is shared",
            by_applier(),
            cm(json!({}), json!({"color": "red"})),
            false,
            Ok(vec![
                ("kubectl", "Apply", json!({"f:data": {"f:color": {}}})),
                (
                    "other",
                    "Apply",
                    json!({"f:data": {"f:color": {}, "f:size": {}}}),
                ),
            ]),
        ),
        (
            "an updater's fields, listed by manager then field",
            created(json!({"color": "red", "size": "s"})),
            cm(json!({}), json!({"color": "blue", "size": "m"})),
            false,
            Err(ApplyError::Conflicts(vec![
                Conflict {
                    manager: "\"kubectl-create\" using v1".into(),
                    field: ".data.color".into(),
                },
                Conflict {
                    manager: "\"kubectl-create\" using v1".into(),
                    field: ".data.size".into(),
                },
            ])),
        ),
        (
            // Appliers sort by time: `other` applied first.
            "force takes the field over",
            by_applier(),
            cm(json!({}), json!({"color": "blue"})),
            true,
            Ok(vec![
                ("other", "Apply", json!({"f:data": {"f:size": {}}})),
                ("kubectl", "Apply", json!({"f:data": {"f:color": {}}})),
            ]),
        ),
        (
            "force leaves an updater what it still owns",
            created(json!({"color": "red"})),
            cm(json!({}), json!({"color": "blue"})),
            true,
            Ok(vec![
                ("kubectl", "Apply", json!({"f:data": {"f:color": {}}})),
                // A member with nothing owned below it is written `{}`.
                ("kubectl-create", "Update", json!({"f:data": {}})),
            ]),
        ),
    ];
    for (name, live, config, force, want) in cases {
        let got = apply(Some(&live), &config, force, &later(applier("kubectl")))
            .map(|object| entries(&object));
        let want = want.map(|es| {
            es.into_iter()
                .map(|(m, op, f)| (m.to_string(), op, f))
                .collect::<Vec<_>>()
        });
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn conflict_errors_read_as_kube_writes_them() {
    let one = ApplyError::Conflicts(vec![Conflict {
        manager: "\"kubectl\"".into(),
        field: ".data.color".into(),
    }]);
    assert_eq!(
        one.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl\": .data.color"
    );
    let status = one.into_api_error().to_status();
    assert_eq!(
        status,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Apply failed with 1 conflict: conflict with \"kubectl\": .data.color",
            "reason": "Conflict",
            "details": {"causes": [{
                "reason": "FieldManagerConflict",
                "message": "conflict with \"kubectl\"",
                "field": ".data.color"
            }]},
            "code": 409
        })
    );

    let many = ApplyError::Conflicts(vec![
        Conflict {
            manager: "\"a\"".into(),
            field: ".data.x".into(),
        },
        Conflict {
            manager: "\"b\" with subresource \"status\" using v1".into(),
            field: ".data.y".into(),
        },
        Conflict {
            manager: "\"b\" with subresource \"status\" using v1".into(),
            field: ".data.z".into(),
        },
    ]);
    assert_eq!(
        many.to_string(),
        "Apply failed with 3 conflicts: conflicts with \"a\":\n- .data.x\nconflicts with \"b\" with subresource \"status\" using v1:\n- .data.y\n- .data.z"
    );
}

#[test]
fn bad_requests() {
    let mut with_fields = cm(json!({}), json!({}));
    with_fields["metadata"]["managedFields"] = json!([]);
    let cases = [
        (
            json!({"apiVersion": "apps/v1", "kind": "ConfigMap"}),
            "invalid object type: apps/v1, Kind=ConfigMap",
        ),
        (
            json!({"apiVersion": "v1", "kind": "Secret"}),
            "invalid object type: /v1, Kind=Secret",
        ),
        (with_fields, "metadata.managedFields must be nil"),
    ];
    for (config, want) in cases {
        let err = apply(None, &config, false, &applier("kubectl")).unwrap_err();
        assert_eq!(err, ApplyError::BadRequest(want.into()));
        assert_eq!(err.into_api_error().code, 400);
    }
    let err = apply(
        None,
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
                "spec": {"containers": [{"image": "x"}]}}),
        false,
        &writer("kubectl", "Pod", "v1"),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to create typed patch object (ns/p; /v1, Kind=Pod): .spec.containers: element 0: associative list with keys has an element that omits all key fields [\"name\"] (and doesn't have default values for any key fields)"
    );
    assert_eq!(err.into_api_error().code, 500);
}

#[test]
fn a_null_removes_the_field() {
    let object = created(json!({"a": "1", "b": "1"}));
    let config = cm(json!({}), json!({"b": null}));
    let object = apply(Some(&object), &config, true, &applier("kubectl")).expect("applies");
    assert_eq!(object["data"], json!({"a": "1"}));
}

#[test]
fn kubectl_takes_over_from_client_side_apply() {
    let last = r#"{"apiVersion":"v1","data":{"color":"red"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"c","namespace":"default"}}
"#;
    let mut live = cm(
        json!({"annotations": {"kubectl.kubernetes.io/last-applied-configuration": last}}),
        json!({"color": "red", "size": "s"}),
    );
    record_update(
        None,
        &mut live,
        &writer("kubectl-client-side-apply", "ConfigMap", "v1"),
    );

    // `color` is in the annotation with its live value: the conflict is forgiven. `size` is
    // not: it still conflicts.
    let config = cm(json!({}), json!({"color": "blue", "size": "m"}));
    let err = apply(Some(&live), &config, false, &applier("kubectl")).unwrap_err();
    assert_eq!(
        err,
        ApplyError::Conflicts(vec![Conflict {
            manager: "\"kubectl-client-side-apply\" using v1".into(),
            field: ".data.size".into(),
        }])
    );

    let config = cm(json!({}), json!({"color": "blue"}));
    let object = apply(Some(&live), &config, false, &applier("kubectl")).expect("forgiven");
    assert_eq!(object["data"]["color"], "blue");
    assert_eq!(
        object["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        format!("{config}\n")
    );
    // Any other manager gets the conflict.
    assert!(apply(Some(&live), &config, false, &applier("other")).is_err());
}

#[test]
fn untracked_objects_belong_to_before_first_apply() {
    // An object stored without managedFields, as one from before field tracking.
    let live = cm(json!({"uid": "u1"}), json!({"color": "red", "size": "s"}));
    let config = cm(json!({}), json!({"color": "blue"}));
    let err = apply(Some(&live), &config, false, &applier("kubectl")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using v1: .data.color"
    );
    let object = apply(Some(&live), &config, true, &applier("kubectl")).expect("forced");
    assert_eq!(
        entries(&object),
        [
            (
                "kubectl".to_string(),
                "Apply",
                json!({"f:data": {"f:color": {}}})
            ),
            (
                "before-first-apply".to_string(),
                "Update",
                json!({"f:data": {".": {}, "f:size": {}}})
            ),
        ]
    );
}

#[test]
fn finalizers_merge_as_a_set() {
    let mut live = cm(json!({"finalizers": ["example.com/a"]}), json!({}));
    record_update(None, &mut live, &writer("controller", "ConfigMap", "v1"));
    let config = cm(json!({"finalizers": ["example.com/b"]}), json!({}));
    let object = apply(Some(&live), &config, false, &applier("kubectl")).expect("applies");
    assert_eq!(
        object["metadata"]["finalizers"],
        json!(["example.com/a", "example.com/b"])
    );
    // The configuration's empty `data` is owned too, as a leaf.
    assert_eq!(
        entries(&object)[0].2,
        json!({"f:data": {}, "f:metadata": {"f:finalizers": {"v:\"example.com/b\"": {}}}})
    );
}

#[test]
fn status_is_not_owned_through_the_main_resource() {
    let mut config = deployment(json!([{"name": "a", "image": "a"}]));
    config["status"] = json!({"replicas": 3});
    let object = apply(None, &config, false, &deployment_applier("kubectl")).expect("applies");
    let fields = &object["metadata"]["managedFields"][0]["fieldsV1"];
    assert_eq!(fields.get("f:status"), None, "{fields}");
}
