//! Decoding: type meta checks, unknown fields per `fieldValidation`, Go-worded type errors, and
//! values that must survive the typed round-trip unchanged.

use serde_json::{Value, json};

use super::{hello_deployment, hello_service, info, pod};
use crate::resource::RESOURCES;
use crate::schema::{FieldValidation, decode, kinds};

/// Sets the value at a JSON pointer, creating the last member if needed.
fn set_at(body: &mut Value, pointer: &str, value: Value) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    let slot = body.pointer_mut(parent).unwrap();
    match last.parse::<usize>() {
        Ok(i) => slot[i] = value,
        Err(_) => slot[last] = value,
    }
}

fn decode_err(group: &str, kind: &str, body: Value) -> String {
    let err = decode(info(group, kind), &body, FieldValidation::Strict).unwrap_err();
    assert_eq!(err.code, 400, "{}", err.message);
    assert_eq!(err.reason, "BadRequest");
    err.message
}

#[test]
fn every_stored_kind_has_a_typed_decoder() {
    for r in RESOURCES.iter() {
        assert!(kinds::find(r.group, r.kind).is_some(), "{}", r.kind);
    }
    assert!(kinds::all().count() >= RESOURCES.len());
}

#[test]
fn tutorial_objects_round_trip_unchanged() {
    for (group, kind, body) in [
        ("apps", "Deployment", hello_deployment()),
        ("", "Service", hello_service()),
    ] {
        let (obj, warnings) = decode(info(group, kind), &body, FieldValidation::Strict).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(obj, body);
    }
}

#[test]
fn unknown_fields_per_field_validation() {
    let mut body = hello_deployment();
    body["spec"]["foo"] = json!(1);
    body["spec"]["template"]["spec"]["containers"][0]["bar"] = json!({"x": 1});
    body["metadata"]["labelz"] = json!({});
    let listed = [
        "metadata.labelz",
        "spec.foo",
        "spec.template.spec.containers[0].bar",
    ];
    let deployments = info("apps", "Deployment");

    let (obj, warnings) = decode(deployments, &body, FieldValidation::Warn).unwrap();
    let expected: Vec<String> = listed
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    assert_eq!(warnings, expected);
    assert_eq!(obj, hello_deployment());

    let (obj, warnings) = decode(deployments, &body, FieldValidation::Ignore).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(obj, hello_deployment());

    let message = decode_err("apps", "Deployment", body);
    assert_eq!(
        message,
        format!(
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: {}",
            expected.join(", ")
        )
    );
}

#[test]
fn type_errors_read_like_gos_decoder() {
    let prefix = "Deployment in version \"v1\" cannot be handled as a Deployment: ";
    let cases = [
        (
            "/spec/replicas",
            json!("3"),
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
        ),
        (
            "/spec/replicas",
            json!(1.5),
            "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32",
        ),
        (
            "/spec/template/spec/containers/0/ports/0/containerPort",
            json!("80"),
            "json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32",
        ),
        (
            "/metadata/labels",
            json!({"app": 5}),
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string",
        ),
        (
            "/spec/template/spec/containers",
            json!({"name": "x"}),
            "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container",
        ),
        (
            "/spec/paused",
            json!("yes"),
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool",
        ),
        (
            "/spec/template/spec/containers/0/image",
            json!(["a"]),
            "json: cannot unmarshal array into Go struct field Container.spec.template.spec.containers.image of type string",
        ),
    ];
    for (pointer, value, expected) in cases {
        let mut body = hello_deployment();
        set_at(&mut body, pointer, value);
        assert_eq!(
            decode_err("apps", "Deployment", body),
            format!("{prefix}{expected}")
        );
    }
}

#[test]
fn type_meta_is_filled_in_or_must_match() {
    let mut body = hello_deployment();
    let map = body.as_object_mut().unwrap();
    map.remove("kind");
    map.remove("apiVersion");
    let (obj, _) = decode(info("apps", "Deployment"), &body, FieldValidation::Strict).unwrap();
    assert_eq!(obj["kind"], "Deployment");
    assert_eq!(obj["apiVersion"], "apps/v1");

    let cases = [
        (
            json!({"apiVersion": "apps/v1beta1", "kind": "Deployment"}),
            "the API version in the data (apps/v1beta1) does not match the expected API version (apps/v1)",
        ),
        (
            json!({"apiVersion": "v1", "kind": "Pod"}),
            "Pod in version \"v1\" cannot be handled as a Deployment: converting (v1.Pod) to (apps.Deployment): unknown conversion",
        ),
        (
            json!({"apiVersion": "apps/v1", "kind": "Deploymentt"}),
            "Deploymentt in version \"v1\" cannot be handled as a Deployment: no kind \"Deploymentt\" is registered for version \"apps/v1\" in scheme \"k8s.io/apimachinery/pkg/runtime/scheme.go:100\"",
        ),
        (
            json!([1]),
            "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(decode_err("apps", "Deployment", body), expected);
    }
}

#[test]
fn legitimate_values_survive_the_round_trip() {
    let body = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "namespace": "default",
            "creationTimestamp": "2024-05-01T10:00:00Z",
            "labels": {},
            "annotations": {"a": ""},
            "managedFields": [{
                "manager": "kubectl",
                "operation": "Apply",
                "apiVersion": "v1",
                "time": "2024-05-01T10:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}}}}}
            }]
        },
        "spec": {
            "containers": [{
                "name": "c",
                "image": "nginx",
                "args": [],
                "env": [],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                "livenessProbe": {"httpGet": {"port": "http"}, "initialDelaySeconds": 0}
            }],
            "nodeSelector": {}
        }
    });
    let (obj, warnings) = decode(info("", "Pod"), &body, FieldValidation::Strict).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(obj, body);
}

