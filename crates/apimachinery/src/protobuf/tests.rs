//! Decoding hand-encoded bodies shaped like kubectl's, and refusing malformed or unknown ones.

use serde_json::{Value, json};

use super::{ProtobufError, decode_object, format, is_protobuf};

/// A protobuf message under construction: just enough of an encoder to write test bodies.
#[derive(Debug, Clone, Default)]
struct Pb(Vec<u8>);

impl Pb {
    fn new() -> Self {
        Pb::default()
    }

    fn raw_varint(mut self, mut v: u64) -> Self {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
        self
    }

    fn key(self, number: u32, wire_type: u64) -> Self {
        self.raw_varint(u64::from(number) << 3 | wire_type)
    }

    /// A varint field; negative numbers are sign-extended to ten bytes, as Go writes int32s.
    fn int(self, number: u32, v: i64) -> Self {
        self.key(number, 0).raw_varint(v as u64)
    }

    fn bytes(self, number: u32, bytes: &[u8]) -> Self {
        let mut pb = self.key(number, 2).raw_varint(bytes.len() as u64);
        pb.0.extend_from_slice(bytes);
        pb
    }

    fn str(self, number: u32, s: &str) -> Self {
        self.bytes(number, s.as_bytes())
    }

    fn msg(self, number: u32, message: Pb) -> Self {
        self.bytes(number, &message.0)
    }

    /// A map entry with a string value.
    fn entry(self, number: u32, key: &str, value: &str) -> Self {
        self.msg(number, Pb::new().str(1, key).str(2, value))
    }

    fn entry_bytes(self, number: u32, key: &str, value: &[u8]) -> Self {
        self.msg(number, Pb::new().str(1, key).bytes(2, value))
    }

    fn entry_msg(self, number: u32, key: &str, value: Pb) -> Self {
        self.msg(number, Pb::new().str(1, key).msg(2, value))
    }
}

/// The whole body: magic, then the Unknown envelope around the object.
fn body(api_version: &str, kind: &str, object: Pb) -> Vec<u8> {
    let type_meta = Pb::new().str(1, api_version).str(2, kind);
    let unknown = Pb::new().msg(1, type_meta).msg(2, object);
    [b"k8s\0".as_slice(), &unknown.0].concat()
}

/// ObjectMeta as Go writes it: every value field present, zero or not.
fn meta(name: &str, namespace: &str) -> Pb {
    Pb::new()
        .str(1, name)
        .str(2, "")
        .str(3, namespace)
        .str(4, "")
        .str(5, "")
        .str(6, "")
        .int(7, 0)
        .msg(8, Pb::new())
}

/// IntOrString: type 0 with intVal, or type 1 with strVal.
fn int_or_string_int(v: i64) -> Pb {
    Pb::new().int(1, 0).int(2, v).str(3, "")
}

fn int_or_string_str(s: &str) -> Pb {
    Pb::new().int(1, 1).int(2, 0).str(3, s)
}

