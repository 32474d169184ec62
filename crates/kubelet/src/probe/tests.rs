//! Tests of probe resolution, timing defaults and thresholds.

use serde_json::json;

use super::*;

fn container(probe: serde_json::Value) -> Container {
    serde_json::from_value(json!({
        "name": "c",
        "ports": [{"name": "http", "containerPort": 8080}],
        "livenessProbe": probe,
    }))
    .unwrap()
}

fn spec(probe: serde_json::Value) -> ProbeSpec {
    let c = container(probe);
    probe_spec(ProbeKind::Liveness, c.liveness_probe.as_ref().unwrap(), &c)
}

#[test]
fn actions() {
    let cases = [
        (
            json!({"httpGet": {"path": "healthz", "port": "http", "httpHeaders": [{"name": "X", "value": "1"}]}}),
            Ok(Action::Http {
                https: false,
                host: None,
                port: 8080,
                path: "/healthz".into(),
                headers: vec![("X".into(), "1".into())],
            }),
        ),
        (
            json!({"httpGet": {"port": 80, "scheme": "HTTPS", "host": "127.0.0.1"}}),
            Ok(Action::Http {
                https: true,
                host: Some("127.0.0.1".into()),
                port: 80,
                path: "/".into(),
                headers: vec![],
            }),
        ),
        (
            json!({"tcpSocket": {"port": "8080"}}),
            Ok(Action::Tcp {
                host: None,
                port: 8080,
            }),
        ),
        (
            json!({"exec": {"command": ["cat", "/tmp/healthy"]}}),
            Ok(Action::Exec {
                command: vec!["cat".into(), "/tmp/healthy".into()],
            }),
        ),
        (
            json!({"grpc": {"port": 9000}}),
            Ok(Action::Grpc { port: 9000 }),
        ),
        (
            json!({"tcpSocket": {"port": "metrics"}}),
            Err("couldn't find port \"metrics\" in the container".to_string()),
        ),
        (
            json!({"tcpSocket": {"port": 0}}),
            Err("invalid port number: 0".to_string()),
        ),
        (
            json!({}),
            Err("the probe has no handler (httpGet, tcpSocket, exec or grpc)".to_string()),
        ),
    ];
    for (probe, want) in cases {
        assert_eq!(spec(probe.clone()).action, want, "{probe}");
    }
}

#[test]
fn timings() {
    let s = Duration::from_secs;
    let cases = [
        (json!({"exec": {"command": ["true"]}}), (0, 10, 1, 1, 3)),
        (
            json!({"exec": {"command": ["true"]}, "initialDelaySeconds": 5, "periodSeconds": 2,
                   "timeoutSeconds": 3, "successThreshold": 2, "failureThreshold": 1}),
            (5, 2, 3, 2, 1),
        ),
        (
            json!({"exec": {"command": ["true"]}, "periodSeconds": 0, "timeoutSeconds": 0, "failureThreshold": 0}),
            (0, 1, 1, 1, 1),
        ),
    ];
    for (probe, (delay, period, timeout, success, failure)) in cases {
        let timing = spec(probe).timing;
        assert_eq!(
            timing,
            Timing {
                initial_delay: s(delay),
                period: s(period),
                timeout: s(timeout),
                success_threshold: success,
                failure_threshold: failure,
            }
        );
    }
    let timing = spec(json!({"exec": {}, "initialDelaySeconds": 3, "periodSeconds": 4})).timing;
    let t0 = Instant::now();
    assert_eq!(timing.first_run(t0), t0 + s(3));
    assert_eq!(timing.next_run(t0 + s(3)), t0 + s(7));
}

#[test]
fn thresholds() {
    let timing = |success, failure| Timing {
        initial_delay: Duration::ZERO,
        period: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        success_threshold: success,
        failure_threshold: failure,
    };
    /// (kind, thresholds, results, the verdict changes seen)
    type Case = (
        ProbeKind,
        (u32, u32),
        &'static [bool],
        &'static [Option<bool>],
    );
    let cases: [Case; 5] = [
        (
            ProbeKind::Readiness,
            (1, 3),
            &[true, true],
            &[Some(true), None],
        ),
        (
            ProbeKind::Readiness,
            (2, 3),
            &[true, false, true, true],
            &[None, None, None, Some(true)],
        ),
        (
            ProbeKind::Liveness,
            (1, 3),
            &[false, false, true, false, false, false],
            &[None, None, None, None, None, Some(false)],
        ),
        (ProbeKind::Liveness, (1, 1), &[false], &[Some(false)]),
        (
            ProbeKind::Startup,
            (1, 3),
            &[false, false, false, true],
            &[None, None, None, Some(true)],
        ),
    ];
    for (kind, (success, failure), results, want) in cases {
        let mut tracker = Tracker::new(kind, timing(success, failure));
        let got: Vec<Option<bool>> = results.iter().map(|r| tracker.record(*r)).collect();
        assert_eq!(got, want, "{kind:?} {results:?}");
    }
}
