//! How a Deployment's ReplicaSets are sized, by kube's rules, without IO: the surge and
//! unavailability fenceposts, each rolling-update step (scale the new ReplicaSet up within the
//! surge, scale old ones down within the unavailability, unhealthy ones first), Recreate, and
//! proportional scaling when the Deployment is resized mid-rollout.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The desired-replicas annotation on a Deployment's ReplicaSets.
pub(crate) const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// The max-replicas (desired + surge) annotation on a Deployment's ReplicaSets.
pub(crate) const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

/// A Deployment's sizing parameters, resolved once per sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Strategy {
    pub(crate) desired: i32,
    pub(crate) rolling: bool,
    /// How many pods above `desired` may exist (0 for Recreate).
    pub(crate) max_surge: i32,
    /// How many of `desired` may be unavailable (0 for Recreate or no replicas; never more than
    /// `desired`).
    pub(crate) max_unavailable: i32,
}

impl Strategy {
    pub(crate) fn of(d: &Deployment) -> Result<Strategy, String> {
        let spec = d.spec.as_ref();
        let desired = spec.and_then(|s| s.replicas).unwrap_or(1);
        let strategy = spec.and_then(|s| s.strategy.as_ref());
        let rolling = strategy
            .and_then(|s| s.type_.as_deref())
            .is_none_or(|t| t == "RollingUpdate");
        if !rolling {
            return Ok(Strategy {
                desired,
                rolling,
                max_surge: 0,
                max_unavailable: 0,
            });
        }
        let quarter = IntOrString::String("25%".into());
        let params = strategy.and_then(|s| s.rolling_update.as_ref());
        let surge = params.map_or(Some(&quarter), |p| p.max_surge.as_ref());
        let unavailable = params.map_or(Some(&quarter), |p| p.max_unavailable.as_ref());
        let (max_surge, max_unavailable) = resolve_fenceposts(surge, unavailable, desired)?;
        Ok(Strategy {
            desired,
            rolling,
            max_surge,
            max_unavailable: if desired == 0 {
                0
            } else {
                max_unavailable.min(desired)
            },
        })
    }
}

/// An int, or a percentage of `total` rounded up or down (kube's GetValueFromIntOrPercent).
pub(crate) fn scaled_value(
    value: Option<&IntOrString>,
    total: i32,
    round_up: bool,
) -> Result<i32, String> {
    match value {
        None => Ok(0),
        Some(IntOrString::Int(n)) => Ok(*n),
        Some(IntOrString::String(s)) => {
            let percent: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid value {s:?}"))?;
            let scaled = percent * i64::from(total);
            let value = if round_up {
                scaled.div_euclid(100) + i64::from(scaled.rem_euclid(100) != 0)
            } else {
                scaled.div_euclid(100)
            };
            Ok(value as i32)
        }
    }
}

/// maxSurge rounded up and maxUnavailable rounded down; if both come to 0, one pod may be
/// unavailable so the rollout can still move (kube's ResolveFenceposts).
pub(crate) fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> Result<(i32, i32), String> {
    let surge = scaled_value(max_surge, desired, true)?;
    let unavailable = scaled_value(max_unavailable, desired, false)?;
    if surge == 0 && unavailable == 0 {
        return Ok((0, 1));
    }
    Ok((surge, unavailable))
}

/// One ReplicaSet's new size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Resize {
    pub(crate) name: String,
    pub(crate) from: i32,
    pub(crate) to: i32,
}

pub(crate) fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub(crate) fn available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

fn name(rs: &ReplicaSet) -> String {
    rs.metadata.name.clone().unwrap_or_default()
}

fn annotation(rs: &ReplicaSet, key: &str) -> Option<i32> {
    rs.metadata.annotations.as_ref()?.get(key)?.parse().ok()
}

/// Oldest first; ties by name (kube's ReplicaSetsByCreationTimestamp).
pub(crate) fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let created = |rs: &ReplicaSet| rs.metadata.creation_timestamp.clone();
    created(a)
        .cmp(&created(b))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// The new ReplicaSet's size for this step, or `None` to leave it: down to `desired` if above,
