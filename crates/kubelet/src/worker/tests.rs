//! Tests of the worker's pure decisions: restart policies, grace periods, and the state a
//! restarted kubelet rebuilds from a pod's status.

use k8s_openapi::api::core::v1::ContainerStatus;
use serde_json::json;

use super::restore::previous_state;
use super::*;

#[test]
fn restart_policies() {
    // (policy, init container, exit code, runs again)
    let cases = [
        ("Always", false, 0, true),
        ("Always", false, 1, true),
        ("OnFailure", false, 0, false),
        ("OnFailure", false, 137, true),
        ("Never", false, 1, false),
        ("Always", true, 0, false),
        ("Always", true, 1, true),
        ("OnFailure", true, 2, true),
        ("Never", true, 1, false),
    ];
    for (policy, init, code, want) in cases {
        assert_eq!(
            restartable(policy, init, code),
            want,
            "{policy} init={init} {code}"
        );
    }
}

#[test]
fn grace_periods() {
    let pod = |value: serde_json::Value| -> Pod { serde_json::from_value(value).unwrap() };
    let cases = [
        (json!({"spec": {"containers": []}}), 30),
        (
            json!({"spec": {"containers": [], "terminationGracePeriodSeconds": 1}}),
            1,
        ),
        (
            json!({"metadata": {"deletionGracePeriodSeconds": 5},
                   "spec": {"containers": [], "terminationGracePeriodSeconds": 60}}),
            5,
        ),
        (
            json!({"metadata": {"deletionGracePeriodSeconds": -1}, "spec": {"containers": []}}),
            0,
        ),
    ];
    for (value, want) in cases {
        assert_eq!(
            grace_period(&pod(value.clone())),
            Duration::from_secs(want),
            "{value}"
        );
    }
}

#[test]
fn pod_refs() {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
    }))
    .unwrap();
    assert_eq!(pod_ref(&pod), "web_shop(u-1)");
}

#[test]
fn states_left_by_a_previous_kubelet() {
    let status = |state: serde_json::Value, last: serde_json::Value| -> ContainerStatus {
        serde_json::from_value(json!({
            "name": "c", "image": "hakube/agnhost", "imageID": "", "ready": false,
            "restartCount": 2, "containerID": "hakube://a",
            "state": state, "lastState": last,
        }))
        .unwrap()
    };
    let crashed = json!({"terminated": {"exitCode": 1, "reason": "Error",
        "finishedAt": "2025-06-15T15:06:40Z"}});
    // (state, last state, kind of state restored, exit code if terminated, last kept)
    let cases = [
        (
            json!({"running": {"startedAt": "2025-06-15T15:06:40Z"}}),
            json!({}),
            Some(("terminated", 255)),
            false,
        ),
        (crashed.clone(), json!({}), Some(("terminated", 1)), false),
        (
            json!({"waiting": {"reason": "CrashLoopBackOff"}}),
            crashed.clone(),
            Some(("waiting", 0)),
            true,
        ),
        (
            json!({"waiting": {"reason": "ContainerCreating"}}),
            json!({}),
            None,
            false,
        ),
    ];
    for (state, last, want, keeps_last) in cases {
        let got = previous_state(&status(state.clone(), last));
        match (got, want) {
            (None, None) => {}
            (Some((State::Terminated(t), l)), Some(("terminated", code))) => {
                assert_eq!(t.exit_code, code, "{state}");
                assert_eq!(l.is_some(), keeps_last);
                if code == 255 {
                    assert_eq!(t.reason, "Unknown");
                    assert_eq!(t.container_id.as_deref(), Some("hakube://a"));
                }
            }
            (Some((State::Waiting { reason, .. }, l)), Some(("waiting", _))) => {
                assert_eq!(reason, "CrashLoopBackOff");
                assert_eq!(l.is_some(), keeps_last);
            }
            (got, want) => panic!("{state}: got {got:?}, want {want:?}"),
        }
    }
}
