//! A Deployment's status and conditions, by kube's rules and with kube's wording, which
//! `kubectl rollout status` reads: the replica counts from its ReplicaSets, Available
//! (MinimumReplicasAvailable / MinimumReplicasUnavailable), Progressing (NewReplicaSetCreated,
//! FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded,
//! DeploymentPaused / DeploymentResumed) and ReplicaFailure. Pure: time is passed in.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::rollout::{self, Strategy};

pub(crate) const AVAILABLE: &str = "Available";
pub(crate) const PROGRESSING: &str = "Progressing";
pub(crate) const REPLICA_FAILURE: &str = "ReplicaFailure";

pub(crate) const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub(crate) const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub(crate) const RS_UPDATED: &str = "ReplicaSetUpdated";
pub(crate) const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub(crate) const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub(crate) const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
pub(crate) const PAUSED: &str = "DeploymentPaused";
pub(crate) const RESUMED: &str = "DeploymentResumed";
pub(crate) const MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
pub(crate) const MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

/// A condition stamped `now` for both its update and its transition.
pub(crate) fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: jiff::Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

pub(crate) fn get<'a>(
    status: &'a DeploymentStatus,
    type_: &str,
) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// kube's SetDeploymentCondition: nothing changes if a condition of that type already has the
/// same status and reason; the transition time is kept while the status stays.
pub(crate) fn set(status: &mut DeploymentStatus, mut new: DeploymentCondition) {
    if let Some(current) = get(status, &new.type_) {
        if current.status == new.status && current.reason == new.reason {
            return;
        }
        if current.status == new.status {
            new.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove(status, &new.type_);
    status.conditions.get_or_insert_with(Vec::new).push(new);
}

pub(crate) fn remove(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != type_);
        if conditions.is_empty() {
            status.conditions = None;
        }
    }
}

fn progress_deadline(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .filter(|s| *s != i32::MAX)
}

fn rs_name(rs: Option<&ReplicaSet>) -> Option<&str> {
    rs.and_then(|rs| rs.metadata.name.as_deref())
}

fn n(v: Option<i32>) -> i32 {
    v.unwrap_or(0)
}

/// The paused/resumed Progressing condition, if it must change (kube's checkPausedConditions).
pub(crate) fn paused_condition(d: &Deployment, now: jiff::Timestamp) -> Option<DeploymentStatus> {
    progress_deadline(d)?;
    let mut status = d.status.clone().unwrap_or_default();
    let current = get(&status, PROGRESSING);
    if current.is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT)) {
        // A reported lack of progress is not overwritten by pausing.
        return None;
    }
    let paused_now = current.is_some_and(|c| c.reason.as_deref() == Some(PAUSED));
    let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    let next = if paused && !paused_now {
        condition(
            PROGRESSING,
            "Unknown",
            PAUSED,
            "Deployment is paused".into(),
            now,
        )
    } else if !paused && paused_now {
        condition(
            PROGRESSING,
            "Unknown",
            RESUMED,
            "Deployment is resumed".into(),
            now,
        )
    } else {
        return None;
    };
    set(&mut status, next);
    Some(status)
}

/// kube's calculateStatus: counts from the ReplicaSets, and Available.
pub(crate) fn calculate(
    d: &Deployment,
    strategy: &Strategy,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    now: jiff::Timestamp,
) -> DeploymentStatus {
    let old = d.status.clone().unwrap_or_default();
    let status_of = |rs: &ReplicaSet| rs.status.clone().unwrap_or_default();
    let available: i32 = all.iter().map(|rs| rollout::available(rs)).sum();
    let total: i32 = all.iter().map(|rs| rollout::replicas(rs)).sum();
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(all.iter().map(|rs| status_of(rs).replicas).sum()),
        updated_replicas: Some(new.map_or(0, |rs| status_of(rs).replicas)),
        ready_replicas: Some(all.iter().map(|rs| n(status_of(rs).ready_replicas)).sum()),
        available_replicas: Some(available),
        unavailable_replicas: Some((total - available).max(0)),
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
        terminating_replicas: None,
    };
    let minimum = strategy.desired
        - if strategy.rolling {
            strategy.max_unavailable
        } else {
            0
        };
    let availability = if available >= minimum {
        condition(
            AVAILABLE,
            "True",
            MIN_AVAILABLE,
            "Deployment has minimum availability.".into(),
            now,
        )
    } else {
        condition(
            AVAILABLE,
            "False",
            MIN_UNAVAILABLE,
            "Deployment does not have minimum availability.".into(),
            now,
        )
    };
    set(&mut status, availability);
    status
}