/// else up as far as the surge allows (Recreate: straight to `desired`).
pub(crate) fn scale_new(strategy: &Strategy, all: &[&ReplicaSet], new: &ReplicaSet) -> Option<i32> {
    let current = replicas(new);
    if current == strategy.desired {
        return None;
    }
    if current > strategy.desired {
        return Some(strategy.desired);
    }
    let target = new_replicas(strategy, all, current);
    (target != current).then_some(target)
}

/// kube's NewRSNewReplicas: what the new ReplicaSet (now at `current`) may grow to, given
/// every ReplicaSet's size (the new one's included in `all`).
pub(crate) fn new_replicas(strategy: &Strategy, all: &[&ReplicaSet], current: i32) -> i32 {
    if !strategy.rolling {
        return strategy.desired;
    }
    let total: i32 = all.iter().map(|rs| replicas(rs)).sum();
    let max_total = strategy.desired + strategy.max_surge;
    if total >= max_total {
        return current;
    }
    let up = (max_total - total).min(strategy.desired - current);
    current + up
}

/// kube's reconcileOldReplicaSets: how far old ReplicaSets may shrink without dropping below
/// the minimum available, counting the new ReplicaSet's unavailable pods; unhealthy old pods
/// (not available) go first, then old ReplicaSets shrink oldest first.
pub(crate) fn scale_down_old(
    strategy: &Strategy,
    new: Option<&ReplicaSet>,
    old: &[&ReplicaSet],
) -> Vec<Resize> {
    let mut active: Vec<&ReplicaSet> = old.iter().copied().filter(|rs| replicas(rs) > 0).collect();
    let old_pods: i32 = active.iter().map(|rs| replicas(rs)).sum();
    if old_pods == 0 {
        return Vec::new();
    }
    let new_pods = new.map_or(0, replicas);
    let all_pods = old_pods + new_pods;
    let min_available = strategy.desired - strategy.max_unavailable;
    let new_unavailable = new.map_or(0, |rs| replicas(rs) - available(rs));
    let max_scaled_down = all_pods - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Vec::new();
    }
    active.sort_by(|a, b| by_creation(a, b));
    let mut sizes: Vec<i32> = active.iter().map(|rs| replicas(rs)).collect();

    // Unhealthy replicas first: they count for nothing toward availability.
    let mut cleaned = 0;
    for (rs, size) in active.iter().zip(sizes.iter_mut()) {
        if cleaned >= max_scaled_down {
            break;
        }
        if *size == 0 || *size == available(rs) {
            continue;
        }
        let down = (max_scaled_down - cleaned).min(*size - available(rs));
        *size -= down;
        cleaned += down;
    }

    // Then healthy ones, as far as availability allows.
    let available_pods: i32 =
        active.iter().map(|rs| available(rs)).sum::<i32>() + new.map_or(0, available);
    if available_pods > min_available {
        let total = available_pods - min_available;
        let mut scaled = 0;
        for size in sizes.iter_mut() {
            if scaled >= total {
                break;
            }
            if *size == 0 {
                continue;
            }
            let down = (*size).min(total - scaled);
            *size -= down;
            scaled += down;
        }
    }
    active
        .iter()
        .zip(sizes)
        .filter(|(rs, size)| replicas(rs) != *size)
        .map(|(rs, size)| Resize {
            name: name(rs),
            from: replicas(rs),
            to: size,
        })
        .collect()
}

/// Whether the Deployment was resized since its active ReplicaSets were last sized: one of
/// them records another desired size (kube's isScalingEvent).
pub(crate) fn is_scaling_event(strategy: &Strategy, all: &[&ReplicaSet]) -> bool {
    all.iter()
        .filter(|rs| replicas(rs) > 0)
        .filter_map(|rs| annotation(rs, DESIRED_REPLICAS))
        .any(|desired| desired != strategy.desired)
}

/// Whether the new ReplicaSet alone serves the Deployment: sized and annotated for `desired`
/// and all available.
pub(crate) fn is_saturated(strategy: &Strategy, new: Option<&ReplicaSet>) -> bool {
    new.is_some_and(|rs| {
        replicas(rs) == strategy.desired
            && annotation(rs, DESIRED_REPLICAS) == Some(strategy.desired)
            && available(rs) == strategy.desired
    })
}

