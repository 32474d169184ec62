//! Publishing a pod worker's state: the pod's status (to the status writer) and its record
//! for the kubelet API.

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

use super::Worker;
use crate::env;
use crate::registry::{ContainerRecord, PodRecord, Running};
use crate::status::{self, ContainerView, PodView, State};

impl Worker {
    /// The pod's status now, written off the worker's path, and its record for the kubelet API.
    pub(super) fn publish(&mut self) {
        let views_init: Vec<ContainerView> = self.init.iter().map(|s| s.view.clone()).collect();
        let views: Vec<ContainerView> = self.main.iter().map(|s| s.view.clone()).collect();
        let mut view = PodView {
            pod: &self.pod,
            pod_ip: Some(self.ip),
            host_ip: self.ctx.node_ip,
            start_time: self.start_time,
            init: &views_init,
            containers: &views,
            sandbox_ready: !self.terminal,
            terminal: self.terminal,
            reason: self.reason.clone(),
            previous: self.conditions.as_deref(),
            now: Timestamp::now(),
        };
        let finished = matches!(status::phase(&view), "Succeeded" | "Failed");
        view.sandbox_ready &= !finished;
        let status = status::pod_status(&view);
        self.conditions = status.conditions.clone();
        if finished && !self.ip_released {
            // A finished pod keeps its IP in its status, but the node may give it out again.
            self.ip_released = true;
            self.ctx.release_ip(&self.uid);
        }
        let mut pod = self.pod.clone();
        pod.status = Some(status.clone());
        self.ctx.registry.set(&self.uid, self.record_of(pod));
        if let Some(writer) = &self.writer {
            writer.publish(status);
        }
    }

    fn record_of(&self, pod: Pod) -> PodRecord {
        let containers = self
            .init
            .iter()
            .chain(&self.main)
            .map(|slot| ContainerRecord {
                name: slot.spec.name.clone(),
                running: slot.instance.as_ref().map(|i| Running {
                    pid: i.process.pid,
                    env: i.env.clone(),
                    workdir: i.workdir.clone(),
                }),
                log: slot.log.clone(),
                previous_log: slot.previous_log.clone(),
                waiting: match &slot.view.state {
                    State::Waiting { reason, .. } => Some(reason.clone()),
                    _ => None,
                },
            })
            .collect();
        PodRecord {
            hostname: env::hostname(&pod),
            pod: Arc::new(pod),
            pod_ip: self.ip,
            containers,
        }
    }
}
