//! Table tests of the pure parts of `pods/log`: options, container choice, kubelet address and
//! the kubelet URL.

use serde_json::json;

use super::*;

fn pod(init: &[&str], containers: &[&str], ephemeral: &[&str]) -> Value {
    let list = |names: &[&str]| names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>();
    json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "initContainers": list(init),
            "containers": list(containers),
            "ephemeralContainers": list(ephemeral),
        },
    })
}

#[test]
fn container_choice() {
    /// What, the pod, the container asked for, and the container chosen or the 400's message.
    type Case<'a> = (&'a str, Value, Option<&'a str>, Result<&'a str, &'a str>);
    let cases: &[Case] = &[
        (
            "the only container",
            pod(&[], &["app"], &[]),
            None,
            Ok("app"),
        ),
        (
            "only container, init containers aside",
            pod(&["setup"], &["app"], &[]),
            None,
            Ok("app"),
        ),
        (
            "named container",
            pod(&[], &["a", "b"], &[]),
            Some("b"),
            Ok("b"),
        ),
        (
            "named init container",
            pod(&["setup"], &["a", "b"], &[]),
            Some("setup"),
            Ok("setup"),
        ),
        (
            "named ephemeral container",
            pod(&[], &["a"], &["debug"]),
            Some("debug"),
            Ok("debug"),
        ),
        (
            "two containers, none named",
            pod(&["setup"], &["a", "b"], &["debug"]),
            None,
            Err("a container name must be specified for pod web, choose one of: [setup a b debug]"),
        ),
        (
            "no containers",
            pod(&[], &[], &[]),
            None,
            Err("a container name must be specified for pod web"),
        ),
        (
            "unknown container",
            pod(&[], &["a"], &[]),
            Some("x"),
            Err("container x is not valid for pod web"),
        ),
    ];
    for (what, pod, wanted, expected) in cases {
        let got = choose_container(pod, *wanted);
        match (got, expected) {
            (Ok(name), Ok(want)) => assert_eq!(name, *want, "{what}"),
            (Err(err), Err(want)) => {
                assert_eq!(
                    (err.code, err.reason, err.message.as_str()),
                    (400, "BadRequest", *want),
                    "{what}"
                )
            }
            (got, _) => panic!("{what}: got {got:?}"),
        }
    }
}

#[test]
fn options_from_the_query() {
    let cases: &[(&str, LogOptions)] = &[
        ("", LogOptions::default()),
        (
            "container=app&follow=true&previous=1&timestamps",
            LogOptions {
                container: Some("app".into()),
                follow: true,
                previous: true,
                timestamps: true,
                ..Default::default()
            },
        ),
        ("follow=false&previous=0", LogOptions::default()),
        (
            "tailLines=10&limitBytes=500&sinceSeconds=60",
            LogOptions {
                tail_lines: Some(10),
                limit_bytes: Some(500),
                since_seconds: Some(60),
                ..Default::default()
            },
        ),
        (
            "sinceTime=2024-05-01T12%3A30%3A15.25%2B02%3A00",
            LogOptions {
                since_time: Some("2024-05-01T10:30:15Z".into()),
                ..Default::default()
            },
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(&LogOptions::parse(query).unwrap(), expected, "{query}");
    }
    for bad in ["tailLines=ten", "sinceTime=yesterday", "limitBytes=1.5"] {
        assert_eq!(LogOptions::parse(bad).unwrap_err().code, 400, "{bad}");
    }
}

#[test]
fn options_are_validated() {
    let cases: &[(&str, Option<&str>)] = &[
        ("tailLines=0&limitBytes=1&sinceSeconds=1", None),
        (
            "tailLines=-1",
            Some(
                "PodLogOptions \"web\" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0",
            ),
        ),
        (
            "limitBytes=0",
            Some(
                "PodLogOptions \"web\" is invalid: limitBytes: Invalid value: 0: must be greater than 0",
            ),
        ),
        (
            "sinceSeconds=0",
            Some(
                "PodLogOptions \"web\" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0",
            ),
        ),
        (
            "sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z",
            Some(
                "PodLogOptions \"web\" is invalid: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
            ),
        ),
    ];
    for (query, expected) in cases {
        let result = LogOptions::parse(query).unwrap().validate("web");
        match (result, expected) {
            (Ok(()), None) => {}
            (Err(err), Some(want)) => {
                assert_eq!((err.code, err.message.as_str()), (422, *want), "{query}")
            }
            (got, _) => panic!("{query}: got {got:?}"),
        }
    }
}

#[test]
fn kubelet_urls() {
    let address: SocketAddr = "10.0.0.7:10250".parse().unwrap();
    let cases: &[(&str, &str)] = &[
        ("", "https://10.0.0.7:10250/containerLogs/ns/web/app"),
        (
            "timestamps=true&follow=true&tailLines=5&container=app",
            "https://10.0.0.7:10250/containerLogs/ns/web/app?follow=true&tailLines=5&timestamps=true",
        ),
        (
            "previous=true&limitBytes=100&sinceTime=2024-01-01T00:00:00Z",
            "https://10.0.0.7:10250/containerLogs/ns/web/app?limitBytes=100&previous=true&sinceTime=2024-01-01T00%3A00%3A00Z",
        ),
        (
            "sinceSeconds=30",
            "https://10.0.0.7:10250/containerLogs/ns/web/app?sinceSeconds=30",
        ),
    ];
    for (query, expected) in cases {
        let options = LogOptions::parse(query).unwrap();
        let location = logs_location(address, "ns", "web", "app", &options);
        assert_eq!(location.url(), *expected, "{query}");
    }
}

#[test]
fn kubelet_addresses() {
    let node = |addresses: Value, daemon: Value| json!({"metadata": {"name": "n1"}, "status": {"addresses": addresses, "daemonEndpoints": daemon}});
    let cases: &[(&str, Value, Result<&str, &str>)] = &[
        (
            "internal IP, default port",
            node(
                json!([{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.7"}]),
                json!({}),
            ),
            Ok("10.0.0.7:10250"),
        ),
        (
            "published port",
            node(
                json!([{"type": "InternalIP", "address": "10.0.0.7"}]),
                json!({"kubeletEndpoint": {"Port": 10260}}),
            ),
            Ok("10.0.0.7:10260"),
        ),
        (
            "port 0 means the default",
            node(
                json!([{"type": "InternalIP", "address": "10.0.0.7"}]),
                json!({"kubeletEndpoint": {"Port": 0}}),
            ),
            Ok("10.0.0.7:10250"),
        ),
        (
            "external IP when there is no internal one",
            node(
                json!([{"type": "ExternalIP", "address": "192.0.2.4"}]),
                json!({}),
            ),
            Ok("192.0.2.4:10250"),
        ),
        (
            "IPv6",
            node(
                json!([{"type": "InternalIP", "address": "fd00::7"}]),
                json!({}),
            ),
            Ok("[fd00::7]:10250"),
        ),
        (
            "no IP",
            node(json!([{"type": "Hostname", "address": "n1"}]), json!({})),
            Err("no preferred addresses found; known addresses: [{Hostname n1}]"),
        ),
    ];
    for (what, node, expected) in cases {
        let got = kubelet_address(node).map(|a| a.to_string());
        let expected = expected.map(String::from).map_err(String::from);
        assert_eq!(got, expected, "{what}");
    }
}
