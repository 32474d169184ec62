//! Revisions: the annotations a Deployment's ReplicaSets carry (revision, revision history,
//! desired and max replicas, and the Deployment's own annotations), which `kubectl rollout
//! history` and `rollout undo` read, and the cleanup of old ReplicaSets past
//! `revisionHistoryLimit`.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::rollout::{self, DESIRED_REPLICAS, MAX_REPLICAS, Strategy};

pub(crate) const REVISION: &str = "deployment.kubernetes.io/revision";
pub(crate) const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// How long the revision-history annotation may grow (kube's default, in characters).
const MAX_HISTORY_CHARS: usize = 2000;

/// Deployment annotations that are not copied onto its ReplicaSets.
fn skip_copy(key: &str) -> bool {
    [
        LAST_APPLIED,
        REVISION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        ROLLBACK_TO,
    ]
    .contains(&key)
}

/// The ReplicaSet's revision: 0 when absent, `None` when unreadable.
pub(crate) fn revision(rs: &ReplicaSet) -> Option<i64> {
    match rs
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
    {
        None => Some(0),
        Some(v) => v.parse().ok(),
    }
}

/// The highest revision among `sets` (unreadable ones skipped).
pub(crate) fn max_revision(sets: &[&ReplicaSet]) -> i64 {
    sets.iter()
        .filter_map(|rs| revision(rs))
        .max()
        .unwrap_or(0)
        .max(0)
}

/// kube's SetNewReplicaSetAnnotations: copies the Deployment's annotations, raises the
/// revision to `new_revision` if lower (remembering the old one in the history, as a rollback
/// to an old template does), and on a ReplicaSet about to be created sets the replica
/// annotations. Whether anything changed.
pub(crate) fn set_new_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
    strategy: &Strategy,
) -> bool {
    let mut changed = copy_deployment_annotations(d, rs);
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let old = annotations.get(REVISION).cloned();
    let old_revision = match old.as_deref() {
        None | Some("") => 0,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return changed,
        },
    };
    if old_revision < new_revision {
        annotations.insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if let Some(old) = old {
            let history = annotations
                .get(REVISION_HISTORY)
                .cloned()
                .unwrap_or_default();
            if history.is_empty() {
                annotations.insert(REVISION_HISTORY.into(), old);
            } else if let Some(history) = append_history(&history, &old) {
                annotations.insert(REVISION_HISTORY.into(), history);
            }
        }
    }
    if !exists && set_replicas_annotations(rs, strategy) {
        changed = true;
    }
    changed
}

/// `history` with `revision` appended, dropping the oldest entries to stay within
/// [`MAX_HISTORY_CHARS`]; `None` if even that cannot fit.
fn append_history(history: &str, revision: &str) -> Option<String> {
    let mut entries: Vec<&str> = history.split(',').collect();
    let mut total = history.len() + revision.len() + 1;
    let mut start = 0;
    while total > MAX_HISTORY_CHARS && start < entries.len() {
        total -= entries[start].len() + 1;
        start += 1;
    }
    if total > MAX_HISTORY_CHARS {
        return None;
    }
    entries.drain(..start);
    entries.push(revision);
    Some(entries.join(","))
}

/// Copies the Deployment's annotations (but the controller's own) onto the ReplicaSet.
fn copy_deployment_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let mut changed = false;
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if skip_copy(k) || annotations.get(k) == Some(v) {
            continue;
        }
        annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// Records the Deployment's size (desired, and desired + surge) on the ReplicaSet.
pub(crate) fn set_replicas_annotations(rs: &mut ReplicaSet, strategy: &Strategy) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in [
        (DESIRED_REPLICAS, strategy.desired),
        (MAX_REPLICAS, strategy.desired + strategy.max_surge),
    ] {
        let value = value.to_string();
        if annotations.get(key) != Some(&value) {
            annotations.insert(key.into(), value);
            changed = true;
        }
    }
    changed
}

/// Whether the ReplicaSet's replica annotations are not those of `strategy`.
pub(crate) fn replicas_annotations_stale(rs: &ReplicaSet, strategy: &Strategy) -> bool {
    set_replicas_annotations(&mut rs.clone(), strategy)
}

/// The old ReplicaSets to delete so at most `limit` remain: lowest revisions first, and only
/// ones that are empty, settled and not already going (kube's cleanupDeployment).
pub(crate) fn history_to_delete(limit: Option<i32>, old: &[&ReplicaSet]) -> Vec<String> {
    let Some(limit) = limit.filter(|l| *l != i32::MAX) else {
        return Vec::new();
    };
    let mut alive: Vec<&ReplicaSet> = old
        .iter()
        .copied()
        .filter(|rs| rs.metadata.deletion_timestamp.is_none())
        .collect();
    let excess = alive.len() as i64 - i64::from(limit.max(0));
    if excess <= 0 {
        return Vec::new();
    }
    alive.sort_by(|a, b| by_revision(a, b));
    alive
        .into_iter()
        .take(excess as usize)
        .filter(|rs| {
            let status = rs.status.clone().unwrap_or_default();
            status.replicas == 0
                && rollout::replicas(rs) == 0
                && rs.metadata.generation.unwrap_or(0) <= status.observed_generation.unwrap_or(0)
        })
        .filter_map(|rs| rs.metadata.name.clone())
        .collect()
}

