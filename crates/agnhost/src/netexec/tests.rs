//! Tests of netexec's routing and answers.

use super::*;

fn env() -> PodEnv {
    PodEnv {
        pod_ip: Some("127.49.129.9".parse().unwrap()),
        hostname: "netexec-0".into(),
    }
}

fn peer() -> Peer {
    Peer {
        remote: "127.49.130.4:51234".parse().unwrap(),
        local: "127.49.129.9:8080".parse().unwrap(),
    }
}

fn route_of(path: &str, query: &str) -> Action {
    let now: jiff::Timestamp = "2025-01-02T03:04:05Z".parse().unwrap();
    route(path, query, &env(), peer(), now, true)
}

fn answer(status: u16, body: &str) -> Action {
    Action::Answer(StatusCode::from_u16(status).unwrap(), body.to_string())
}

#[test]
fn endpoints() {
    let s = Duration::from_secs;
    let cases = [
        ("/", "", answer(200, "NOW: 2025-01-02T03:04:05Z")),
        ("/clientip", "", answer(200, "127.49.130.4:51234")),
        ("/serverport", "", answer(200, "8080")),
        ("/hostname", "", answer(200, "netexec-0")),
        ("/hostName", "", answer(200, "netexec-0")),
        ("/healthz", "", answer(200, "")),
        ("/echo", "msg=hello%20there", answer(200, "hello there")),
        ("/echo", "msg=gone&code=503", answer(503, "gone")),
        (
            "/echo",
            "msg=x&code=abc",
            answer(
                200,
                "argument 'code' must be an integer or empty, got \"abc\"\n",
            ),
        ),
        (
            "/redirect",
            "location=/echo%3Fmsg%3Dfoobar&code=307",
            Action::Redirect(StatusCode::TEMPORARY_REDIRECT, "/echo?msg=foobar".into()),
        ),
        (
            "/redirect",
            "location=/hostname",
            Action::Redirect(StatusCode::FOUND, "/hostname".into()),
        ),
        (
            "/shell",
            "shellCommand=echo+hi",
            Action::Shell("echo hi".into()),
        ),
        ("/shell", "cmd=hostname", Action::Shell("hostname".into())),
        (
            "/exit",
            "code=3&wait=1s&timeout=2s",
            Action::Exit {
                code: 3,
                wait: s(1),
                timeout: s(2),
            },
        ),
        (
            "/exit",
            "",
            Action::Exit {
                code: 0,
                wait: s(0),
                timeout: s(0),
            },
        ),
        (
            "/exit",
            "code=200",
            answer(
                200,
                "argument 'code' must be an integer [0-127] or empty, got \"200\"\n",
            ),
        ),
        (
            "/exit",
            "timeout=soon",
            answer(
                200,
                "argument 'timeout' must be a valid golang duration or empty, got \"soon\"\n",
            ),
        ),
        (
            "/shutdown",
            "",
            Action::Exit {
                code: 0,
                wait: s(0),
                timeout: s(0),
            },
        ),
        (
            "/dial",
            "host=127.0.0.1&port=8080&request=hostname&protocol=udp&tries=3",
            Action::Dial {
                host: "127.0.0.1".into(),
                port: "8080".into(),
                request: "hostname".into(),
                protocol: Protocol::Udp,
                tries: 3,
            },
        ),
        (
            "/dial",
            "host=10.0.0.1&port=80&request=/hostname",
            Action::Dial {
                host: "10.0.0.1".into(),
                port: "80".into(),
                request: "/hostname".into(),
                protocol: Protocol::Http,
                tries: 1,
            },
        ),
        (
            "/dial",
            "host=10.0.0.1&port=80",
            answer(400, "request parameter not specified.\n"),
        ),
        (
            "/dial",
            "host=10.0.0.1&port=80&request=x&protocol=sctp",
            answer(400, "unsupported protocol. sctp\n"),
        ),
        (
            "/upload",
            "",
            Action::NotImplemented("/upload is not built in hakube's agnhost"),
        ),
        ("/nope", "", answer(404, "404 page not found\n")),
    ];
    for (path, query, expected) in cases {
        assert_eq!(route_of(path, query), expected, "{path}?{query}");
    }
    let now: jiff::Timestamp = "2025-01-02T03:04:05Z".parse().unwrap();
    assert_eq!(
        route("/healthz", "", &env(), peer(), now, false),
        answer(412, "")
    );
}

#[test]
fn shell_and_dial_results_read_like_netexec() {
    let cases = [
        (&b"hi\n"[..], Ok(Some(0)), json!({"output": "hi\n"})),
        (&b""[..], Ok(Some(0)), json!({})),
        (
            &b"sh: 1: nope: not found\n"[..],
            Ok(Some(127)),
            json!({"output": "sh: 1: nope: not found\n", "error": "exit status 127"}),
        ),
        (&b""[..], Ok(None), json!({"error": "signal: killed"})),
        (
            &b""[..],
            Err("No such file or directory".to_string()),
            json!({"error": "No such file or directory"}),
        ),
    ];
    for (output, exit, expected) in cases {
        assert_eq!(shell_result(output, exit.clone()), expected, "{exit:?}");
    }
    assert_eq!(
        dial_result(&["a".into(), "b".into()], &[]),
        json!({"responses": ["a", "b"]})
    );
    assert_eq!(
        dial_result(&[], &["timeout".into()]),
        json!({"errors": ["timeout"]})
    );
}

#[test]
fn udp_commands() {
    let remote: SocketAddr = "127.0.0.5:4000".parse().unwrap();
    let cases = [
        ("hostname", Some("netexec-0")),
        ("hostname\n", Some("netexec-0")),
        ("echo hello udp", Some("hello udp")),
        ("clientip", Some("127.0.0.5:4000")),
        ("reboot", None),
    ];
    for (datagram, expected) in cases {
        assert_eq!(
            udp_reply(datagram, &env(), remote).as_deref(),
            expected,
            "{datagram}"
        );
    }
}
