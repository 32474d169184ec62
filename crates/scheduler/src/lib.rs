//! hakube's kube-scheduler.
//!
//! The decision is pure: [`schedule_one`] takes a pod and a [`Snapshot`] of the cluster and
//! returns the chosen node or a [`FitError`] whose [`FitError::message`] reads exactly like
//! kube-scheduler 1.33's FailedScheduling message. Filters, scores and preemption each live in
//! their own module and are table-tested, as is the scheduling queue.
//!
//! The IO is at the edge: [`start`] campaigns for the Lease `kube-system/kube-scheduler` and,
//! while leading, watches nodes, pods, namespaces and Services into a snapshot, schedules
//! pending pods, binds them through `pods/binding`, and records events and PodScheduled
//! conditions as kube-scheduler does.

pub mod decide;
pub mod filter;
pub mod fit_error;
pub mod pod_info;
pub mod preemption;
pub mod quantity;
pub mod queue;
pub mod resources;
pub mod score;
pub mod snapshot;
pub mod status;

mod actions;
mod cache;
mod error;
mod events;
mod leading;
mod scheduler;
#[cfg(test)]
mod testing;

pub use decide::{schedule_one, schedule_pod};
pub use error::{Error, Result};
pub use fit_error::{FitError, PreemptionCandidate};
pub use pod_info::PodInfo;
pub use scheduler::{Scheduler, SchedulerConfig, start};
pub use snapshot::Snapshot;
pub use status::{Code, Plugin, PluginSet, Status};
