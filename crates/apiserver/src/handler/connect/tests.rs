//! Tests of where connect requests go and how their failures read.

use serde_json::json;

use super::*;

fn pod(containers: &[&str], node: &str) -> Value {
    let containers: Vec<Value> = containers.iter().map(|c| json!({"name": c})).collect();
    json!({
        "metadata": {"name": "web-0", "namespace": "default"},
        "spec": {"containers": containers, "nodeName": node},
    })
}

fn address() -> SocketAddr {
    "127.0.49.3:10250".parse().unwrap()
}

#[test]
fn exec_options_become_the_kubelets_query() {
    let cases = [
        (
            Stream::Exec,
            "command=hostname&container=app&stdin=false&stdout=true&stderr=true",
            "/exec/default/web-0/app?command=hostname&error=1&output=1",
        ),
        (
            Stream::Exec,
            "command=sh&command=-c&command=echo+a%26b&stdin=true&stdout=true&tty=true",
            "/exec/default/web-0/app?command=sh&command=-c&command=echo+a%26b&input=1&output=1&tty=1",
        ),
        (
            Stream::Attach,
            "stdout=1&stderr=1",
            "/attach/default/web-0/app?error=1&output=1",
        ),
        (Stream::PortForward, "", "/portForward/default/web-0"),
        (
            Stream::PortForward,
            "ports=8080,9090",
            "/portForward/default/web-0?port=8080&port=9090",
        ),
    ];
    for (stream, query, expected) in cases {
        let options = ConnectOptions::parse(stream, query).unwrap();
        let container = (stream != Stream::PortForward).then_some("app");
        let location = stream_location(stream, address(), "default", "web-0", container, &options);
        assert_eq!(location.path_and_query, expected, "{query}");
        assert_eq!(location.address, address());
    }
}

#[test]
fn bad_options_are_400s() {
    let cases = [
        (
            Stream::Exec,
            "stdout=true",
            "you must specify at least 1 command",
        ),
        (
            Stream::Exec,
            "command=ls",
            "you must specify at least 1 of stdin, stdout, stderr",
        ),
        (
            Stream::Attach,
            "stdin=false",
            "you must specify at least 1 of stdin, stdout, stderr",
        ),
        (
            Stream::Exec,
            "command=ls&stdout=yes",
            "stdout: invalid value \"yes\": not a boolean",
        ),
        (
            Stream::PortForward,
            "ports=http",
            "ports: invalid value \"http\": must be between 1 and 65535",
        ),
    ];
    for (stream, query, message) in cases {
        let err = ConnectOptions::parse(stream, query).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (400, message), "{query}");
    }
}

/// The node and container a request goes to, or the refusal's code and message.
type Target<'a> = Result<(&'a str, Option<&'a str>), (u16, &'a str)>;

