//! Table tests for field selectors: parsing and escaping, the fields each resource offers, and how
//! values are read from objects.

use serde_json::{Value, json};

use super::FieldSelector;

#[test]
fn parses_and_prints_canonically() {
    let cases = [
        ("", ""),
        ("metadata.name=foo", "metadata.name=foo"),
        ("b==1,a!=2", "a!=2,b=1"),
        (r"f=a\,b", r"f=a\,b"),
        (r"f=a\=b\\c", r"f=a\=b\\c"),
        ("f=", "f="),
        ("a=b,,c=d,", "a=b,c=d"),
    ];
    for (input, want) in cases {
        let got = FieldSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(got.to_string(), want, "{input:?}");
    }
    let escaped = FieldSelector::parse(r"f=a\,b").unwrap();
    assert_eq!(escaped.requirements()[0].value, "a,b");
}

#[test]
fn refuses_bad_selectors_with_kubes_messages() {
    let cases = [
        ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
        // Terms are checked in sorted order, so `foo` is reached first.
        (
            "x=1,foo",
            "invalid selector: 'x=1,foo'; can't understand 'foo'",
        ),
        (
            "f=a=b",
            "invalid field selector: unescaped character in value: 61",
        ),
        (
            r"f=a\x",
            r"invalid field selector: invalid escape sequence: \x",
        ),
        (
            r"f=a\",
            r"invalid field selector: invalid escape sequence: \",
        ),
    ];
    for (input, want) in cases {
        let err = FieldSelector::parse(input).expect_err(input);
        assert_eq!(err.to_string(), want, "{input:?}");
    }
}

#[test]
fn knows_which_fields_each_resource_offers() {
    const UNKNOWN: &str =
        r#"is not a known field selector: only "metadata.name", "metadata.namespace""#;
    let cases: Vec<(&str, &str, &str, Result<(), String>)> = vec![
        ("pods", "", "spec.nodeName=n1,status.phase=Running", Ok(())),
        ("pods", "", "spec.hostNetwork=true,status.podIPs=x", Ok(())),
        ("pods", "", "spec.host=n1", Ok(())),
        (
            "pods",
            "",
            "spec.foo=x",
            Err("field label not supported: spec.foo".into()),
        ),
        ("nodes", "", "spec.unschedulable=false", Ok(())),
        (
            "nodes",
            "",
            "metadata.namespace=x",
            Err("field label not supported: metadata.namespace".into()),
        ),
        (
            "events",
            "",
            "involvedObject.name=p,source=kubelet,reportingComponent=x,type=Normal",
            Ok(()),
        ),
        ("secrets", "", "type=Opaque", Ok(())),
        ("namespaces", "", "status.phase=Active", Ok(())),
        (
            "services",
            "",
            "spec.clusterIP=None,spec.type=ClusterIP",
            Ok(()),
        ),
        ("replicationcontrollers", "", "status.replicas=2", Ok(())),
        (
            "configmaps",
            "",
            "metadata.name=x,metadata.namespace=y",
            Ok(()),
        ),
        (
            "configmaps",
            "",
            "data.x=1",
            Err(format!("\"data.x\" {UNKNOWN}")),
        ),
        // apps/v1 registers no field label conversion, so only metadata fields work.
        (
            "replicasets",
            "apps",
            "status.replicas=1",
            Err(format!("\"status.replicas\" {UNKNOWN}")),
        ),
        ("jobs", "batch", "status.successful=1", Ok(())),
        (
            "jobs",
            "batch",
            "spec.x=1",
            Err("field label \"spec.x\" not supported for Job".into()),
        ),
    ];
    for (plural, group, selector, want) in cases {
        let got = FieldSelector::parse(selector)
            .unwrap()
            .check_supported(plural, group)
            .map_err(|e| e.to_string());
        assert_eq!(got, want, "{plural}.{group}: {selector}");
    }
}

#[test]
fn reads_field_values_as_kube_computes_them() {
    let pod = json!({
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"nodeName": "n1", "hostNetwork": true},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}], "podIP": "10.0.0.9"},
    });
    let bare_pod =
        json!({"metadata": {"name": "q", "namespace": "default"}, "status": {"podIP": "10.0.0.2"}});
    let event = json!({"metadata": {"name": "e"}, "reportingComponent": "kubelet", "source": {}});
    let cases: Vec<(&str, &str, &str, Value, bool)> = vec![
        ("pods", "", "", pod.clone(), true),
        ("pods", "", "spec.nodeName=n1", pod.clone(), true),
        ("pods", "", "spec.host=n1", pod.clone(), true),
        ("pods", "", "spec.nodeName=", bare_pod.clone(), true),
        ("pods", "", "spec.hostNetwork=true", pod.clone(), true),
        ("pods", "", "spec.hostNetwork=false", bare_pod.clone(), true),
        ("pods", "", "status.podIP=10.0.0.1", pod.clone(), true),
        ("pods", "", "status.podIP=10.0.0.2", bare_pod.clone(), true),
        ("pods", "", "status.podIPs=10.0.0.1", pod.clone(), false),
        ("pods", "", "status.podIPs=", pod.clone(), true),
        ("pods", "", "status.phase!=Running", pod.clone(), false),
        (
            "pods",
            "",
            "metadata.namespace=default,metadata.name=q",
            bare_pod.clone(),
            true,
        ),
        ("events", "", "source=kubelet", event.clone(), true),
        (
            "events",
            "",
            "reportingComponent=kubelet,type=",
            event.clone(),
            true,
        ),
        (
            "nodes",
            "",
            "spec.unschedulable=true",
            json!({"spec": {"unschedulable": true}}),
            true,
        ),
        ("nodes", "", "spec.unschedulable=false", json!({}), true),
        (
            "replicationcontrollers",
            "",
            "status.replicas=0",
            json!({}),
            true,
        ),
        (
            "jobs",
            "batch",
            "status.successful=2",
            json!({"status": {"succeeded": 2}}),
            true,
        ),
        ("configmaps", "", "metadata.name!=p", pod.clone(), false),
        (
            "namespaces",
            "",
            "metadata.namespace=",
            json!({"metadata": {"name": "ns"}}),
            true,
        ),
    ];
    for (plural, group, selector, obj, want) in cases {
        let s = FieldSelector::parse(selector).unwrap();
        assert_eq!(s.matches(&obj, plural, group), want, "{plural}: {selector}");
    }
}

#[test]
fn resolve_renames_old_fields_for_exact_lookups() {
    let s = FieldSelector::parse("spec.host=n1").unwrap();
    assert_eq!(s.requires_exact_match("spec.nodeName"), None);
    let s = s.resolve("pods", "").unwrap();
    assert_eq!(s.requires_exact_match("spec.nodeName"), Some("n1"));
    assert_eq!(s.to_string(), "spec.nodeName=n1");
    assert!(
        FieldSelector::parse("spec.x=1")
            .unwrap()
            .resolve("pods", "")
            .is_err()
    );
}
