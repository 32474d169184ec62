//! Tests of the kubelet API for the pods the kubelet runs: `/pods`, `/configz`, container logs
//! (current and previous instance, with and without times) and finding a running container.

use std::path::PathBuf;

use http_body_util::BodyExt;
use serde_json::json;

use k8s_openapi::api::core::v1::Pod;

use super::*;
use crate::registry::{ContainerRecord, LogFile, PodRecord, Running};
use crate::target::ContainerTarget;

fn api(dir: &std::path::Path) -> Arc<KubeletApi> {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let current = write(
        "1.log",
        "2025-06-15T15:06:41.000000000Z one\n2025-06-15T15:06:42.000000000Z two\n",
    );
    let previous = write("0.log", "2025-06-15T15:06:40.000000000Z before\n");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
        "spec": {"containers": [{"name": "app"}, {"name": "side"}]},
        "status": {"phase": "Running"},
    }))
    .unwrap();
    let registry = Arc::new(PodRegistry::default());
    registry.set(
        "u1",
        PodRecord {
            pod: Arc::new(pod),
            pod_ip: Ipv4Addr::new(10, 244, 7, 2),
            hostname: "web".into(),
            containers: vec![
                ContainerRecord {
                    name: "app".into(),
                    running: Some(Running {
                        pid: 4242,
                        env: Arc::new(vec![("POD_IP".into(), "10.244.7.2".into())]),
                        workdir: PathBuf::from("/work/app"),
                    }),
                    log: Some(LogFile::finished(current)),
                    previous_log: Some(LogFile::finished(previous)),
                    waiting: None,
                },
                ContainerRecord {
                    name: "side".into(),
                    running: None,
                    log: None,
                    previous_log: None,
                    waiting: Some("ErrImagePull".into()),
                },
            ],
        },
    );
    Arc::new(KubeletApi {
        node_ip: Ipv4Addr::LOCALHOST,
        pods: Arc::from(Vec::new()),
        run: Run::new("n1", jiff::Timestamp::UNIX_EPOCH, 1),
        registry,
        configz: json!({"kubeletconfig": {"healthzPort": 10248}}),
        state_dir: std::env::temp_dir(),
    })
}

#[tokio::test]
async fn container_logs_of_pods() {
    let dir = tempfile::tempdir().unwrap();
    let api = api(dir.path());
    let cases = [
        (
            "/containerLogs/default/web/app",
            StatusCode::OK,
            "one\ntwo\n",
        ),
        (
            "/containerLogs/default/web/app?timestamps=true&tailLines=1",
            StatusCode::OK,
            "2025-06-15T15:06:42.000000000Z two\n",
        ),
        (
            "/containerLogs/default/web/app?sinceTime=2025-06-15T15%3A06%3A42Z",
            StatusCode::OK,
            "two\n",
        ),
        (
            "/containerLogs/default/web/app?previous=true",
            StatusCode::OK,
            "before\n",
        ),
        (
            "/containerLogs/default/web/side",
            StatusCode::BAD_REQUEST,
            "container \"side\" in pod \"web\" is waiting to start: ErrImagePull",
        ),
        (
            "/containerLogs/default/web/side?previous=1",
            StatusCode::BAD_REQUEST,
            "previous terminated container \"side\" in pod \"web\" not found",
        ),
        (
            "/containerLogs/default/web/nope",
            StatusCode::NOT_FOUND,
            "container \"nope\" not found in pod \"web\"\n",
        ),
        (
            "/containerLogs/default/gone/app",
            StatusCode::NOT_FOUND,
            "pod \"gone\" does not exist\n",
        ),
        (
            "/configz",
            StatusCode::OK,
            "{\"kubeletconfig\":{\"healthzPort\":10248}}",
        ),
    ];
    for (path, status, body) in cases {
        let response = api
            .clone()
            .handle(Request::get(path).body(()).unwrap())
            .await;
        assert_eq!(response.status(), status, "{path}");
        let got = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(std::str::from_utf8(&got).unwrap(), body, "{path}");
    }
}

#[tokio::test]
async fn pods_and_targets() {
    let dir = tempfile::tempdir().unwrap();
    let api = api(dir.path());
    let response = api
        .clone()
        .handle(Request::get("/pods").body(()).unwrap())
        .await;
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(list["items"][0]["metadata"]["name"], "web");
    assert_eq!(list["items"][0]["status"]["phase"], "Running");

    let target = api.container_target("default", "web", None).unwrap();
    assert_eq!(
        target,
        ContainerTarget {
            pod_ip: Ipv4Addr::new(10, 244, 7, 2),
            env: vec![("POD_IP".into(), "10.244.7.2".into())],
            workdir: PathBuf::from("/work/app"),
            hostname: "web".into(),
            pid: 4242,
        }
    );
    assert_eq!(
        api.container_target("default", "web", Some("app")),
        Some(target)
    );
    assert_eq!(
        api.container_target("default", "web", Some("side")),
        None,
        "not running"
    );
    assert_eq!(api.container_target("default", "gone", None), None);
}
