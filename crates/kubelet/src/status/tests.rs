//! Tests of pod status computation: phases by restart policy, conditions, container statuses.

use serde_json::json;

use super::*;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_750_000_000 + seconds).unwrap()
}

fn pod(policy: &str, status: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "default", "uid": "u"},
        "spec": {"restartPolicy": policy, "containers": []},
        "status": status,
    }))
    .unwrap()
}

fn terminated(exit_code: i32) -> Terminated {
    Terminated {
        exit_code,
        reason: if exit_code == 0 { "Completed" } else { "Error" }.to_string(),
        message: None,
        started_at: Some(at(1)),
        finished_at: at(2),
        container_id: Some("hakube://old".to_string()),
    }
}

/// A container in a state written short: `run`, `wait`, `crash` (waiting after a failure),
/// `ok` (exited 0), `fail` (exited 1).
fn c(name: &str, state: &str) -> ContainerView {
    let (state, last, ready) = match state {
        "run" => (
            State::Running {
                started_at: at(3),
                container_id: "hakube://new".to_string(),
            },
            None,
            true,
        ),
        "unready" => (
            State::Running {
                started_at: at(3),
                container_id: "hakube://new".to_string(),
            },
            None,
            false,
        ),
        "wait" => (State::waiting("ContainerCreating", None), None, false),
        "crash" => (
            State::waiting("CrashLoopBackOff", Some("back-off 10s".into())),
            Some(terminated(1)),
            false,
        ),
        "ok" => (State::Terminated(terminated(0)), None, false),
        "fail" => (State::Terminated(terminated(1)), None, false),
        other => panic!("{other}"),
    };
    ContainerView {
        name: name.to_string(),
        image: "hakube/agnhost".to_string(),
        image_id: "hakube/agnhost@sha256:0".to_string(),
        state,
        last,
        restart_count: 0,
        ready,
        started: ready,
    }
}

fn view<'a>(
    pod: &'a Pod,
    init: &'a [ContainerView],
    containers: &'a [ContainerView],
    terminal: bool,
) -> PodView<'a> {
    PodView {
        pod,
        pod_ip: Some(Ipv4Addr::new(127, 49, 129, 2)),
        host_ip: Ipv4Addr::new(127, 0, 49, 2),
        start_time: at(0),
        init,
        containers,
        sandbox_ready: !terminal,
        terminal,
        reason: None,
        previous: None,
        now: at(10),
    }
}

#[test]
fn phases() {
    /// (restart policy, init containers, containers, terminal, phase)
    type Case = (
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
        bool,
        &'static str,
    );
    let cases: [Case; 19] = [
        ("Always", &[], &["wait"], false, "Pending"),
        ("Always", &[], &["run", "wait"], false, "Pending"),
        ("Always", &[], &["run", "run"], false, "Running"),
        ("Always", &[], &["run", "crash"], false, "Running"),
        ("Always", &[], &["crash"], false, "Running"),
        ("Always", &[], &["ok"], false, "Running"),
        ("OnFailure", &[], &["ok", "ok"], false, "Succeeded"),
        ("OnFailure", &[], &["ok", "crash"], false, "Running"),
        ("OnFailure", &[], &["ok", "run"], false, "Running"),
        ("Never", &[], &["ok", "fail"], false, "Failed"),
        ("Never", &[], &["ok"], false, "Succeeded"),
        ("Never", &[], &["run", "fail"], false, "Running"),
        ("Always", &["run"], &["wait"], false, "Pending"),
        ("Always", &["ok", "crash"], &["wait"], false, "Pending"),
        ("Never", &["fail"], &["wait"], false, "Failed"),
        ("Always", &["ok"], &["run"], false, "Running"),
        // Torn down on purpose: by exit codes.
        ("Always", &[], &["fail", "ok"], true, "Failed"),
        ("Always", &[], &["ok"], true, "Succeeded"),
        ("Always", &["ok"], &["wait"], true, "Failed"),
    ];
    for (policy, init, containers, terminal, want) in cases {
        let pod = pod(policy, json!({}));
        let init: Vec<_> = init
            .iter()
            .enumerate()
            .map(|(i, s)| c(&format!("i{i}"), s))
            .collect();
        let containers: Vec<_> = containers
            .iter()
            .enumerate()
            .map(|(i, s)| c(&format!("c{i}"), s))
            .collect();
        assert_eq!(
            phase(&view(&pod, &init, &containers, terminal)),
            want,
            "{policy} {init:?} {containers:?}"
        );
    }
}

fn condition(status: &PodStatus, type_: &str) -> (String, Option<String>, Option<String>) {
    let c = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_}"));
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

