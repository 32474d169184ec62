//! Tests of environment building: base variables, Service links, envFrom, env and valueFrom.

use k8s_openapi::api::core::v1::Service;
use serde_json::json;

use super::*;

fn pod(spec: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {
            "name": "web-1", "namespace": "shop", "uid": "u-1",
            "labels": {"app": "web"}, "annotations": {"note": "hi"},
        },
        "spec": spec,
    }))
    .unwrap()
}

fn container(spec: &Pod) -> &Container {
    &spec.spec.as_ref().unwrap().containers[0]
}

fn sources() -> Sources {
    let data = |pairs: &[(&str, &str)]| {
        Source::Found(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    };
    Sources {
        secrets: BTreeMap::from([
            (
                "db".to_string(),
                data(&[("password", "s3cret"), ("user", "admin")]),
            ),
            ("gone".to_string(), Source::NotFound),
            (
                "broken".to_string(),
                Source::Failed("the API server is down".into()),
            ),
        ]),
        config_maps: BTreeMap::from([(
            "settings".to_string(),
            data(&[("MODE", "fast"), ("1BAD", "x"), ("level", "3")]),
        )]),
    }
}

fn build_for(
    spec: serde_json::Value,
    service_vars: &[(String, String)],
) -> Result<Vec<(String, String)>, String> {
    let pod = pod(spec);
    let sources = sources();
    build(&EnvInput {
        pod: &pod,
        container: container(&pod),
        pod_ip: Ipv4Addr::new(127, 49, 129, 2),
        host_ip: Ipv4Addr::new(127, 0, 49, 2),
        service_vars,
        sources: &sources,
        allocatable: Allocatable {
            cpu_millis: 2000,
            memory_bytes: 1 << 30,
        },
        home: "/state/pods/shop_web-1_u-1/containers/c",
    })
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const BASE: [(&str, &str); 4] = [
    ("PATH", DEFAULT_PATH),
    ("HOSTNAME", "web-1"),
    ("HOME", "/state/pods/shop_web-1_u-1/containers/c"),
    ("POD_IP", "127.49.129.2"),
];

#[test]
fn environments() {
    let services = pairs(&[
        ("API_SERVICE_HOST", "127.49.96.10"),
        ("API_SERVICE_PORT", "80"),
    ]);
    /// (what, pod spec, the variables beyond the base and Service ones, or the error)
    type Case = (
        &'static str,
        serde_json::Value,
        Result<Vec<(&'static str, &'static str)>, &'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "base only",
            json!({"containers": [{"name": "c"}]}),
            Ok(vec![]),
        ),
        (
            "values, expansion and overrides",
            json!({"containers": [{"name": "c", "env": [
                {"name": "A", "value": "1"},
                {"name": "B", "value": "$(A)-$(API_SERVICE_HOST)-$(NOPE)-$$(A)"},
                {"name": "A", "value": "2"},
                {"name": "HOSTNAME", "value": "mine"},
            ]}]}),
            Ok(vec![("A", "2"), ("B", "1-127.49.96.10-$(NOPE)-$(A)")]),
        ),
        (
            "downward API",
            json!({"nodeName": "n1", "serviceAccountName": "sa", "containers": [{"name": "c", "env": [
                {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "NOTE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['note']"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
            ]}]}),
            Ok(vec![
                ("NAME", "web-1"),
                ("NS", "shop"),
                ("UID", "u-1"),
                ("APP", "web"),
                ("NOTE", "hi"),
                ("NODE", "n1"),
                ("SA", "sa"),
                ("IP", "127.49.129.2"),
                ("HOST", "127.0.49.2"),
            ]),
        ),
        (
            "an unknown field",
            json!({"containers": [{"name": "c", "env": [
                {"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.priority"}}},
            ]}]}),
            Err("unsupported fieldPath: spec.priority"),
        ),
        (
            "resources",
            json!({"containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi"}}, "env": [
                {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            ]}]}),
            Ok(vec![("MEM", "64"), ("CPU", "2")]),
        ),
        (
            "secrets and config maps",
            json!({"containers": [{"name": "c", "envFrom": [
                {"configMapRef": {"name": "settings"}},
                {"secretRef": {"name": "db"}, "prefix": "DB_"},
                {"secretRef": {"name": "gone", "optional": true}},
            ], "env": [
                {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "level"}}},
                {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "db", "key": "nope", "optional": true}}},
                {"name": "MODE", "value": "slow"},
            ]}]}),
            Ok(vec![
                ("MODE", "slow"),
                ("level", "3"),
                ("DB_password", "s3cret"),
                ("DB_user", "admin"),
                ("PW", "s3cret"),
                ("LEVEL", "3"),
            ]),
        ),
        (
            "a missing secret",
            json!({"containers": [{"name": "c", "env": [
                {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "password"}}},
            ]}]}),
            Err("secret \"gone\" not found"),
        ),
        (
            "a missing key",
            json!({"containers": [{"name": "c", "env": [
                {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "token"}}},
            ]}]}),
            Err("couldn't find key token in Secret shop/db"),
        ),
        (
            "a missing config map",
            json!({"containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "other"}}]}]}),
            Err("configmap \"other\" not found"),
        ),
        (
            "a failed read",
            json!({"containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "broken", "optional": true}}]}]}),
            Err("the API server is down"),
        ),
    ];
    for (what, spec, want) in cases {
        let got = build_for(spec, &services);
        match (got, want) {
            (Ok(got), Ok(extra)) => {
                let mut want = pairs(&BASE);
                want.extend(services.iter().cloned());
                for (name, value) in extra {
                    match want.iter_mut().find(|(n, _)| n == name) {
                        Some(existing) => existing.1 = value.to_string(),
                        None => want.push((name.to_string(), value.to_string())),
                    }
                }
                if what == "values, expansion and overrides" {
                    want.iter_mut().find(|(n, _)| n == "HOSTNAME").unwrap().1 = "mine".into();
                }
                assert_eq!(got, want, "{what}");
            }
            (Err(got), Err(want)) => assert_eq!(got, want, "{what}"),
            (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn referenced_sources() {
    let pod = pod(json!({"containers": [{"name": "c",
    "envFrom": [{"secretRef": {"name": "a"}}, {"configMapRef": {"name": "b"}}],
    "env": [
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "c", "key": "k"}}},
        {"name": "Y", "valueFrom": {"configMapKeyRef": {"name": "b", "key": "k"}}},
        {"name": "Z", "value": "plain"},
    ]}]}));
    let refs = references(container(&pod));
    assert_eq!(
        refs.secrets,
        BTreeSet::from(["a".to_string(), "c".to_string()])
    );
    assert_eq!(refs.config_maps, BTreeSet::from(["b".to_string()]));
}

#[test]
fn hostnames() {
    let long = "a".repeat(62) + "-bcd";
    let cases = [
        (json!({"name": "web-1"}), json!({}), "web-1".to_string()),
        (
            json!({"name": "web-1"}),
            json!({"hostname": "box"}),
            "box".to_string(),
        ),
        (json!({"name": long}), json!({}), "a".repeat(62)),
    ];
    for (meta, spec, want) in cases {
        let mut spec = spec;
        spec["containers"] = json!([]);
        let pod: Pod = serde_json::from_value(json!({"metadata": meta, "spec": spec})).unwrap();
        assert_eq!(hostname(&pod), want);
    }
}

fn service(ns: &str, name: &str, ip: &str, ports: serde_json::Value) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {"clusterIP": ip, "ports": ports},
    }))
    .unwrap()
}

