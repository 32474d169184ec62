//! Starting a container: its image (or ErrImagePull and its back-off), its environment (or
//! CreateContainerConfigError), its program, directories and log file, then the process, the
//! events a kubelet records on the way, and its probes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::{Instance, RuntimeEvent, SlotId, Worker, pod_ref, restart_policy};
use crate::env;
use crate::events::EventType;
use crate::image::{self, ImageError};
use crate::node::hex;
use crate::process::{self, Launch};
use crate::registry::LogFile;
use crate::status::{State, Terminated};

/// After a failed pull, how soon the container shows ImagePullBackOff.
const PULL_RESYNC: Duration = Duration::from_secs(1);
/// How soon a container whose configuration failed (a missing Secret...) is tried again.
const CONFIG_RETRY: Duration = Duration::from_secs(5);

impl Worker {
    /// Tries to start a container instance.
    pub(super) async fn start(&mut self, id: SlotId, now: Instant) {
        let spec = self.slot(id).spec.clone();
        let image_name = spec.image.clone().unwrap_or_default();
        if image::builtin(&image_name).is_none() {
            let error = ImageError::NotAvailable {
                image: image_name.clone(),
            };
            self.pull_failed(id, now, &image_name, &error.to_string());
            return;
        }
        {
            let slot = self.slot(id);
            slot.pull_backoff = Default::default();
            slot.view.image_id = image::image_id(&image_name);
        }
        let env = match self.environment(id).await {
            Ok(env) => Arc::new(env),
            Err(message) => {
                self.start_failed(id, now, "CreateContainerConfigError", message);
                return;
            }
        };
        let lookup = |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let expand = |items: &Option<Vec<String>>| -> Vec<String> {
            items
                .iter()
                .flatten()
                .map(|s| env::expand(s, lookup))
                .collect()
        };
        let argv = image::argv(
            &image_name,
            &expand(&spec.command),
            &expand(&spec.args),
            &self.ctx.runtime_exe,
        );
        let argv = match argv {
            Ok(argv) => argv,
            Err(error @ ImageError::NotInImage { .. }) => {
                self.ended_at_start(id, error.to_string());
                return;
            }
            Err(error) => {
                self.start_failed(id, now, error.reason(), error.to_string());
                return;
            }
        };
        let restart_count = {
            let slot = self.slot(id);
            slot.view.restart_count + i32::from(slot.ran)
        };
        let own_dir = self.dir.join("containers").join(&spec.name);
        let logs_dir = self.dir.join("logs").join(&spec.name);
        for dir in [&own_dir, &logs_dir] {
            if let Err(e) = tokio::fs::create_dir_all(dir).await {
                let message = format!("creating {}: {e}", dir.display());
                self.start_failed(id, now, "CreateContainerError", message);
                return;
            }
        }
        let workdir = spec
            .working_dir
            .as_ref()
            .filter(|w| !w.is_empty())
            .map_or_else(|| own_dir.clone(), Into::into);
        let log_path = logs_dir.join(format!("{restart_count}.log"));
        forget_old_logs(&logs_dir, restart_count).await;
        let events = self.events_tx.clone();
        let instance = self.next_instance;
        self.next_instance += 1;
        let launched = process::launch(
            Launch {
                argv,
                env: env.clone(),
                workdir: workdir.clone(),
                log_path: log_path.clone(),
            },
            self.ctx.pids.clone(),
            move |exit| {
                let _ = events.send(RuntimeEvent::Exited {
                    slot: id,
                    instance,
                    exit,
                });
            },
        )
        .await;
        let process = match launched {
            Ok(process) => process,
            Err(message) => {
                self.ended_at_start(id, message);
                return;
            }
        };
        tracing::info!(target: "kubelet", pod = %format!("{}/{}", self.namespace, self.name), container = %spec.name, pid = process.pid, restart_count, "container started");
        let container_id = self.container_id(&spec.name, restart_count);
        let slot = self.slot(id);
        if slot.ran {
            slot.view.restart_count += 1;
            slot.backoff.next(now);
        }
        slot.ran = true;
        slot.retry_at = None;
        if let State::Terminated(ended) = &slot.view.state {
            slot.view.last = Some(ended.clone());
        }
        slot.view.state = State::Running {
            started_at: process.started_at,
            container_id,
        };
        slot.view.started = spec.startup_probe.is_none();
        slot.view.ready = slot.view.started && spec.readiness_probe.is_none();
        slot.previous_log =
            std::mem::take(&mut slot.log).or_else(|| previous_log(&logs_dir, restart_count));
        slot.log = Some(LogFile {
            path: log_path,
            done: process.log_done.clone(),
        });
        slot.instance = Some(Instance {
            id: instance,
            process,
            env,
            workdir,
            probes: Vec::new(),
            trackers: Vec::new(),
            stopping: false,
        });
        let present = format!("Container image {image_name:?} already present on machine");
        let (created, started) = (
            format!("Created container: {}", spec.name),
            format!("Started container {}", spec.name),
        );
        self.record_for(id, EventType::Normal, "Pulled", present);
        self.record_for(id, EventType::Normal, "Created", created);
        self.record_for(id, EventType::Normal, "Started", started);
        self.start_probes(id, true);
    }