/// All desired replicas updated and available, none old, and this generation observed.
pub(crate) fn complete(d: &Deployment, strategy: &Strategy, status: &DeploymentStatus) -> bool {
    let desired = strategy.desired;
    n(status.updated_replicas) == desired
        && n(status.replicas) == desired
        && n(status.available_replicas) == desired
        && status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// Whether `status` shows progress since the Deployment's current status.
fn progressing(d: &Deployment, status: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let old_old = n(old.replicas) - n(old.updated_replicas);
    let new_old = n(status.replicas) - n(status.updated_replicas);
    n(status.updated_replicas) > n(old.updated_replicas)
        || new_old < old_old
        || n(status.ready_replicas) > n(old.ready_replicas)
        || n(status.available_replicas) > n(old.available_replicas)
}

/// Whether the Progressing condition is older than the deadline (or already timed out).
fn timed_out(d: &Deployment, status: &DeploymentStatus, now: jiff::Timestamp) -> bool {
    let Some(deadline) = progress_deadline(d) else {
        return false;
    };
    let Some(current) = get(status, PROGRESSING) else {
        return false;
    };
    match current.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => current.last_update_time.as_ref().is_some_and(|from| {
            from.0 + jiff::SignedDuration::from_secs(i64::from(deadline)) < now
        }),
    }
}

/// kube's syncRolloutStatus (the pure part): `calculated` with the Progressing condition moved
/// on and ReplicaSet failures surfaced.
pub(crate) fn rollout_status(
    d: &Deployment,
    strategy: &Strategy,
    mut status: DeploymentStatus,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    now: jiff::Timestamp,
) -> DeploymentStatus {
    let old = d.status.clone().unwrap_or_default();
    if progress_deadline(d).is_none() {
        remove(&mut status, PROGRESSING);
    }
    let current = get(&old, PROGRESSING);
    let already_complete = n(status.replicas) == n(status.updated_replicas)
        && current.is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE));
    if progress_deadline(d).is_some() && !already_complete {
        let subject = match rs_name(new) {
            Some(rs) => format!("ReplicaSet {rs:?}"),
            None => format!(
                "Deployment {:?}",
                d.metadata.name.as_deref().unwrap_or_default()
            ),
        };
        if complete(d, strategy, &status) {
            let c = condition(
                PROGRESSING,
                "True",
                NEW_RS_AVAILABLE,
                format!("{subject} has successfully progressed."),
                now,
            );
            set(&mut status, c);
        } else if progressing(d, &status) {
            let mut c = condition(
                PROGRESSING,
                "True",
                RS_UPDATED,
                format!("{subject} is progressing."),
                now,
            );
            // Progress refreshes lastUpdateTime even with the same reason; the transition
            // time stays while the condition stays True.
            if let Some(current) = current {
                if current.status == "True" {
                    c.last_transition_time = current.last_transition_time.clone();
                }
                remove(&mut status, PROGRESSING);
            }
            set(&mut status, c);
        } else if timed_out(d, &status, now) {
            let c = condition(
                PROGRESSING,
                "False",
                TIMED_OUT,
                format!("{subject} has timed out progressing."),
                now,
            );
            set(&mut status, c);
        }
    }
    match replica_failure(all, new) {
        Some(failure) => set(&mut status, failure),
        None => remove(&mut status, REPLICA_FAILURE),
    }
    status
}

/// The first ReplicaFailure condition of the new ReplicaSet, else of any ReplicaSet.
fn replica_failure(all: &[&ReplicaSet], new: Option<&ReplicaSet>) -> Option<DeploymentCondition> {
    let failure_of = |rs: &ReplicaSet| {
        rs.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == REPLICA_FAILURE)
            .map(|c| DeploymentCondition {
                type_: REPLICA_FAILURE.into(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_update_time: c.last_transition_time.clone(),
                last_transition_time: c.last_transition_time.clone(),
            })
    };
    new.and_then(failure_of)
        .or_else(|| all.iter().find_map(|rs| failure_of(rs)))
}

/// When to look again at a rollout that shows no progress, to notice its deadline passing
/// (kube's requeueStuckDeployment); `None` if there is nothing to watch for.
pub(crate) fn recheck_progress(
    d: &Deployment,
    strategy: &Strategy,
    status: &DeploymentStatus,
    now: jiff::Timestamp,
) -> Option<Duration> {
    let deadline = progress_deadline(d)?;
    let current = get(d.status.as_ref()?, PROGRESSING)?;
    if complete(d, strategy, status) || current.reason.as_deref() == Some(TIMED_OUT) {
        return None;
    }
    let from = current.last_update_time.as_ref()?.0;
    let due = from + jiff::SignedDuration::from_secs(i64::from(deadline));
    let after = due.duration_since(now);
    if after < jiff::SignedDuration::from_secs(1) {
        return Some(Duration::from_secs(1));
    }
    Some(after.unsigned_abs() + Duration::from_secs(1))
}

/// Whether two statuses say the same (absent counts are zero, absent lists empty).
pub(crate) fn same(a: &DeploymentStatus, b: &DeploymentStatus) -> bool {
    let counts = |s: &DeploymentStatus| {
        (
            s.observed_generation.unwrap_or(0),
            n(s.replicas),
            n(s.updated_replicas),
            n(s.ready_replicas),
            n(s.available_replicas),
            n(s.unavailable_replicas),
            n(s.collision_count),
        )
    };
    counts(a) == counts(b)
        && a.conditions.clone().unwrap_or_default() == b.conditions.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests;
