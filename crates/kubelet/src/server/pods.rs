//! The kubelet API's view of the pods it runs: finding a running container (for exec and attach)
//! or a pod's IP (for port-forward), static pods included, and serving a container's log.

use std::net::Ipv4Addr;

use bytes::Bytes;
use http::{Response, StatusCode};
use tokio::sync::mpsc;

use super::{Body, KubeletApi, stream_response, text};
use crate::logs::LogOptions;
use crate::mirror::{NAMESPACE, StaticPod};
use crate::pod_logs;
use crate::target::ContainerTarget;

impl KubeletApi {
    /// A running container of a pod this kubelet runs: the one named, or the pod's first. A
    /// static pod's container is its role, which runs in the node process itself: commands
    /// run with the node's IP as the pod's, as in a host-network pod.
    pub(crate) fn container_target(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
    ) -> Option<ContainerTarget> {
        if let Some(found) = self.static_pod(namespace, pod) {
            if container.is_some_and(|c| c != found.role) {
                return None;
            }
            return Some(ContainerTarget {
                pod_ip: self.node_ip,
                env: vec![
                    ("PATH".to_string(), crate::env::DEFAULT_PATH.to_string()),
                    ("HOSTNAME".to_string(), found.name.clone()),
                ],
                workdir: self.state_dir.clone(),
                hostname: found.name.clone(),
                pid: std::process::id(),
            });
        }
        self.registry.container_target(namespace, pod, container)
    }

    /// The IP of a pod this kubelet runs (the node's for a static pod).
    pub(super) fn pod_ip(&self, namespace: &str, pod: &str) -> Option<Ipv4Addr> {
        if self.static_pod(namespace, pod).is_some() {
            return Some(self.node_ip);
        }
        self.registry.find(namespace, pod).map(|r| r.pod_ip)
    }

    pub(super) fn static_pod(&self, namespace: &str, pod: &str) -> Option<&StaticPod> {
        self.pods
            .iter()
            .find(|p| namespace == NAMESPACE && p.name == pod)
    }

    /// Why a stream has no container to run in.
    pub(super) fn no_container(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Response<Body> {
        if self.static_pod(namespace, pod).is_none() && self.registry.find(namespace, pod).is_none()
        {
            return text(
                StatusCode::NOT_FOUND,
                &format!("pod \"{pod}\" does not exist\n"),
            );
        }
        text(
            StatusCode::NOT_FOUND,
            &format!("container not found (\"{container}\")\n"),
        )
    }

    /// The log of a container of a pod this kubelet runs (its previous instance's with
    /// `previous`), streamed from its log file.
    pub(super) fn pod_container_logs(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        query: &str,
    ) -> Response<Body> {
        let Some(record) = self.registry.find(namespace, pod) else {
            return text(
                StatusCode::NOT_FOUND,
                &format!("pod \"{pod}\" does not exist\n"),
            );
        };
        let Some(found) = record.containers.iter().find(|c| c.name == container) else {
            return text(
                StatusCode::NOT_FOUND,
                &format!("container \"{container}\" not found in pod \"{pod}\"\n"),
            );
        };
        let options = match LogOptions::from_query(query) {
            Ok(options) => options,
            Err(message) => return text(StatusCode::BAD_REQUEST, &message),
        };
        let file = if options.previous {
            match &found.previous_log {
                Some(file) => file.clone(),
                None => {
                    return text(
                        StatusCode::BAD_REQUEST,
                        &format!(
                            "previous terminated container \"{container}\" in pod \"{pod}\" not found"
                        ),
                    );
                }
            }
        } else {
            match (&found.log, &found.waiting) {
                (Some(file), _) => file.clone(),
                (None, waiting) => {
                    let why = waiting.as_deref().unwrap_or("ContainerCreating");
                    return text(
                        StatusCode::BAD_REQUEST,
                        &format!(
                            "container \"{container}\" in pod \"{pod}\" is waiting to start: {why}"
                        ),
                    );
                }
            }
        };
        let (tx, rx) = mpsc::channel::<Bytes>(8);
        tokio::spawn(pod_logs::pump(file.path, options, file.done, tx));
        stream_response(rx)
    }
}