#[test]
fn service_links() {
    let services = [
        service(
            "default",
            "kubernetes",
            "127.49.96.1",
            json!([{"name": "https", "port": 443}]),
        ),
        service(
            "shop",
            "web-api",
            "127.49.96.20",
            json!([
                {"name": "http", "port": 80}, {"port": 53, "protocol": "UDP"},
            ]),
        ),
        service("shop", "headless", "None", json!([{"port": 80}])),
        service("other", "elsewhere", "127.49.96.30", json!([{"port": 80}])),
    ];
    let got = service_variables("shop", true, &services);
    let want = pairs(&[
        ("KUBERNETES_SERVICE_HOST", "127.49.96.1"),
        ("KUBERNETES_SERVICE_PORT", "443"),
        ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
        ("KUBERNETES_PORT", "tcp://127.49.96.1:443"),
        ("KUBERNETES_PORT_443_TCP", "tcp://127.49.96.1:443"),
        ("KUBERNETES_PORT_443_TCP_PROTO", "tcp"),
        ("KUBERNETES_PORT_443_TCP_PORT", "443"),
        ("KUBERNETES_PORT_443_TCP_ADDR", "127.49.96.1"),
        ("WEB_API_SERVICE_HOST", "127.49.96.20"),
        ("WEB_API_SERVICE_PORT", "80"),
        ("WEB_API_SERVICE_PORT_HTTP", "80"),
        ("WEB_API_PORT", "tcp://127.49.96.20:80"),
        ("WEB_API_PORT_80_TCP", "tcp://127.49.96.20:80"),
        ("WEB_API_PORT_80_TCP_PROTO", "tcp"),
        ("WEB_API_PORT_80_TCP_PORT", "80"),
        ("WEB_API_PORT_80_TCP_ADDR", "127.49.96.20"),
        ("WEB_API_PORT_53_UDP", "udp://127.49.96.20:53"),
        ("WEB_API_PORT_53_UDP_PROTO", "udp"),
        ("WEB_API_PORT_53_UDP_PORT", "53"),
        ("WEB_API_PORT_53_UDP_ADDR", "127.49.96.20"),
    ]);
    assert_eq!(got, want);

    // Without service links only the API server's Service is there.
    let got = service_variables("shop", false, &services);
    assert!(got.iter().all(|(name, _)| name.starts_with("KUBERNETES_")));
    assert_eq!(got.len(), 8);
}