#[test]
fn the_target_is_the_pods_node_and_container() {
    let options = |container: Option<&str>| ConnectOptions {
        container: container.map(String::from),
        stdout: true,
        command: vec!["ls".into()],
        ..ConnectOptions::default()
    };
    let cases: Vec<(Stream, Value, Option<&str>, Target)> = vec![
        (
            Stream::Exec,
            pod(&["app"], "node-2"),
            None,
            Ok(("node-2", Some("app"))),
        ),
        (
            Stream::Exec,
            pod(&["app", "sidecar"], "node-2"),
            Some("sidecar"),
            Ok(("node-2", Some("sidecar"))),
        ),
        (
            Stream::Exec,
            pod(&["app"], "node-2"),
            Some("nope"),
            Err((400, "container nope is not valid for pod web-0")),
        ),
        (
            Stream::Attach,
            pod(&["app", "sidecar"], "node-2"),
            None,
            Err((
                400,
                "a container name must be specified for pod web-0, choose one of: [app sidecar]",
            )),
        ),
        (
            Stream::Exec,
            pod(&["app"], ""),
            None,
            Err((400, "pod web-0 does not have a host assigned")),
        ),
        (
            Stream::PortForward,
            pod(&["app", "b"], "node-3"),
            None,
            Ok(("node-3", None)),
        ),
        (
            Stream::PortForward,
            pod(&["app"], ""),
            None,
            Err((400, "pod web-0 does not have a host assigned")),
        ),
    ];
    for (stream, pod, container, expected) in cases {
        let got = stream_target(stream, &pod, &options(container)).map_err(|e| (e.code, e.message));
        let expected = expected
            .map(|(n, c)| (n.to_string(), c.map(String::from)))
            .map_err(|(code, m)| (code, m.to_string()));
        assert_eq!(got, expected, "{stream:?} {container:?}");
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

#[test]
fn upgrades_pass_only_what_negotiates_them() {
    let request = headers(&[
        ("authorization", "Bearer secret"),
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-key", "k"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "v5.channel.k8s.io"),
        ("user-agent", "kubectl/v1.32.0"),
        ("x-stream-protocol-version", "v4.channel.k8s.io"),
        ("x-stream-protocol-version", "v3.channel.k8s.io"),
        ("accept-encoding", "gzip"),
    ]);
    assert!(is_upgrade(&request));
    let passed = upgrade_headers(&request);
    let names: Vec<&str> = passed.keys().map(HeaderName::as_str).collect();
    assert_eq!(
        names,
        [
            "connection",
            "upgrade",
            "sec-websocket-key",
            "sec-websocket-version",
            "sec-websocket-protocol",
            "user-agent",
            "x-stream-protocol-version"
        ]
    );
    assert_eq!(
        passed.get_all("x-stream-protocol-version").iter().count(),
        2
    );

    let cases = [
        (
            headers(&[
                ("connection", "keep-alive, Upgrade"),
                ("upgrade", "SPDY/3.1"),
            ]),
            true,
        ),
        (headers(&[("upgrade", "websocket")]), false),
        (headers(&[("connection", "upgrade")]), false),
        (headers(&[]), false),
    ];
    for (headers, expected) in cases {
        assert_eq!(is_upgrade(&headers), expected, "{headers:?}");
    }
}

#[test]
fn proxied_requests_keep_end_to_end_headers_only() {
    let request = headers(&[
        ("authorization", "Bearer secret"),
        ("host", "127.0.49.254:8443"),
        ("accept", "application/json"),
        ("connection", "keep-alive"),
        ("transfer-encoding", "chunked"),
        ("x-custom", "1"),
    ]);
    let passed = proxy_headers(&request);
    let names: Vec<&str> = passed.keys().map(HeaderName::as_str).collect();
    assert_eq!(names, ["accept", "x-custom"]);
}

#[test]
fn node_proxy_targets() {
    let cases = [
        ("node-1", Ok(("node-1", None))),
        ("node-1:10250", Ok(("node-1", Some(10250)))),
        ("https:node-1:10250", Ok(("node-1", Some(10250)))),
        ("https:node-1:", Ok(("node-1", None))),
        ("node-1:kubelet", Err(400)),
        ("ftp:node-1:21", Err(400)),
        ("a:b:c:d", Err(400)),
        ("http:node-1:10255", Err(501)),
    ];
    for (id, expected) in cases {
        let got = node_and_port(id).map_err(|e| e.code);
        assert_eq!(got, expected.map(|(n, p)| (n.to_string(), p)), "{id}");
    }
    let paths = [
        ("/api/v1/nodes/node-1/proxy/configz", "node-1", "/configz"),
        ("/api/v1/nodes/node-1/proxy", "node-1", "/"),
        ("/api/v1/nodes/node-1/proxy/", "node-1", "/"),
        (
            "/api/v1/nodes/node-1:10250/proxy/containerLogs/kube-system/etcd-node-1/etcd",
            "node-1:10250",
            "/containerLogs/kube-system/etcd-node-1/etcd",
        ),
    ];
    for (path, id, expected) in paths {
        assert_eq!(proxy_path(path, id), expected, "{path}");
    }
}

#[test]
fn unreachable_kubelets_read_like_kube_apiserver() {
    let refused = KubeletError::Dial {
        address: address(),
        reason: "connect: connection refused".into(),
    };
    let err = dial_failure(&refused);
    assert_eq!(
        (err.code, err.reason, err.message.as_str()),
        (
            500,
            "",
            "error dialing backend: dial tcp 127.0.49.3:10250: connect: connection refused"
        )
    );
    let err = proxy_failure(&refused);
    assert_eq!(err.code, 503);
    assert_eq!(
        err.message,
        "error trying to reach service: dial tcp 127.0.49.3:10250: connect: connection refused"
    );
}