#[test]
fn decodes_objects_as_their_json() {
    let cases: Vec<(&str, Vec<u8>, Value)> = vec![
        (
            "namespace with labels; zero metadata fields and the zero creationTimestamp dropped",
            body(
                "v1",
                "Namespace",
                Pb::new()
                    .msg(
                        1,
                        meta("demo", "")
                            .entry(11, "team", "a")
                            .entry(11, "env", "dev"),
                    )
                    .msg(2, Pb::new())
                    .msg(3, Pb::new().str(1, "")),
            ),
            json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "demo", "labels": {"team": "a", "env": "dev"}},
                "spec": {}, "status": {},
            }),
        ),
        (
            "configmap with data and binaryData",
            body(
                "v1",
                "ConfigMap",
                Pb::new()
                    .msg(1, meta("cfg", "default"))
                    .entry(2, "a.conf", "x=1\n")
                    .entry(2, "empty", "")
                    .entry_bytes(3, "blob", b"hi"),
            ),
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "cfg", "namespace": "default"},
                "data": {"a.conf": "x=1\n", "empty": ""},
                "binaryData": {"blob": "aGk="},
            }),
        ),
        (
            "secret with binary data as base64",
            body(
                "v1",
                "Secret",
                Pb::new()
                    .msg(1, meta("s", "default"))
                    .entry_bytes(2, "key", &[0, 1, 2, 0xff])
                    .entry_bytes(2, "text", b"hello")
                    .str(3, "Opaque"),
            ),
            json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "s", "namespace": "default"},
                "data": {"key": "AAEC/w==", "text": "aGVsbG8="},
                "type": "Opaque",
            }),
        ),
        (
            "service: int and string targetPorts, clusterIP, port 0 kept (no omitempty)",
            body(
                "v1",
                "Service",
                Pb::new().msg(1, meta("web", "default")).msg(
                    2,
                    Pb::new()
                        .msg(
                            1,
                            Pb::new()
                                .str(1, "http")
                                .str(2, "TCP")
                                .int(3, 80)
                                .msg(4, int_or_string_int(8080))
                                .int(5, 0),
                        )
                        .msg(
                            1,
                            Pb::new()
                                .str(1, "")
                                .str(2, "TCP")
                                .int(3, 0)
                                .msg(4, int_or_string_str("https")),
                        )
                        .entry(2, "app", "web")
                        .str(3, "10.0.0.1")
                        .str(4, "ClusterIP"),
                ),
            ),
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {
                    "ports": [
                        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                        {"protocol": "TCP", "port": 0, "targetPort": "https"},
                    ],
                    "selector": {"app": "web"},
                    "clusterIP": "10.0.0.1",
                    "type": "ClusterIP",
                },
            }),
        ),
        (
            "deployment: replicas 0 kept (a pointer), selector, template with a container",
            body(
                "apps/v1",
                "Deployment",
                Pb::new()
                    .msg(1, meta("nginx", "default").entry(11, "app", "nginx"))
                    .msg(
                        2,
                        Pb::new()
                            .int(1, 0)
                            .msg(2, Pb::new().entry(1, "app", "nginx"))
                            .msg(
                                3,
                                Pb::new()
                                    .msg(1, meta("", "").entry(11, "app", "nginx"))
                                    .msg(
                                        2,
                                        Pb::new().msg(
                                            2,
                                            Pb::new()
                                                .str(1, "nginx")
                                                .str(2, "nginx:1.27")
                                                .str(5, "")
                                                .msg(
                                                    6,
                                                    Pb::new()
                                                        .str(1, "")
                                                        .int(2, 0)
                                                        .int(3, 80)
                                                        .str(4, "TCP"),
                                                )
                                                .msg(8, Pb::new())
                                                .str(13, "")
                                                .int(16, 0)
                                                .int(17, 0)
                                                .int(18, 0),
                                        ),
                                    ),
                            )
                            .msg(4, Pb::new())
                            .int(5, 0)
                            .int(7, 0),
                    )
                    .msg(3, Pb::new()),
            ),
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"}},
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {"app": "nginx"}},
                    "template": {
                        "metadata": {"labels": {"app": "nginx"}},
                        "spec": {"containers": [{
                            "name": "nginx",
                            "image": "nginx:1.27",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "resources": {},
                        }]},
                    },
                    "strategy": {},
                },
                "status": {},
            }),
        ),
        (
            "lease: a Time and a MicroTime",
            body(
                "coordination.k8s.io/v1",
                "Lease",
                Pb::new()
                    .msg(
                        1,
                        meta("node-1", "kube-node-lease")
                            .msg(8, Pb::new().int(1, 1_704_164_645).int(2, 500)),
                    )
                    .msg(
                        2,
                        Pb::new()
                            .str(1, "node-1")
                            .int(2, 40)
                            .msg(4, Pb::new().int(1, 1_704_164_645).int(2, 123_456_789)),
                    ),
            ),
            json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {
                    "name": "node-1", "namespace": "kube-node-lease",
                    "creationTimestamp": "2024-01-02T03:04:05Z",
                },
                "spec": {
                    "holderIdentity": "node-1",
                    "leaseDurationSeconds": 40,
                    "renewTime": "2024-01-02T03:04:05.123456Z",
                },
            }),
        ),
        (
            "selfsubjectaccessreview from kubectl auth can-i",
            body(
                "authorization.k8s.io/v1",
                "SelfSubjectAccessReview",
                Pb::new()
                    .msg(1, meta("", ""))
                    .msg(
                        2,
                        Pb::new().msg(
                            1,
                            Pb::new()
                                .str(1, "default")
                                .str(2, "create")
                                .str(3, "apps")
                                .str(4, "")
                                .str(5, "deployments")
                                .str(6, "")
                                .str(7, ""),
                        ),
                    )
                    .msg(3, Pb::new().int(1, 0).int(4, 0).str(2, "").str(3, "")),
            ),
            json!({
                "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "metadata": {},
                "spec": {"resourceAttributes": {
                    "namespace": "default", "verb": "create", "group": "apps",
                    "resource": "deployments",
                }},
                "status": {"allowed": false},
            }),
        ),
        (
            "subjectaccessreview: extra values are named lists",
            body(
                "authorization.k8s.io/v1",
                "SubjectAccessReview",
                Pb::new().msg(
                    2,
                    Pb::new()
                        .str(3, "alice")
                        .str(4, "devs")
                        .str(4, "ops")
                        .entry_msg(5, "scopes", Pb::new().str(1, "a").str(1, "b")),
                ),
            ),
            json!({
                "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {"user": "alice", "groups": ["devs", "ops"], "extra": {"scopes": ["a", "b"]}},
            }),
        ),
        (
            "tokenrequest from kubectl create token",
            body(
                "authentication.k8s.io/v1",
                "TokenRequest",
                Pb::new().msg(1, meta("", "")).msg(
                    2,
                    Pb::new()
                        .str(1, "https://kubernetes.default.svc")
                        .int(4, 3600)
                        .msg(
                            3,
                            Pb::new().str(1, "Pod").str(2, "v1").str(3, "p").str(4, ""),
                        ),
                ),
            ),
            json!({
                "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "metadata": {},
                "spec": {
                    "audiences": ["https://kubernetes.default.svc"],
                    "expirationSeconds": 3600,
                    "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p"},
                },
            }),
        ),
        (
            "eviction from kubectl drain: gracePeriodSeconds 0 is kept (a pointer)",
            body(
                "policy/v1",
                "Eviction",
                Pb::new()
                    .msg(1, meta("web-0", "default"))
                    .msg(2, Pb::new().int(1, 0).str(4, "Background")),
            ),
            json!({
                "apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": "web-0", "namespace": "default"},
                "deleteOptions": {"gracePeriodSeconds": 0, "propagationPolicy": "Background"},
            }),
        ),
        (
            "deleteoptions in a group's version are meta/v1's",
            body("apps/v1", "DeleteOptions", Pb::new().str(5, "All")),
            json!({"apiVersion": "apps/v1", "kind": "DeleteOptions", "dryRun": ["All"]}),
        ),
        (
            "pod: inlined LocalObjectReference, a negative int, packed repeated int64s",
            body(
                "v1",
                "Pod",
                Pb::new().msg(
                    2,
                    Pb::new()
                        .msg(
                            2,
                            Pb::new().str(1, "app").msg(
                                7,
                                Pb::new().str(1, "PASSWORD").msg(
                                    3,
                                    Pb::new().msg(
                                        4,
                                        Pb::new().msg(1, Pb::new().str(1, "creds")).str(2, "pw"),
                                    ),
                                ),
                            ),
                        )
                        .msg(
                            14,
                            Pb::new()
                                // supplementalGroups, packed, then one more unpacked.
                                .bytes(4, &Pb::new().raw_varint(1000).raw_varint(2000).0)
                                .int(4, 3000),
                        )
                        .int(25, -5),
                ),
            ),
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "spec": {
                    "containers": [{"name": "app", "env": [{
                        "name": "PASSWORD",
                        "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pw"}},
                    }]}],
                    "securityContext": {"supplementalGroups": [1000, 2000, 3000]},
                    "priority": -5,
                },
            }),
        ),
        (
            "controllerrevision: a RawExtension holds JSON",
            body(
                "apps/v1",
                "ControllerRevision",
                Pb::new()
                    .msg(2, Pb::new().bytes(1, br#"{"spec":{"x":1}}"#))
                    .int(3, 2),
            ),
            json!({
                "apiVersion": "apps/v1", "kind": "ControllerRevision",
                "data": {"spec": {"x": 1}}, "revision": 2,
            }),
        ),
    ];
    for (name, body, expected) in cases {
        match decode_object(&body) {
            Ok(actual) => assert_eq!(actual, expected, "{name}"),
            Err(e) => panic!("{name}: {e}"),
        }
    }
}