#[test]
fn conditions() {
    let t = |s: &str| s.to_string();
    let pod = pod("Always", json!({}));
    let init = [c("setup", "run")];
    let containers = [c("web", "wait"), c("side", "wait")];
    let status = pod_status(&view(&pod, &init, &containers, false));
    assert_eq!(condition(&status, "PodReadyToStartContainers").0, "True");
    assert_eq!(
        condition(&status, "Initialized"),
        (
            t("False"),
            Some(t("ContainersNotInitialized")),
            Some(t("containers with incomplete status: [setup]"))
        )
    );
    assert_eq!(
        condition(&status, "Ready"),
        (
            t("False"),
            Some(t("ContainersNotReady")),
            Some(t("containers with unready status: [web side]"))
        )
    );
    assert_eq!(condition(&status, "PodScheduled").0, "True");
    let types: Vec<&str> = status
        .conditions
        .iter()
        .flatten()
        .map(|c| c.type_.as_str())
        .collect();
    assert_eq!(types, OWN_CONDITIONS);

    let containers = [c("web", "run")];
    let status = pod_status(&view(&pod, &[], &containers, false));
    assert_eq!(condition(&status, "Ready"), (t("True"), None, None));
    assert_eq!(
        condition(&status, "ContainersReady"),
        (t("True"), None, None)
    );

    let containers = [c("job", "ok")];
    let pod = self::pod("Never", json!({}));
    let status = pod_status(&view(&pod, &[], &containers, false));
    assert_eq!(status.phase.as_deref(), Some("Succeeded"));
    assert_eq!(
        condition(&status, "Ready"),
        (t("False"), Some(t("PodCompleted")), None)
    );
    assert_eq!(
        condition(&status, "Initialized"),
        (t("True"), Some(t("PodCompleted")), None)
    );
}

#[test]
fn transition_times_and_foreign_conditions_are_kept() {
    let pod = pod(
        "Always",
        json!({"qosClass": "BestEffort", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2025-06-15T15:06:41Z"},
            {"type": "Initialized", "status": "False", "lastTransitionTime": "2025-06-15T15:06:41Z"},
            {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"},
        ]}),
    );
    let containers = [c("web", "run")];
    let status = pod_status(&view(&pod, &[], &containers, false));
    let time = |type_: &str| {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == type_)
            .unwrap()
            .last_transition_time
            .clone()
    };
    assert_eq!(time("Ready"), Some(Time(at(1))), "unchanged: kept");
    assert_eq!(time("Initialized"), Some(Time(at(10))), "changed: now");
    assert_eq!(status.conditions.as_ref().unwrap().len(), 6);
    assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));
}

#[test]
fn readiness_gates_hold_ready_back() {
    let mut pod = pod(
        "Always",
        json!({"conditions": [{"type": "example.com/lb", "status": "False"}]}),
    );
    pod.spec.as_mut().unwrap().readiness_gates = Some(vec![
        serde_json::from_value(json!({"conditionType": "example.com/lb"})).unwrap(),
        serde_json::from_value(json!({"conditionType": "example.com/dns"})).unwrap(),
    ]);
    let containers = [c("web", "run")];
    let status = pod_status(&view(&pod, &[], &containers, false));
    let (ready, reason, message) = condition(&status, "Ready");
    assert_eq!(
        (ready.as_str(), reason.as_deref()),
        ("False", Some("ReadinessGatesNotReady"))
    );
    assert_eq!(
        message.unwrap(),
        "the status of pod readiness gate \"example.com/lb\" is not \"True\", but False, \
         corresponding condition of pod readiness gate \"example.com/dns\" does not exist."
    );
    assert_eq!(condition(&status, "ContainersReady").0, "True");
}

#[test]
fn container_statuses() {
    let pod = pod("Always", json!({}));
    let mut crashing = c("web", "crash");
    crashing.restart_count = 2;
    let containers = [crashing];
    let status = pod_status(&view(&pod, &[], &containers, false));
    let got = serde_json::to_value(&status.container_statuses.unwrap()[0]).unwrap();
    assert_eq!(
        got,
        json!({
            "name": "web",
            "image": "hakube/agnhost",
            "imageID": "hakube/agnhost@sha256:0",
            "containerID": "hakube://old",
            "ready": false,
            "started": false,
            "restartCount": 2,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}},
            "lastState": {"terminated": {
                "exitCode": 1, "reason": "Error", "containerID": "hakube://old",
                "startedAt": "2025-06-15T15:06:41Z", "finishedAt": "2025-06-15T15:06:42Z",
            }},
        })
    );
    assert_eq!(status.pod_ip.as_deref(), Some("127.49.129.2"));
    assert_eq!(status.host_ip.as_deref(), Some("127.0.49.2"));
    assert!(status.init_container_statuses.is_none());
}
