//! Pods run as real processes (`hakube/host` running `sh`) against the stand-in API server: the
//! status a watch sees, the environment, logs and events, restarts, init containers, readiness
//! probes, images that are not available, graceful deletion, and a kubelet restart.

use std::path::Path;

use serde_json::{Value, json};

use crate::fake_api::FakeApi;
use crate::{config, eventually, write_certificates};

const PODS: &str = "/api/v1/namespaces/default/pods";

/// Creates a pod bound to n1, as the scheduler leaves it.
fn create_pod(api: &FakeApi, name: &str, mut spec: Value) -> Value {
    spec["nodeName"] = json!("n1");
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    });
    pod["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
    api.create(&format!("{PODS}/{name}"), pod)
}

/// A container of the host image running a shell script.
fn sh(name: &str, script: &str) -> Value {
    json!({"name": name, "image": "hakube/host", "command": ["sh", "-c", script]})
}

fn pod(api: &FakeApi, name: &str) -> Option<Value> {
    api.get(&format!("{PODS}/{name}"))
}

fn condition(pod: &Value, type_: &str) -> String {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .map(|c| c["status"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

fn log_of(state_dir: &Path, pod: &Value, container: &str, instance: u32) -> String {
    let dir = format!(
        "default_{}_{}",
        pod["metadata"]["name"].as_str().unwrap(),
        pod["metadata"]["uid"].as_str().unwrap()
    );
    let path = state_dir
        .join(dir)
        .join("logs")
        .join(container)
        .join(format!("{instance}.log"));
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Whether some process's command line holds `token`.
fn process_with(token: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(token))
    })
}

#[tokio::test]
async fn runs_a_pod_and_deletes_it_gracefully() {
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_certificates(dir.path());
    api.create(
        "/api/v1/namespaces/default/services/kubernetes",
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "kubernetes", "namespace": "default"},
               "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443}]}}),
    );
    let kubelet = kubelet::start(config(&api, dir.path(), false, "hakube/etcd:0.1.0"))
        .await
        .unwrap();
    let mut app = sh(
        "app",
        "echo hello from $HOSTNAME at $POD_IP via $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT on $MY_NODE; \
         exec sleep 60",
    );
    app["env"] =
        json!([{"name": "MY_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]);
    create_pod(
        &api,
        "web",
        json!({"containers": [app], "terminationGracePeriodSeconds": 5}),
    );

    let running = eventually("web running and ready", || {
        pod(&api, "web")
            .filter(|p| p["status"]["phase"] == "Running" && condition(p, "Ready") == "True")
    })
    .await;
    let status = &running["status"];
    assert_eq!(status["podIP"], "10.244.7.2");
    assert_eq!(status["podIPs"], json!([{"ip": "10.244.7.2"}]));
    assert_eq!(status["hostIP"], "127.0.0.1");
    assert!(status["startTime"].is_string());
    let container = &status["containerStatuses"][0];
    assert_eq!(container["ready"], true);
    assert_eq!(container["started"], true);
    assert_eq!(container["restartCount"], 0);
    assert!(container["state"]["running"]["startedAt"].is_string());
    assert!(
        container["containerID"]
            .as_str()
            .unwrap()
            .starts_with("hakube://")
    );
    assert!(
        container["imageID"]
            .as_str()
            .unwrap()
            .starts_with("hakube/host@sha256:")
    );
    for type_ in [
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "PodScheduled",
    ] {
        assert_eq!(condition(&running, type_), "True", "{type_}");
    }

    let state_dir = dir.path().join("pods");
    let log = eventually("the container's output", || {
        Some(log_of(&state_dir, &running, "app", 0)).filter(|l| !l.is_empty())
    })
    .await;
    assert!(
        log.ends_with(" hello from web at 10.244.7.2 via 10.96.0.1:443 on n1\n"),
        "{log}"
    );
    let reasons = eventually("the container's events", || {
        let events = api.list("/api/v1/namespaces/default/events/");
        let reasons: Vec<String> = events
            .iter()
            .filter(|e| e["source"]["host"] == "n1" && e["involvedObject"]["name"] == "web")
            .map(|e| e["reason"].as_str().unwrap().to_string())
            .collect();
        (reasons.len() >= 3).then_some(reasons)
    })
    .await;
    for reason in ["Pulled", "Created", "Started"] {
        assert!(reasons.iter().any(|r| r == reason), "{reasons:?}");
    }
    assert_eq!(kubelet.pod_count(), 1);

    // kubectl delete: the process gets SIGTERM, and the kubelet deletes the pod for good.
    let started = std::time::Instant::now();
    api.delete_gracefully(&format!("{PODS}/web"), 5);
    eventually("web gone", || pod(&api, "web").is_none().then_some(())).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "stopped by SIGTERM"
    );
    let records = std::fs::read_dir(state_dir.join("pids")).unwrap().count();
    assert_eq!(records, 0, "no process left");
    kubelet.shutdown(false).await;
}

#[tokio::test]
async fn restarts_init_containers_probes_and_missing_images() {
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_certificates(dir.path());
    let kubelet = kubelet::start(config(&api, dir.path(), false, "hakube/etcd:0.1.0"))
        .await
        .unwrap();
    // Fails once, then succeeds: OnFailure restarts it at once (the first restart has no back-off).
    create_pod(
        &api,
        "job",
        json!({"restartPolicy": "OnFailure", "containers": [sh(
            "work",
            "if [ -f marker ]; then echo second; exit 0; fi; touch marker; echo first; exit 1",
        )]}),
    );
    let mut app = sh("app", "sleep 1; touch ready; exec sleep 60");
    app["readinessProbe"] =
        json!({"exec": {"command": ["test", "-f", "ready"]}, "periodSeconds": 1});
    create_pod(
        &api,
        "init",
        json!({"initContainers": [sh("setup", "echo set up")], "containers": [app]}),
    );
    create_pod(
        &api,
        "nginx",
        json!({"containers": [{"name": "web", "image": "nginx:1.27"}]}),
    );
    create_pod(
        &api,
        "never",
        json!({"restartPolicy": "Never", "containers": [sh("once", "exit 3")]}),
    );
    // Never alive: killed at each liveness failure, restarted at once, then backed off.
    let mut sick = sh("sick", "exec sleep 60");
    sick["livenessProbe"] =
        json!({"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 1});
    create_pod(
        &api,
        "sick",
        json!({"containers": [sick], "terminationGracePeriodSeconds": 1}),
    );

    let job = eventually("job succeeded", || {
        pod(&api, "job").filter(|p| p["status"]["phase"] == "Succeeded")
    })
    .await;
    let work = &job["status"]["containerStatuses"][0];
    assert_eq!(work["restartCount"], 1);
    assert_eq!(work["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(work["state"]["terminated"]["reason"], "Completed");
    assert_eq!(condition(&job, "Ready"), "False");
    let state_dir = dir.path().join("pods");
    assert!(log_of(&state_dir, &job, "work", 0).ends_with(" first\n"));
    assert!(log_of(&state_dir, &job, "work", 1).ends_with(" second\n"));

    let failed = eventually("never failed", || {
        pod(&api, "never").filter(|p| p["status"]["phase"] == "Failed")
    })
    .await;
    assert_eq!(
        failed["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        3
    );
    assert_eq!(
        failed["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
        "Error"
    );

    let unready = eventually("init's app running", || {
        pod(&api, "init").filter(|p| p["status"]["phase"] == "Running")
    })
    .await;
    assert_eq!(
        unready["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"],
        "Completed"
    );
    assert_eq!(condition(&unready, "Initialized"), "True");
    eventually("init's app ready", || {
        pod(&api, "init").filter(|p| condition(p, "Ready") == "True")
    })
    .await;

    let pulling = eventually("nginx in ImagePullBackOff", || {
        pod(&api, "nginx").filter(|p| {
            p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff"
        })
    })
    .await;
    let message = pulling["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with("Back-off pulling image \"nginx:1.27\": ErrImagePull: "),
        "{message}"
    );
    assert!(
        message.contains("runs only the built-in images"),
        "{message}"
    );
    assert_eq!(pulling["status"]["phase"], "Pending");
    let events = api.list("/api/v1/namespaces/default/events/");
    let nginx: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["involvedObject"]["name"] == "nginx")
        .map(|e| {
            (
                e["reason"].as_str().unwrap(),
                e["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        nginx.contains(&("Pulling", "Pulling image \"nginx:1.27\"")),
        "{nginx:?}"
    );
    assert!(
        nginx.contains(&("Failed", "Error: ErrImagePull")),
        "{nginx:?}"
    );

    let backing_off = eventually("sick in CrashLoopBackOff", || {
        pod(&api, "sick").filter(|p| {
            p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        })
    })
    .await;
    let sick = &backing_off["status"]["containerStatuses"][0];
    assert_eq!(sick["restartCount"], 1);
    assert_eq!(sick["lastState"]["terminated"]["exitCode"], 143);
    let message = sick["state"]["waiting"]["message"].as_str().unwrap();
    let uid = backing_off["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        message,
        format!("back-off 10s restarting failed container=sick pod=sick_default({uid})")
    );
    assert_eq!(backing_off["status"]["phase"], "Running");
    let events = api.list("/api/v1/namespaces/default/events/");
    let sick: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["involvedObject"]["name"] == "sick")
        .map(|e| {
            (
                e["reason"].as_str().unwrap(),
                e["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        sick.contains(&(
            "Killing",
            "Container sick failed liveness probe, will be restarted"
        )),
        "{sick:?}"
    );
    assert!(
        sick.contains(&("Unhealthy", "Liveness probe failed: ")),
        "{sick:?}"
    );
    kubelet.shutdown(false).await;
}

#[tokio::test]
async fn a_restarted_kubelet_runs_its_pods_again() {
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_certificates(dir.path());
    let token = format!("hakube-it-{}", std::process::id());
    let kubelet = kubelet::start(config(&api, dir.path(), false, "hakube/etcd:0.1.0"))
        .await
        .unwrap();
    let mut keep = sh("keep", "while true; do sleep 0.2; done");
    keep["command"] = json!(["sh", "-c", "while true; do sleep 0.2; done", token]);
    create_pod(&api, "keep", json!({"containers": [keep]}));
    let first = eventually("keep running", || {
        pod(&api, "keep").filter(|p| p["status"]["phase"] == "Running")
    })
    .await;
    assert!(process_with(&token));

    kubelet.shutdown(false).await;
    assert!(
        !process_with(&token),
        "the container stopped with the kubelet"
    );
    assert!(pod(&api, "keep").is_some(), "the pod stays");

    let kubelet = kubelet::start(config(&api, dir.path(), false, "hakube/etcd:0.1.0"))
        .await
        .unwrap();
    let again = eventually("keep running again", || {
        pod(&api, "keep").filter(|p| p["status"]["containerStatuses"][0]["restartCount"] == 1)
    })
    .await;
    let container = &again["status"]["containerStatuses"][0];
    assert!(container["state"]["running"].is_object(), "{container}");
    assert_eq!(container["lastState"]["terminated"]["reason"], "Unknown");
    assert_eq!(again["status"]["podIP"], first["status"]["podIP"]);
    assert_eq!(again["status"]["startTime"], first["status"]["startTime"]);
    assert!(process_with(&token));
    kubelet.shutdown(false).await;
    assert!(!process_with(&token));
}