#[test]
fn refuses_what_it_cannot_decode() {
    let pod_with = |field: Pb| body("v1", "Pod", field);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "unknown field",
            pod_with(Pb::new().int(99, 1)),
            "protobuf field 99 of k8s.io.api.core.v1.Pod is not known to hakube; send the object \
             as JSON",
        ),
        (
            "unknown nested field",
            pod_with(Pb::new().msg(2, Pb::new().str(9999, "x"))),
            "protobuf field 9999 of k8s.io.api.core.v1.PodSpec is not known to hakube; send the \
             object as JSON",
        ),
        (
            "unknown kind",
            body("example.com/v1", "Widget", Pb::new()),
            "protobuf bodies of kind Widget in example.com/v1 are not known to hakube; send the \
             object as JSON",
        ),
        (
            "unserved version",
            body("apps/v1beta2", "Deployment", Pb::new()),
            "protobuf bodies of kind Deployment in apps/v1beta2 are not known to hakube; send \
             the object as JSON",
        ),
        (
            "no magic",
            br#"{"kind":"Pod"}"#.to_vec(),
            "the protobuf body does not start with the Kubernetes magic bytes \"k8s\\x00\"",
        ),
        (
            "truncated",
            {
                let mut b = pod_with(Pb::new().msg(1, meta("p", "")));
                b.pop();
                b
            },
            "malformed protobuf in k8s.io.apimachinery.pkg.runtime.Unknown: a value runs past \
             the end of its message",
        ),
        (
            "varint where a string belongs",
            pod_with(Pb::new().msg(1, Pb::new().int(1, 5))),
            "protobuf field 1 of k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta has wire type \
             varint, but its type needs length-delimited",
        ),
        (
            "invalid UTF-8",
            pod_with(Pb::new().msg(1, Pb::new().bytes(1, &[0xff, 0xfe]))),
            "protobuf field 1 of k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta is not valid \
             UTF-8",
        ),
        (
            "bad embedded JSON",
            body(
                "apps/v1",
                "ControllerRevision",
                Pb::new().msg(2, Pb::new().bytes(1, b"{")),
            ),
            "the embedded JSON in k8s.io.apimachinery.pkg.runtime.RawExtension is invalid: EOF \
             while parsing an object at line 1 column 1",
        ),
        (
            "content encoding",
            {
                let unknown = Pb::new()
                    .msg(1, Pb::new().str(1, "v1").str(2, "Pod"))
                    .str(3, "gzip");
                [b"k8s\0".as_slice(), &unknown.0].concat()
            },
            "protobuf content encoding \"gzip\" is not supported",
        ),
    ];
    for (name, body, expected) in cases {
        match decode_object(&body) {
            Ok(value) => panic!("{name}: decoded {value}"),
            Err(e) => assert_eq!(e.to_string(), expected, "{name}"),
        }
    }
}

