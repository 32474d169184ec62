//! Ownership recorded by create, update and patch.

use serde_json::{Value, json};

use super::{LATER, NOW, entries, writer};
use crate::apply::{FieldManager, manager_name, record_update};

fn config_map(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "c", "namespace": "default", "uid": "u1", "labels": {"app": "x"}},
           "data": data})
}

/// Creates the object as `manager`, then writes `update` as `editor` (at [`LATER`]).
fn create_then_update(kind: &str, created: Value, update: Value, editor: &str) -> Value {
    let mut stored = created;
    record_update(None, &mut stored, &writer("kubectl-create", kind, "v1"));
    let mut new = update;
    // A PUT carries the managedFields it read.
    new["metadata"]["managedFields"] = stored["metadata"]["managedFields"].clone();
    let fm = FieldManager {
        now: LATER,
        ..writer(editor, kind, "v1")
    };
    record_update(Some(&stored), &mut new, &fm);
    new
}

#[test]
fn create_owns_everything_it_sets() {
    let mut cm = config_map(json!({"a": "1"}));
    record_update(None, &mut cm, &writer("kubectl-create", "ConfigMap", "v1"));
    assert_eq!(
        cm["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "v1",
            "time": NOW,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}}
        }])
    );
}

#[test]
fn create_of_a_defaulted_deployment_matches_kube() {
    let mut deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "uid": "u", "generation": 1,
                     "labels": {"app": "nginx"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {
                    "containers": [{"name": "nginx", "image": "nginx", "resources": {},
                                    "terminationMessagePath": "/dev/termination-log",
                                    "terminationMessagePolicy": "File", "imagePullPolicy": "Always"}],
                    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst", "securityContext": {}, "schedulerName": "default-scheduler"
                }
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600
        },
        "status": {}
    });
    let fm = FieldManager {
        status_subresource: true,
        ..writer("kubectl-create", "Deployment", "apps/v1")
    };
    record_update(None, &mut deployment, &fm);
    let fields = &deployment["metadata"]["managedFields"][0]["fieldsV1"];
    assert_eq!(
        *fields,
        json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:progressDeadlineSeconds": {},
                "f:replicas": {},
                "f:revisionHistoryLimit": {},
                "f:selector": {},
                "f:strategy": {
                    "f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}},
                    "f:type": {}
                },
                "f:template": {
                    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {
                        "f:containers": {"k:{\"name\":\"nginx\"}": {
                            ".": {},
                            "f:image": {},
                            "f:imagePullPolicy": {},
                            "f:name": {},
                            "f:resources": {},
                            "f:terminationMessagePath": {},
                            "f:terminationMessagePolicy": {}
                        }},
                        "f:dnsPolicy": {},
                        "f:restartPolicy": {},
                        "f:schedulerName": {},
                        "f:securityContext": {},
                        "f:terminationGracePeriodSeconds": {}
                    }
                }
            }
        })
    );
}

