//! Registering the Node and keeping its status fresh: create it (or, on a restart, update its
//! labels and status), then post the status every 10 seconds. Errors are logged and retried.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use tokio::sync::watch;

use crate::call::call;
use crate::error::Result;
use crate::host::HostFacts;
use crate::node::Registration;

/// How often the Node's status is posted (the kubelet's nodeStatusUpdateFrequency). The Lease
/// is the liveness signal; the status carries the heartbeat times people read.
pub const STATUS_INTERVAL: Duration = Duration::from_secs(10);
/// The first wait after a failure; it doubles up to [`STATUS_INTERVAL`].
const RETRY_FIRST: Duration = Duration::from_millis(500);

/// The registration loop's state: who the node is, and what was last posted.
pub(crate) struct Registrar {
    pub api: Api<Node>,
    pub registration: Registration,
    pub host: HostFacts,
    /// The Node's uid once it exists; `None` before registration and after the Node is deleted.
    pub node_uid: watch::Sender<Option<String>>,
    /// The conditions last posted, so unchanged ones keep their transition times.
    previous: Vec<NodeCondition>,
}

impl Registrar {
    pub fn new(
        api: Api<Node>,
        registration: Registration,
        host: HostFacts,
        node_uid: watch::Sender<Option<String>>,
    ) -> Self {
        Registrar {
            api,
            registration,
            host,
            node_uid,
            previous: Vec::new(),
        }
    }

    /// Registers, then heartbeats, until `stop`.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut retry = RETRY_FIRST;
        loop {
            let step = async {
                if self.node_uid.borrow().is_none() {
                    self.register().await
                } else {
                    self.heartbeat().await
                }
            };
            let outcome = tokio::select! {
                outcome = step => outcome,
                _ = stop.changed() => return,
            };
            let ok = outcome.is_ok();
            let wait = match outcome {
                Ok(()) => {
                    retry = RETRY_FIRST;
                    STATUS_INTERVAL
                }
                Err(e) => {
                    tracing::warn!(target: "kubelet", node = %self.registration.name, error = %e, "node status update failed; retrying");
                    let wait = retry;
                    retry = (retry * 2).min(STATUS_INTERVAL);
                    wait
                }
            };
            // A Node found deleted is registered again at once.
            if ok && self.node_uid.borrow().is_none() {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Creates the Node, or brings an existing one (a restart) up to date.
    async fn register(&mut self) -> Result<()> {
        let name = self.registration.name.clone();
        let fresh = self.registration.node(&self.host, Timestamp::now());
        let created = call(
            &format!("creating Node {name}"),
            self.api.create(&PostParams::default(), &fresh),
        )
        .await;
        let node = match created {
            Ok(node) if has_conditions(&node) => node,
            // A server that drops the status of a new object gets it through the subresource.
            Ok(node) => self.post_status(conditions_of(&node)).await?,
            Err(e) if e.code() == Some(409) => {
                let what = format!("updating the labels of Node {name}");
                let patch = Patch::Merge(self.registration.label_patch());
                let mut node = call(
                    &what,
                    self.api.patch(&name, &PatchParams::default(), &patch),
                )
                .await?;
                if let Some(patch) = self.registration.pod_cidr_patch(&node) {
                    let what = format!("setting the pod CIDR of Node {name}");
                    let patch = Patch::Merge(patch);
                    node = call(
                        &what,
                        self.api.patch(&name, &PatchParams::default(), &patch),
                    )
                    .await?;
                }
                let wanted = self.registration.pod_cidr.as_deref();
                let current = node.spec.as_ref().and_then(|s| s.pod_cidr.as_deref());
                if wanted.is_some() && current != wanted {
                    tracing::warn!(target: "kubelet", node = %name, ?current, ?wanted, "the Node has another pod CIDR; pods get addresses of the configured one");
                }
                self.post_status(conditions_of(&node)).await?
            }
            Err(e) => return Err(e),
        };
        let uid = node.metadata.uid.clone();
        tracing::info!(target: "kubelet", node = %name, uid = ?uid, "node registered");
        self.previous = conditions_of(&node);
        self.node_uid.send_replace(uid);
        Ok(())
    }

    /// Posts the status; a Node deleted meanwhile is forgotten, so the next step registers it.
    async fn heartbeat(&mut self) -> Result<()> {
        match self.post_status(self.previous.clone()).await {
            Ok(node) => {
                self.previous = conditions_of(&node);
                // Someone may have deleted and re-created the Node: owners must use the new uid.
                if node.metadata.uid.is_some() && *self.node_uid.borrow() != node.metadata.uid {
                    self.node_uid.send_replace(node.metadata.uid.clone());
                }
                Ok(())
            }
            Err(e) if e.code() == Some(404) => {
                tracing::warn!(target: "kubelet", node = %self.registration.name, "the Node was deleted; registering it again");
                self.previous.clear();
                self.node_uid.send_replace(None);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn post_status(&self, previous: Vec<NodeCondition>) -> Result<Node> {
        let name = &self.registration.name;
        let patch = Patch::Merge(self.registration.status_patch(
            &self.host,
            Timestamp::now(),
            &previous,
        ));
        call(
            &format!("updating the status of Node {name}"),
            self.api.patch_status(name, &PatchParams::default(), &patch),
        )
        .await
    }
}

fn conditions_of(node: &Node) -> Vec<NodeCondition> {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
}

fn has_conditions(node: &Node) -> bool {
    !conditions_of(node).is_empty()
}
