//! The pods table: READY, the STATUS summary and RESTARTS for pods in every stage of life.

use serde_json::{Value, json};

use super::assert_rows;

/// A pod in `default` created at `created`, with the given spec and status.
fn pod(name: &str, created: &str, spec: Value, status: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
        "spec": spec,
        "status": status,
    })
}

fn one_container() -> Value {
    json!({"containers": [{"name": "web", "image": "nginx:1.27"}]})
}

fn scheduled() -> Value {
    json!({"containers": [{"name": "web", "image": "nginx:1.27"}], "nodeName": "w-1"})
}

#[test]
fn pod_rows() {
    let cases = [
        (
            "running, ready, restarted once",
            pod(
                "web-0",
                "2024-05-01T08:00:00Z",
                scheduled(),
                json!({
                    "phase": "Running",
                    "podIP": "10.244.1.5",
                    "podIPs": [{"ip": "10.244.1.5"}],
                    "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
                    "containerStatuses": [{
                        "name": "web", "ready": true, "started": true, "restartCount": 1,
                        "state": {"running": {"startedAt": "2024-05-01T09:55:01Z"}},
                        "lastState": {"terminated": {"exitCode": 137, "reason": "Error", "finishedAt": "2024-05-01T09:55:00Z"}},
                    }],
                }),
            ),
            json!([
                "web-0",
                "1/1",
                "Running",
                "1 (5m ago)",
                "120m",
                "10.244.1.5",
                "w-1",
                "<none>",
                "<none>"
            ]),
        ),
        (
            "pending, not yet scheduled",
            pod(
                "pending",
                "2024-05-01T09:59:30Z",
                one_container(),
                json!({
                    "phase": "Pending",
                    "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
                }),
            ),
            json!([
                "pending", "0/1", "Pending", "0", "30s", "<none>", "<none>", "<none>", "<none>"
            ]),
        ),
        (
            "scheduled, pulling the image",
            pod(
                "creating",
                "2024-05-01T09:59:50Z",
                scheduled(),
                json!({
                    "phase": "Pending",
                    "containerStatuses": [{
                        "name": "web", "ready": false, "restartCount": 0,
                        "state": {"waiting": {"reason": "ContainerCreating"}},
                    }],
                }),
            ),
            json!([
                "creating",
                "0/1",
                "ContainerCreating",
                "0",
                "10s",
                "<none>",
                "w-1",
                "<none>",
                "<none>"
            ]),
        ),
        (
            "gated before scheduling",
            pod(
                "gated",
                "2024-05-01T09:59:50Z",
                one_container(),
                json!({
                    "phase": "Pending",
                    "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
                }),
            ),
            json!([
                "gated",
                "0/1",
                "SchedulingGated",
                "0",
                "10s",
                "<none>",
                "<none>",
                "<none>",
                "<none>"
            ]),
        ),
        (
            "crash looping",
            pod(
                "crash",
                "2024-05-01T09:30:00Z",
                scheduled(),
                json!({
                    "phase": "Running",
                    "podIP": "10.244.1.9",
                    "containerStatuses": [{
                        "name": "web", "ready": false, "restartCount": 5,
                        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s"}},
                        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2024-05-01T09:58:30Z"}},
                    }],
                }),
            ),
            json!([
                "crash",
                "0/1",
                "CrashLoopBackOff",
                "5 (90s ago)",
                "30m",
                "10.244.1.9",
                "w-1",
                "<none>",
                "<none>"
            ]),
        ),
        (
            "terminating",
            json!({
                "metadata": {
                    "name": "old", "creationTimestamp": "2024-04-30T10:00:00Z",
                    "deletionTimestamp": "2024-05-01T09:59:40Z", "deletionGracePeriodSeconds": 30,
                },
                "spec": scheduled(),
                "status": {
                    "phase": "Running",
                    "podIPs": [{"ip": "fd00::5"}],
                    "containerStatuses": [{"name": "web", "ready": true, "restartCount": 0, "state": {"running": {}}}],
                },
            }),
            json!([
                "old",
                "1/1",
                "Terminating",
                "0",
                "24h",
                "fd00::5",
                "w-1",
                "<none>",
                "<none>"
            ]),
        ),
        (
            "deleted on a lost node",
            json!({
                "metadata": {"name": "lost", "creationTimestamp": "2024-04-30T10:00:00Z", "deletionTimestamp": "2024-05-01T09:00:00Z"},
                "spec": scheduled(),
                "status": {"phase": "Running", "reason": "NodeLost"},
            }),
            json!([
                "lost", "0/1", "Unknown", "0", "24h", "<none>", "w-1", "<none>", "<none>"
            ]),
        ),
        (
            "completed",
            pod(
                "job-x",
                "2024-05-01T09:00:00Z",
                scheduled(),
                json!({
                    "phase": "Succeeded",
                    "containerStatuses": [{
                        "name": "web", "ready": false, "restartCount": 0,
                        "state": {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": "2024-05-01T09:01:00Z"}},
                    }],
                }),
            ),
            json!([
                "job-x",
                "0/1",
                "Completed",
                "0",
                "60m",
                "<none>",
                "w-1",
                "<none>",
                "<none>"
            ]),
        ),
        (
            "killed without a reason",
            pod(
                "killed",
                "2024-05-01T09:00:00Z",
                scheduled(),
                json!({
                    "phase": "Failed",
                    "containerStatuses": [{"name": "web", "restartCount": 0, "state": {"terminated": {"exitCode": 137, "signal": 9}}}],
                }),
            ),
            json!([
                "killed", "0/1", "Signal:9", "0", "60m", "<none>", "w-1", "<none>", "<none>"
            ]),
        ),
        (
            "evicted",
            pod(
                "evicted",
                "2024-05-01T09:00:00Z",
                scheduled(),
                json!({"phase": "Failed", "reason": "Evicted"}),
            ),
            json!([
                "evicted", "0/1", "Evicted", "0", "60m", "<none>", "w-1", "<none>", "<none>"
            ]),
        ),
        (
            "one container done, one still running",
            pod(
                "mixed",
                "2024-05-01T09:00:00Z",
                json!({"containers": [{"name": "a"}, {"name": "b"}]}),
                json!({
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "False"}],
                    "containerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        {"name": "b", "ready": true, "state": {"running": {}}},
                    ],
                }),
            ),
            json!([
                "mixed", "1/2", "NotReady", "0", "60m", "<none>", "<none>", "<none>", "<none>"
            ]),
        ),
        (
            "readiness gates, one met",
            pod(
                "gates",
                "2024-05-01T09:00:00Z",
                json!({
                    "containers": [{"name": "web"}],
                    "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}],
                }),
                json!({
                    "phase": "Running",
                    "nominatedNodeName": "w-2",
                    "conditions": [{"type": "example.com/lb", "status": "True"}, {"type": "example.com/dns", "status": "False"}],
                    "containerStatuses": [{"name": "web", "ready": true, "state": {"running": {}}}],
                }),
            ),
            json!([
                "gates", "1/1", "Running", "0", "60m", "<none>", "<none>", "w-2", "1/2"
            ]),
        ),
    ];
    assert_rows("", "pods", &cases);
}