#[test]
fn refuses_deep_nesting() {
    // ControllerRevisions nested through their RawExtension data, deeper than any real object.
    let mut object = Pb::new();
    for _ in 0..60 {
        let inner = body("apps/v1", "ControllerRevision", object);
        object = Pb::new().msg(2, Pb::new().bytes(1, &inner));
    }
    let err = decode_object(&body("apps/v1", "ControllerRevision", object)).unwrap_err();
    assert!(
        matches!(err, ProtobufError::Malformed { reason, .. } if reason == "messages nest too deeply"),
        "{err}"
    );
}

#[test]
fn recognizes_the_protobuf_content_type() {
    for (content_type, expected) in [
        ("application/vnd.kubernetes.protobuf", true),
        ("application/vnd.kubernetes.protobuf; charset=utf-8", true),
        ("Application/VND.Kubernetes.Protobuf", true),
        ("application/json", false),
        ("application/vnd.kubernetes.protobuf+json", false),
        ("", false),
    ] {
        assert_eq!(is_protobuf(content_type), expected, "{content_type}");
    }
}

#[test]
fn formats_as_go_does() {
    for (nanos, expected) in [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5µs"),
        (250_000_000, "250ms"),
        (1_500_000_000, "1.5s"),
        (60_000_000_000, "1m0s"),
        (3_600_000_000_000, "1h0m0s"),
        (3_723_000_000_001, "1h2m3.000000001s"),
        (-90_000_000_000, "-1m30s"),
    ] {
        assert_eq!(format::go_duration(nanos), expected, "{nanos}");
    }
    for (seconds, micros, expected) in [
        (0, None, Some("1970-01-01T00:00:00Z")),
        (1_704_164_645, None, Some("2024-01-02T03:04:05Z")),
        (951_782_400, Some(7), Some("2000-02-29T00:00:00.000007Z")),
        (-1, None, Some("1969-12-31T23:59:59Z")),
        (253_402_300_799, None, Some("9999-12-31T23:59:59Z")),
        (253_402_300_800, None, None),
    ] {
        assert_eq!(
            format::rfc3339(seconds, micros).as_deref(),
            expected,
            "{seconds}"
        );
    }
    for (bytes, expected) in [
        (&b""[..], ""),
        (b"f", "Zg=="),
        (b"fo", "Zm8="),
        (b"foo", "Zm9v"),
        (&[0xfb, 0xff], "+/8="),
    ] {
        assert_eq!(format::base64(bytes), expected);
    }
}