#[test]
fn nulls_mean_absent() {
    let mut body = hello_deployment();
    body["metadata"]["creationTimestamp"] = Value::Null;
    body["spec"]["template"]["metadata"]["creationTimestamp"] = Value::Null;
    body["status"] = json!({});
    let (obj, warnings) =
        decode(info("apps", "Deployment"), &body, FieldValidation::Strict).unwrap();
    assert!(warnings.is_empty());
    assert!(obj["metadata"].get("creationTimestamp").is_none());
    assert_eq!(obj["status"], json!({}));
}

#[test]
fn values_are_normalised_as_kubernetes_stores_them() {
    let body = pod(json!([{
        "name": "c",
        "image": "nginx",
        "resources": {"requests": {"cpu": 1, "memory": "64Mi"}}
    }]));
    let (obj, _) = decode(info("", "Pod"), &body, FieldValidation::Strict).unwrap();
    assert_eq!(
        obj["spec"]["containers"][0]["resources"]["requests"]["cpu"],
        "1"
    );

    let mut lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l", "namespace": "kube-system", "creationTimestamp": "2024-05-01T12:00:00+02:00"},
        "spec": {"holderIdentity": "n1", "renewTime": "2024-05-01T10:00:00.123456Z"}
    });
    let (obj, _) = decode(
        info("coordination.k8s.io", "Lease"),
        &lease,
        FieldValidation::Strict,
    )
    .unwrap();
    assert_eq!(obj["metadata"]["creationTimestamp"], "2024-05-01T10:00:00Z");
    assert_eq!(obj["spec"]["renewTime"], "2024-05-01T10:00:00.123456Z");
    lease["spec"]["renewTime"] = json!("yesterday");
    assert_eq!(
        decode_err("coordination.k8s.io", "Lease", lease),
        "Lease in version \"v1\" cannot be handled as a Lease: parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as \"2006\""
    );
}

#[test]
fn malformed_quantities_are_rejected() {
    let cases = [
        (
            "1x",
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ),
        ("1ii", "unable to parse quantity's suffix"),
    ];
    for (quantity, expected) in cases {
        let body =
            pod(json!([{"name": "c", "image": "x", "resources": {"limits": {"cpu": quantity}}}]));
        assert_eq!(
            decode_err("", "Pod", body),
            format!("Pod in version \"v1\" cannot be handled as a Pod: {expected}")
        );
    }
    for good in ["100m", "1.5", "2Gi", "1e3", "0", "+1", "1E-2", ".5"] {
        let body =
            pod(json!([{"name": "c", "image": "x", "resources": {"limits": {"memory": good}}}]));
        assert!(
            decode(info("", "Pod"), &body, FieldValidation::Strict).is_ok(),
            "{good}"
        );
    }
}

#[test]
fn secrets_fold_string_data_and_check_base64() {
    let body = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "default"},
        "data": {"a": "YQ==", "wrapped": "YWJj\nZGVm"},
        "stringData": {"b": "hello"}
    });
    let (obj, _) = decode(info("", "Secret"), &body, FieldValidation::Strict).unwrap();
    assert_eq!(
        obj["data"],
        json!({"a": "YQ==", "wrapped": "YWJjZGVm", "b": "aGVsbG8="})
    );
    assert!(obj.get("stringData").is_none());

    for (data, at) in [("YQ=", 3), ("a!bc", 1), ("abc", 0), ("abcde", 4)] {
        let mut bad = body.clone();
        bad["data"] = json!({"a": data});
        assert_eq!(
            decode_err("", "Secret", bad),
            format!(
                "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte {at}"
            )
        );
    }
}

#[test]
fn raw_extensions_keep_their_nulls() {
    let body = json!({
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "web-5d8f", "namespace": "default"},
        "revision": 1,
        "data": {"spec": {"template": {"$patch": "replace", "metadata": {"creationTimestamp": null}}}}
    });
    let (obj, _) = decode(
        info("apps", "ControllerRevision"),
        &body,
        FieldValidation::Strict,
    )
    .unwrap();
    assert_eq!(obj, body);
}

#[test]
fn field_validation_parameter() {
    let cases = [
        (None, Ok(FieldValidation::Warn)),
        (Some(""), Ok(FieldValidation::Warn)),
        (Some("Strict"), Ok(FieldValidation::Strict)),
        (Some("Ignore"), Ok(FieldValidation::Ignore)),
        (Some("Warn"), Ok(FieldValidation::Warn)),
        (
            Some("strict"),
            Err(
                "CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"strict\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"",
            ),
        ),
    ];
    for (value, expected) in cases {
        let got = FieldValidation::parse(value, "CreateOptions").map_err(|e| e.message);
        assert_eq!(got, expected.map_err(str::to_string));
    }
}

#[test]
fn quantities_are_stored_in_canonical_form() {
    let cases = [
        ("500m", "500m"),
        ("0.5", "500m"),
        ("1.5", "1500m"),
        ("1000m", "1"),
        ("2000", "2k"),
        ("1500", "1500"),
        ("128Mi", "128Mi"),
        ("2048Mi", "2Gi"),
        ("1.5Gi", "1536Mi"),
        ("0.5Ki", "512"),
        ("1G", "1G"),
        ("0.1m", "1m"),
        ("1e3", "1e3"),
        ("0", "0"),
        ("-1", "-1"),
    ];
    for (given, stored) in cases {
        let body =
            pod(json!([{"name": "c", "image": "x", "resources": {"requests": {"cpu": given}}}]));
        let (obj, _) = decode(info("", "Pod"), &body, FieldValidation::Strict).unwrap();
        assert_eq!(
            obj["spec"]["containers"][0]["resources"]["requests"]["cpu"], stored,
            "{given}"
        );
    }
}