/// Lowest revision first; ties oldest first (kube's ReplicaSetsByRevision).
fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let (ra, rb) = (revision(a).unwrap_or(0), revision(b).unwrap_or(0));
    ra.cmp(&rb).then_with(|| rollout::by_creation(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{ReplicaSetSpec, ReplicaSetStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn rs(name: &str, revision: Option<&str>, replicas: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.into()),
                generation: Some(1),
                annotations: revision.map(|r| [(REVISION.to_string(), r.to_string())].into()),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                ..ReplicaSetSpec::default()
            }),
            status: Some(ReplicaSetStatus {
                replicas,
                observed_generation: Some(1),
                ..ReplicaSetStatus::default()
            }),
        }
    }

    fn strategy() -> Strategy {
        Strategy {
            desired: 3,
            rolling: true,
            max_surge: 1,
            max_unavailable: 0,
        }
    }

    fn deployment(annotations: &[(&str, &str)]) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            ..Deployment::default()
        }
    }

    fn annotation<'a>(rs: &'a ReplicaSet, key: &str) -> Option<&'a str> {
        rs.metadata
            .annotations
            .as_ref()?
            .get(key)
            .map(String::as_str)
    }

    #[test]
    fn revisions_parse_and_take_the_max() {
        let sets = [
            rs("a", Some("3"), 0),
            rs("b", None, 0),
            rs("c", Some("x"), 0),
            rs("d", Some("7"), 0),
        ];
        let refs: Vec<&ReplicaSet> = sets.iter().collect();
        assert_eq!(max_revision(&refs), 7);
        assert_eq!(revision(&sets[1]), Some(0));
        assert_eq!(revision(&sets[2]), None);
        assert_eq!(max_revision(&[]), 0);
    }

    #[test]
    fn a_new_replica_set_gets_revision_replicas_and_deployment_annotations() {
        let d = deployment(&[
            ("team", "web"),
            (REVISION, "4"),
            (LAST_APPLIED, "{}"),
            ("kubernetes.io/change-cause", "kubectl set image"),
        ]);
        let mut new = rs("web-abc", None, 0);
        new.metadata.annotations = None;
        assert!(set_new_annotations(&d, &mut new, 5, false, &strategy()));
        assert_eq!(annotation(&new, REVISION), Some("5"));
        assert_eq!(annotation(&new, DESIRED_REPLICAS), Some("3"));
        assert_eq!(annotation(&new, MAX_REPLICAS), Some("4"));
        assert_eq!(annotation(&new, "team"), Some("web"));
        assert_eq!(
            annotation(&new, "kubernetes.io/change-cause"),
            Some("kubectl set image")
        );
        assert_eq!(annotation(&new, LAST_APPLIED), None);
        assert_eq!(annotation(&new, REVISION_HISTORY), None);
        // Nothing more to do the second time.
        assert!(!set_new_annotations(&d, &mut new, 5, true, &strategy()));
    }

    #[test]
    fn rolling_back_to_an_old_template_keeps_its_past_revisions() {
        let d = deployment(&[]);
        let mut old = rs("web-old", Some("1"), 0);
        assert!(set_new_annotations(&d, &mut old, 3, true, &strategy()));
        assert_eq!(annotation(&old, REVISION), Some("3"));
        assert_eq!(annotation(&old, REVISION_HISTORY), Some("1"));
        assert!(set_new_annotations(&d, &mut old, 5, true, &strategy()));
        assert_eq!(annotation(&old, REVISION), Some("5"));
        assert_eq!(annotation(&old, REVISION_HISTORY), Some("1,3"));
        // A lower revision never lowers it, and existing ones get no replica annotations here.
        assert!(!set_new_annotations(&d, &mut old, 4, true, &strategy()));
        assert_eq!(annotation(&old, DESIRED_REPLICAS), None);
    }

    #[test]
    fn history_is_bounded_in_characters() {
        let long = vec!["12345"; 333].join(",");
        assert_eq!(long.len(), 1997);
        // Exactly at the limit: nothing dropped.
        assert_eq!(append_history(&long, "99"), Some(format!("{long},99")));
        // One past it: the oldest entry goes.
        let dropped = append_history(&long, "999").unwrap();
        assert_eq!(dropped.len(), 1995);
        assert_eq!(dropped, format!("{},999", vec!["12345"; 332].join(",")));
        assert_eq!(append_history("1,2", "3").as_deref(), Some("1,2,3"));
        assert_eq!(append_history("1", &"9".repeat(2001)), None);
    }

    #[test]
    fn cleanup_deletes_the_lowest_settled_empty_revisions_beyond_the_limit() {
        let mut busy = rs("r2", Some("2"), 1);
        busy.status.as_mut().unwrap().replicas = 1;
        let mut unobserved = rs("r3", Some("3"), 0);
        unobserved.metadata.generation = Some(2);
        let sets = [
            rs("r5", Some("5"), 0),
            rs("r1", Some("1"), 0),
            busy,
            unobserved,
            rs("r4", Some("4"), 0),
        ];
        let refs: Vec<&ReplicaSet> = sets.iter().collect();
        // (limit, deleted)
        let cases: [(Option<i32>, &[&str]); 5] = [
            (None, &[]),
            (Some(i32::MAX), &[]),
            (Some(5), &[]),
            (Some(3), &["r1"]),
            (Some(0), &["r1", "r4", "r5"]),
        ];
        for (limit, want) in cases {
            assert_eq!(history_to_delete(limit, &refs), want, "{limit:?}");
        }
    }

    #[test]
    fn replica_annotations_follow_the_strategy() {
        let mut set = rs("a", None, 3);
        assert!(replicas_annotations_stale(&set, &strategy()));
        assert!(set_replicas_annotations(&mut set, &strategy()));
        assert!(!replicas_annotations_stale(&set, &strategy()));
    }
}