#[test]
fn init_container_rows() {
    let spec = json!({
        "initContainers": [{"name": "migrate"}, {"name": "seed"}],
        "containers": [{"name": "web"}],
        "nodeName": "w-1",
    });
    let waiting = json!({"waiting": {"reason": "PodInitializing"}});
    let done = json!({"terminated": {"exitCode": 0, "reason": "Completed"}});
    let cases = [
        (
            "second of two init containers running",
            pod(
                "init",
                "2024-05-01T09:59:00Z",
                spec.clone(),
                json!({
                    "phase": "Pending",
                    "initContainerStatuses": [
                        {"name": "migrate", "restartCount": 0, "state": done},
                        {"name": "seed", "restartCount": 0, "state": {"running": {}}},
                    ],
                    "containerStatuses": [{"name": "web", "restartCount": 0, "state": waiting}],
                }),
            ),
            json!([
                "init", "0/1", "Init:1/2", "0", "60s", "<none>", "w-1", "<none>", "<none>"
            ]),
        ),
        (
            "first init container failing",
            pod(
                "init-err",
                "2024-05-01T09:59:00Z",
                spec.clone(),
                json!({
                    "phase": "Pending",
                    "initContainerStatuses": [
                        {"name": "migrate", "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                         "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2024-05-01T09:59:50Z"}}},
                        {"name": "seed", "restartCount": 0, "state": waiting},
                    ],
                    "containerStatuses": [{"name": "web", "restartCount": 0, "state": waiting}],
                }),
            ),
            json!([
                "init-err",
                "0/1",
                "Init:CrashLoopBackOff",
                "2 (10s ago)",
                "60s",
                "<none>",
                "w-1",
                "<none>",
                "<none>"
            ]),
        ),
        (
            "init container exited non-zero",
            pod(
                "init-exit",
                "2024-05-01T09:59:00Z",
                spec.clone(),
                json!({
                    "phase": "Failed",
                    "initContainerStatuses": [{"name": "migrate", "restartCount": 0, "state": {"terminated": {"exitCode": 3}}}],
                }),
            ),
            json!([
                "init-exit",
                "0/1",
                "Init:ExitCode:3",
                "0",
                "60s",
                "<none>",
                "w-1",
                "<none>",
                "<none>"
            ]),
        ),
        (
            "a sidecar counts as a container",
            pod(
                "sidecar",
                "2024-05-01T09:00:00Z",
                json!({
                    "initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
                    "containers": [{"name": "web"}],
                }),
                json!({
                    "phase": "Running",
                    "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
                    "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 3,
                        "state": {"running": {}},
                        "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T09:20:00Z"}}}],
                    "containerStatuses": [{"name": "web", "ready": true, "restartCount": 0, "state": {"running": {}}}],
                }),
            ),
            json!([
                "sidecar",
                "2/2",
                "Running",
                "3 (40m ago)",
                "60m",
                "<none>",
                "<none>",
                "<none>",
                "<none>"
            ]),
        ),
    ];
    assert_rows("", "pods", &cases);
}