    pub(super) fn record_for(
        &mut self,
        id: SlotId,
        type_: EventType,
        reason: &str,
        message: String,
    ) {
        let slot = self.slot(id);
        let field_path = slot.field_path.clone();
        let object = crate::events::reference(&self.pod, Some(&field_path));
        self.ctx.recorder.record(object, type_, reason, message);
    }

    /// The image is not available: ErrImagePull, then ImagePullBackOff until the back-off
    /// allows the next attempt.
    fn pull_failed(&mut self, id: SlotId, now: Instant, image_name: &str, error: &str) {
        let never = self.slot(id).spec.image_pull_policy.as_deref() == Some("Never");
        let slot = self.slot(id);
        slot.view.image_id = String::new();
        if never {
            let message =
                format!("Container image {image_name:?} is not present with pull policy of Never");
            slot.view.state = State::waiting("ErrImageNeverPull", Some(message.clone()));
            slot.pull_backoff.next(now);
            slot.retry_at = slot.pull_backoff.wait_since_raised(now).map(|(_, at)| at);
            self.record_for(id, EventType::Warning, "ErrImageNeverPull", message);
            return;
        }
        match slot.pull_backoff.wait_since_raised(now) {
            Some((_, until)) => {
                slot.view.state = State::waiting(
                    "ImagePullBackOff",
                    Some(format!(
                        "Back-off pulling image {image_name:?}: ErrImagePull: {error}"
                    )),
                );
                slot.retry_at = Some(until);
                let backoff = format!("Back-off pulling image {image_name:?}");
                self.record_for(id, EventType::Normal, "BackOff", backoff);
                self.record_for(
                    id,
                    EventType::Warning,
                    "Failed",
                    "Error: ImagePullBackOff".into(),
                );
            }
            None => {
                slot.view.state = State::waiting("ErrImagePull", Some(error.to_string()));
                slot.pull_backoff.next(now);
                slot.retry_at = Some(now + PULL_RESYNC);
                self.record_for(
                    id,
                    EventType::Normal,
                    "Pulling",
                    format!("Pulling image {image_name:?}"),
                );
                let failed = format!("Failed to pull image {image_name:?}: {error}");
                self.record_for(id, EventType::Warning, "Failed", failed);
                self.record_for(
                    id,
                    EventType::Warning,
                    "Failed",
                    "Error: ErrImagePull".into(),
                );
            }
        }
    }

    /// The container could not be created: it waits with `reason` and is tried again soon.
    fn start_failed(&mut self, id: SlotId, now: Instant, reason: &str, message: String) {
        let slot = self.slot(id);
        slot.view.state = State::waiting(reason, Some(message.clone()));
        slot.retry_at = Some(now + CONFIG_RETRY);
        self.record_for(
            id,
            EventType::Warning,
            "Failed",
            format!("Error: {message}"),
        );
    }

    /// The process could not be started: the instance ended with StartError (exit code 128),
    /// and restarts as a crashed one would.
    fn ended_at_start(&mut self, id: SlotId, message: String) {
        self.record_for(
            id,
            EventType::Warning,
            "Failed",
            format!("Error: {message}"),
        );
        let now = Timestamp::now();
        let ended = Terminated {
            exit_code: 128,
            reason: "StartError".to_string(),
            message: Some(message),
            started_at: None,
            finished_at: now,
            container_id: None,
        };
        let policy = restart_policy(&self.pod).to_string();
        let pod_ref = pod_ref(&self.pod);
        let slot = self.slot(id);
        if slot.ran {
            slot.view.restart_count += 1;
            slot.backoff.next(Instant::now());
        }
        slot.ran = true;
        if let State::Terminated(previous) = &slot.view.state {
            slot.view.last = Some(previous.clone());
        }
        let terminal = self.terminal;
        self.after_exit(id, ended, &policy, &pod_ref, terminal);
    }

    /// A container ID shaped like a runtime's: `hakube://<64 hex digits>`, unique per instance.
    fn container_id(&self, name: &str, restart_count: i32) -> String {
        let mut hasher = Sha256::new();
        for part in [self.uid.as_bytes(), name.as_bytes()] {
            hasher.update(part);
            hasher.update([0]);
        }
        hasher.update(restart_count.to_be_bytes());
        hasher.update(Timestamp::now().as_nanosecond().to_be_bytes());
        format!("hakube://{}", hex(&hasher.finalize()))
    }
}

/// The previous instance's log, left by an earlier run of the kubelet.
fn previous_log(dir: &std::path::Path, restart_count: i32) -> Option<LogFile> {
    let path = dir.join(format!("{}.log", restart_count.checked_sub(1)?));
    path.exists().then(|| LogFile::finished(path))
}

/// Removes the logs of instances before the previous one: `--previous` is as far back as
/// `kubectl logs` reaches.
async fn forget_old_logs(dir: &std::path::Path, restart_count: i32) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        let number = name
            .to_str()
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<i32>().ok());
        if number.is_some_and(|n| n < restart_count - 1) {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}
