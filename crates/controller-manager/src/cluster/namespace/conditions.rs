//! The status conditions a terminating namespace carries while the namespace controller empties
//! it, with kube's types, reasons and wording. Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::NamespaceCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// What one pass over a namespace's content found.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Discovery failed (for some groups).
    pub(crate) discovery_error: Option<String>,
    /// One message per resource whose content could not be deleted.
    pub(crate) delete_errors: Vec<String>,
    /// Objects left, by "resource.group".
    pub(crate) remaining: BTreeMap<String, usize>,
    /// Objects left holding each finalizer.
    pub(crate) finalizers: BTreeMap<String, usize>,
}

impl Outcome {
    /// Whether the namespace is empty and nothing failed: it may be finalized.
    pub(crate) fn is_done(&self) -> bool {
        self.discovery_error.is_none()
            && self.delete_errors.is_empty()
            && self.remaining.values().all(|n| *n == 0)
    }
}

/// The condition types the controller maintains, each with its all-is-well reason and message.
const OK: [(&str, &str, &str); 5] = [
    (
        "NamespaceDeletionDiscoveryFailure",
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    (
        "NamespaceDeletionGroupVersionParsingFailure",
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    (
        "NamespaceContentRemaining",
        "ContentRemoved",
        "All content successfully removed",
    ),
    (
        "NamespaceFinalizersRemaining",
        "ContentRemoved",
        "All content successfully removed",
    ),
];

/// The failing variants `outcome` calls for: (type, reason, message).
fn failures(outcome: &Outcome) -> Vec<(&'static str, &'static str, String)> {
    let mut failing = Vec::new();
    if let Some(error) = &outcome.discovery_error {
        failing.push((
            "NamespaceDeletionDiscoveryFailure",
            "DiscoveryFailed",
            error.clone(),
        ));
    }
    if !outcome.delete_errors.is_empty() {
        let mut errors = outcome.delete_errors.clone();
        errors.sort();
        failing.push((
            "NamespaceDeletionContentFailure",
            "ContentDeletionFailed",
            format!(
                "Failed to delete all resource types, {} remaining: {}",
                errors.len(),
                errors.join(", ")
            ),
        ));
    }
    let remaining: Vec<String> = outcome
        .remaining
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(resource, n)| format!("{resource} has {n} resource instances"))
        .collect();
    if !remaining.is_empty() {
        failing.push((
            "NamespaceContentRemaining",
            "SomeResourcesRemain",
            format!("Some resources are remaining: {}", remaining.join(", ")),
        ));
    }
    let finalizers: Vec<String> = outcome
        .finalizers
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(finalizer, n)| format!("{finalizer} in {n} resource instances"))
        .collect();
    if !finalizers.is_empty() {
        failing.push((
            "NamespaceFinalizersRemaining",
            "SomeFinalizerRemain",
            format!("Some finalizers are remaining: {}", finalizers.join(", ")),
        ));
    }
    failing
}

/// The namespace's conditions after `outcome`, or `None` when they would not change. A
/// condition's transition time moves only when its status does.
pub(crate) fn update(
    current: &[NamespaceCondition],
    outcome: &Outcome,
    now: &Time,
) -> Option<Vec<NamespaceCondition>> {
    let failing = failures(outcome);
    let mut conditions = current.to_vec();
    let mut changed = false;
    for (type_, ok_reason, ok_message) in OK {
        let (status, reason, message) = match failing.iter().find(|(t, _, _)| *t == type_) {
            Some((_, reason, message)) => ("True", *reason, message.clone()),
            None => ("False", ok_reason, ok_message.to_string()),
        };
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            None => {
                conditions.push(NamespaceCondition {
                    type_: type_.into(),
                    status: status.into(),
                    reason: Some(reason.into()),
                    message: Some(message),
                    last_transition_time: Some(now.clone()),
                });
                changed = true;
            }
            Some(c) => {
                if c.status != status
                    || c.reason.as_deref() != Some(reason)
                    || c.message.as_deref() != Some(&message)
                {
                    if c.status != status {
                        c.last_transition_time = Some(now.clone());
                    }
                    c.status = status.into();
                    c.reason = Some(reason.into());
                    c.message = Some(message);
                    changed = true;
                }
            }
        }
    }
    changed.then_some(conditions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::pods::fixtures::time;

    fn summary(conditions: &[NamespaceCondition]) -> Vec<String> {
        conditions
            .iter()
            .map(|c| {
                format!(
                    "{}={} {}",
                    c.type_,
                    c.status,
                    c.message.clone().unwrap_or_default()
                )
            })
            .collect()
    }

    #[test]
    fn conditions_follow_the_outcome() {
        let remaining = Outcome {
            remaining: [("pods.".to_string(), 2), ("configmaps.".to_string(), 0)].into(),
            finalizers: [("example.com/hold".to_string(), 1)].into(),
            ..Outcome::default()
        };
        assert!(!remaining.is_done());
        let first = update(&[], &remaining, &time(1)).expect("new conditions");
        assert_eq!(
            summary(&first),
            [
                "NamespaceDeletionDiscoveryFailure=False All resources successfully discovered",
                "NamespaceDeletionGroupVersionParsingFailure=False All legacy kube types successfully parsed",
                "NamespaceDeletionContentFailure=False All content successfully deleted, may be waiting on finalization",
                "NamespaceContentRemaining=True Some resources are remaining: pods. has 2 resource instances",
                "NamespaceFinalizersRemaining=True Some finalizers are remaining: example.com/hold in 1 resource instances",
            ]
        );
        assert!(
            update(&first, &remaining, &time(2)).is_none(),
            "no change, no write"
        );
        let done = Outcome::default();
        assert!(done.is_done());
        let last = update(&first, &done, &time(3)).unwrap();
        let c = last
            .iter()
            .find(|c| c.type_ == "NamespaceContentRemaining")
            .unwrap();
        assert_eq!(
            (
                c.status.as_str(),
                c.reason.as_deref(),
                c.last_transition_time.clone()
            ),
            ("False", Some("ContentRemoved"), Some(time(3)))
        );
        let failed = Outcome {
            delete_errors: vec!["b".into(), "a".into()],
            discovery_error: Some("Discovery failed for some groups, 1 failing: x".into()),
            ..Outcome::default()
        };
        let failing = update(&[], &failed, &time(4)).unwrap();
        assert_eq!(
            summary(&failing)[2],
            "NamespaceDeletionContentFailure=True Failed to delete all resource types, 2 remaining: a, b"
        );
        assert!(summary(&failing)[0].starts_with("NamespaceDeletionDiscoveryFailure=True"));
    }
}