#[test]
fn updates_move_ownership() {
    // (name, update by kubectl-edit, entries afterwards)
    type Case = (&'static str, Value, Vec<(&'static str, Value)>);
    let cases: Vec<Case> = vec![
        (
            "a changed value moves to the editor",
            config_map(json!({"a": "2", "b": "1"})),
            vec![
                (
                    "kubectl-create",
                    json!({"f:data": {".": {}, "f:b": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}}),
                ),
                ("kubectl-edit", json!({"f:data": {"f:a": {}}})),
            ],
        ),
        (
            "an added value goes to the editor, a removed one leaves its owner",
            config_map(json!({"c": "3"})),
            vec![
                (
                    "kubectl-create",
                    json!({"f:data": {}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}}),
                ),
                ("kubectl-edit", json!({"f:data": {"f:c": {}}})),
            ],
        ),
        (
            "every changed value moves, the maps themselves stay with their creator",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "c", "namespace": "default", "uid": "u1", "labels": {"app": "y"}},
                   "data": {"a": "9", "b": "9"}}),
            vec![
                (
                    "kubectl-create",
                    json!({"f:data": {}, "f:metadata": {"f:labels": {}}}),
                ),
                (
                    "kubectl-edit",
                    json!({"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}),
                ),
            ],
        ),
        (
            "a write that changes nothing records nothing",
            config_map(json!({"a": "1", "b": "1"})),
            vec![(
                "kubectl-create",
                json!({"f:data": {".": {}, "f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}}),
            )],
        ),
    ];
    for (name, update, want) in cases {
        let new = create_then_update(
            "ConfigMap",
            config_map(json!({"a": "1", "b": "1"})),
            update,
            "kubectl-edit",
        );
        let got = entries(&new);
        let want: Vec<(String, &str, Value)> = want
            .into_iter()
            .map(|(m, f)| (m.to_string(), "Update", f))
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn an_entry_with_every_field_taken_is_dropped() {
    let mut stored = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    record_update(
        None,
        &mut stored,
        &writer("kubectl-create", "ConfigMap", "v1"),
    );
    // The editor drops `data` whole: the creator owns nothing any more, and the edit itself
    // sets nothing.
    let mut new = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    record_update(
        Some(&stored),
        &mut new,
        &writer("kubectl-edit", "ConfigMap", "v1"),
    );
    assert_eq!(new.pointer("/metadata/managedFields"), None, "{new}");
}

#[test]
fn repeated_updates_by_one_manager_accumulate_and_retime() {
    let mut stored = config_map(json!({"a": "1"}));
    record_update(
        None,
        &mut stored,
        &writer("kubectl-edit", "ConfigMap", "v1"),
    );
    let mut new = config_map(json!({"a": "1", "b": "2"}));
    let fm = FieldManager {
        now: LATER,
        ..writer("kubectl-edit", "ConfigMap", "v1")
    };
    record_update(Some(&stored), &mut new, &fm);
    let list = new["metadata"]["managedFields"]
        .as_array()
        .expect("entries");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["time"], LATER);
    assert_eq!(
        list[0]["fieldsV1"]["f:data"],
        json!({".": {}, "f:a": {}, "f:b": {}})
    );
}

#[test]
fn request_managed_fields_are_honoured() {
    let mut stored = config_map(json!({"a": "1"}));
    record_update(
        None,
        &mut stored,
        &writer("kubectl-create", "ConfigMap", "v1"),
    );

    // Without managedFields in the body, the stored entries carry over.
    let mut new = config_map(json!({"a": "1", "b": "2"}));
    record_update(
        Some(&stored),
        &mut new,
        &writer("kubectl-edit", "ConfigMap", "v1"),
    );
    let managers: Vec<String> = entries(&new).into_iter().map(|e| e.0).collect();
    assert_eq!(managers, ["kubectl-create", "kubectl-edit"]);

    // `[{}]` (or `[]`) clears them, and an update starting from none records none.
    for reset in [json!([{}]), json!([])] {
        let mut cleared = config_map(json!({"a": "1", "b": "2"}));
        cleared["metadata"]["managedFields"] = reset;
        record_update(
            Some(&stored),
            &mut cleared,
            &writer("kubectl-edit", "ConfigMap", "v1"),
        );
        assert_eq!(cleared.pointer("/metadata/managedFields"), None);
        let mut next = config_map(json!({"a": "1", "b": "3"}));
        record_update(
            Some(&cleared),
            &mut next,
            &writer("kubectl-edit", "ConfigMap", "v1"),
        );
        assert_eq!(next.pointer("/metadata/managedFields"), None);
    }
}

#[test]
fn status_writes_are_kept_apart() {
    let mut stored = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                            "spec": {"replicas": 1}});
    let main = FieldManager {
        status_subresource: true,
        ..writer("kubectl-create", "Deployment", "apps/v1")
    };
    record_update(None, &mut stored, &main);

    // A status write owns status under its subresource, and nothing of spec.
    let mut new = stored.clone();
    new["status"] = json!({"replicas": 1});
    new["spec"]["replicas"] = json!(5);
    let status = FieldManager {
        manager: "kube-controller-manager",
        subresource: "status",
        ..main
    };
    record_update(Some(&stored), &mut new, &status);
    // Same time, so by manager name: `kube-controller-manager` sorts first.
    let list = &new["metadata"]["managedFields"];
    assert_eq!(list[0]["manager"], "kube-controller-manager");
    assert_eq!(list[0]["subresource"], "status");
    assert_eq!(list[0]["fieldsV1"], json!({"f:status": {"f:replicas": {}}}));
    // The main-resource entry keeps spec.replicas: the status write cannot change it.
    assert_eq!(list[1]["manager"], "kubectl-create");
    assert_eq!(list[1]["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
}

#[test]
fn update_managers_are_capped() {
    let mut stored = config_map(json!({}));
    record_update(
        None,
        &mut stored,
        &writer("kubectl-create", "ConfigMap", "v1"),
    );
    for i in 0..12 {
        let mut new = stored.clone();
        new["data"][format!("k{i:02}")] = json!("v");
        let manager = format!("m{i:02}");
        let now = format!("2025-05-01T10:00:{i:02}Z");
        let fm = FieldManager {
            manager: &manager,
            now: &now,
            ..writer("", "ConfigMap", "v1")
        };
        record_update(Some(&stored), &mut new, &fm);
        stored = new;
    }
    let managers: Vec<String> = entries(&stored).into_iter().map(|e| e.0).collect();
    // The oldest entries (the creator's, then m00 to m02) merged into one bucket, which takes
    // the time of the last one merged.
    assert_eq!(managers.len(), 10, "{managers:?}");
    assert_eq!(managers[0], "ancient-changes");
    let bucket = &stored["metadata"]["managedFields"][0];
    assert_eq!(bucket["time"], "2025-05-01T10:00:02Z");
    assert_eq!(
        bucket["fieldsV1"],
        json!({
            "f:data": {".": {}, "f:k00": {}, "f:k01": {}, "f:k02": {}},
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}}
        })
    );
}

#[test]
fn managers_default_from_the_user_agent() {
    let cases = [
        (
            Some("kubectl-edit"),
            "kubectl/v1.33.0 (linux/amd64) kubernetes/abc",
            "kubectl-edit",
        ),
        (
            None,
            "kubectl/v1.33.0 (linux/amd64) kubernetes/abc",
            "kubectl",
        ),
        (Some(""), "Go-http-client/1.1", "Go-http-client"),
        (None, "", "unknown"),
        (None, "a\u{7}b/1", "ab"),
    ];
    for (field_manager, user_agent, want) in cases {
        assert_eq!(manager_name(field_manager, user_agent), want);
    }
}