/// kube's scale(): the sizes for a scaling event (or a paused Deployment). One active (or,
/// with none active, the newest) ReplicaSet takes all replicas; a saturated new ReplicaSet
/// empties the old ones; otherwise the replicas to add or remove are spread over the active
/// ReplicaSets in proportion to their size, the remainder going to the largest. Every active
/// ReplicaSet is listed, even at its current size, so its annotations can be refreshed.
/// `status_replicas` is the Deployment's status.replicas (for ReplicaSets lacking the
/// max-replicas annotation).
pub(crate) fn proportional(
    strategy: &Strategy,
    new: Option<&ReplicaSet>,
    old: &[&ReplicaSet],
    status_replicas: i32,
) -> Vec<Resize> {
    let mut old_newest_first: Vec<&ReplicaSet> = old.to_vec();
    old_newest_first.sort_by(|a, b| by_creation(b, a));
    let mut active: Vec<&ReplicaSet> = old_newest_first
        .iter()
        .copied()
        .chain(new)
        .filter(|rs| replicas(rs) > 0)
        .collect();
    let resize = |rs: &ReplicaSet, to: i32| Resize {
        name: name(rs),
        from: replicas(rs),
        to,
    };
    let only = match active.len() {
        0 => new.or(old_newest_first.first().copied()),
        1 => Some(active[0]),
        _ => None,
    };
    if active.len() <= 1 {
        return only
            .map(|rs| vec![resize(rs, strategy.desired)])
            .unwrap_or_default();
    }
    if is_saturated(strategy, new) {
        return old_newest_first
            .iter()
            .filter(|rs| replicas(rs) > 0)
            .map(|rs| resize(rs, 0))
            .collect();
    }
    if !strategy.rolling {
        return Vec::new();
    }
    let total: i32 = active.iter().map(|rs| replicas(rs)).sum();
    let allowed = if strategy.desired > 0 {
        strategy.desired + strategy.max_surge
    } else {
        0
    };
    let to_add = allowed - total;
    match to_add.cmp(&0) {
        // Larger first; among equals the newer scales up first, the older down first.
        Ordering::Greater => active.sort_by(|a, b| {
            replicas(b)
                .cmp(&replicas(a))
                .then_with(|| by_creation(b, a))
        }),
        Ordering::Less => active.sort_by(|a, b| {
            replicas(b)
                .cmp(&replicas(a))
                .then_with(|| by_creation(a, b))
        }),
        Ordering::Equal => {}
    }
    let mut added = 0;
    let mut sizes: Vec<i32> = Vec::with_capacity(active.len());
    for rs in &active {
        if to_add == 0 {
            sizes.push(replicas(rs));
            continue;
        }
        let share = proportion(strategy, rs, to_add, added, status_replicas);
        sizes.push(replicas(rs) + share);
        added += share;
    }
    if to_add != 0 {
        sizes[0] = (sizes[0] + to_add - added).max(0);
    }
    active
        .iter()
        .zip(sizes)
        .map(|(rs, size)| resize(rs, size))
        .collect()
}

/// kube's GetProportion: this ReplicaSet's share of `to_add`, bounded by what is left.
fn proportion(
    strategy: &Strategy,
    rs: &ReplicaSet,
    to_add: i32,
    added: i32,
    status_replicas: i32,
) -> i32 {
    if replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = fraction(strategy, rs, status_replicas);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// How much this ReplicaSet grows (or shrinks) if the Deployment's new maximum size is split
/// as its max-replicas annotation says it was split before.
fn fraction(strategy: &Strategy, rs: &ReplicaSet, status_replicas: i32) -> i32 {
    if strategy.desired == 0 {
        return -replicas(rs);
    }
    let deployment_replicas = strategy.desired + strategy.max_surge;
    let annotated = annotation(rs, MAX_REPLICAS).unwrap_or(status_replicas);
    if annotated == 0 {
        return 0;
    }
    let size = f64::from(replicas(rs)) * f64::from(deployment_replicas) / f64::from(annotated);
    // Round half away from zero, as kube's RoundToInt32.
    size.round() as i32 - replicas(rs)
}

#[cfg(test)]
mod tests;
