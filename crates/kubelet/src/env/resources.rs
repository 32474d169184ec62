//! `resourceFieldRef` env values: a container's requests and limits in units of a divisor, with
//! unset limits standing for the node's allocatable amount, as the kubelet reports them.

use k8s_openapi::api::core::v1::{Container, ResourceFieldSelector};

/// What the node can give a pod, for limits a container does not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Allocatable {
    pub cpu_millis: u64,
    pub memory_bytes: u64,
}

/// The value of a `resourceFieldRef` for `container` (already the one the selector names).
pub(crate) fn resource_value(
    selector: &ResourceFieldSelector,
    container: &Container,
    allocatable: Allocatable,
) -> Result<String, String> {
    let divisor = match &selector.divisor {
        Some(q) => parse_quantity(&q.0)
            .filter(|d| *d > 0.0)
            .ok_or_else(|| format!("invalid divisor {:?}", q.0))?,
        None => 1.0,
    };
    let (kind, resource) = selector
        .resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported container resource : {}", selector.resource))?;
    let resources = container.resources.as_ref();
    let set = match kind {
        "limits" => resources.and_then(|r| r.limits.as_ref()),
        "requests" => resources.and_then(|r| r.requests.as_ref()),
        _ => {
            return Err(format!(
                "unsupported container resource : {}",
                selector.resource
            ));
        }
    };
    let amount = match set.and_then(|m| m.get(resource)) {
        Some(q) => parse_quantity(&q.0)
            .ok_or_else(|| format!("invalid quantity {:?} for {}", q.0, selector.resource))?,
        None if kind == "requests" => 0.0,
        None => match resource {
            "cpu" => allocatable.cpu_millis as f64 / 1000.0,
            "memory" => allocatable.memory_bytes as f64,
            _ => {
                return Err(format!(
                    "{}: the container sets no such limit, and hakube does not report the node's \
                     allocatable {resource} (not implemented)",
                    selector.resource
                ));
            }
        },
    };
    // CPU is counted in millicores before dividing, as Kubernetes does, so a 250m request in
    // units of 1 comes out as 1.
    let value = if resource == "cpu" {
        ((amount * 1000.0).round() / (divisor * 1000.0).round()).ceil()
    } else {
        (amount / divisor).ceil()
    };
    Ok(format!("{}", value as i64))
}

/// A Kubernetes quantity (`250m`, `1Gi`, `1.5`, `2e3`) in base units.
pub(crate) fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let multiplier = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent => {
            let digits = exponent.strip_prefix(['e', 'E'])?;
            10f64.powi(digits.parse().ok()?)
        }
    };
    Some(number * multiplier)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::ResourceRequirements;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    use super::*;

    #[test]
    fn quantities() {
        let cases = [
            ("1", Some(1.0)),
            ("250m", Some(0.25)),
            ("1.5", Some(1.5)),
            ("1Ki", Some(1024.0)),
            ("128Mi", Some(134217728.0)),
            ("1G", Some(1e9)),
            ("2e3", Some(2000.0)),
            ("1E", Some(1e18)),
            ("", None),
            ("Mi", None),
            ("1Xi", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_quantity(text), want, "{text}");
        }
    }

    fn container(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
        let map = |items: &[(&str, &str)]| {
            Some(
                items
                    .iter()
                    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                    .collect::<BTreeMap<_, _>>(),
            )
            .filter(|m| !m.is_empty())
        };
        Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: map(requests),
                limits: map(limits),
                ..ResourceRequirements::default()
            }),
            ..Container::default()
        }
    }

    #[test]
    fn values() {
        let node = Allocatable {
            cpu_millis: 2000,
            memory_bytes: 8 << 30,
        };
        let c = container(&[("cpu", "250m"), ("memory", "64Mi")], &[("memory", "1Gi")]);
        let cases = [
            ("requests.cpu", None, Ok("1")),
            ("requests.cpu", Some("1m"), Ok("250")),
            ("requests.memory", Some("1Mi"), Ok("64")),
            ("limits.memory", None, Ok("1073741824")),
            ("limits.cpu", None, Ok("2")),
            ("limits.memory", Some("1Gi"), Ok("1")),
            ("requests.ephemeral-storage", None, Ok("0")),
            ("limits.ephemeral-storage", None, Err("not implemented")),
            ("cpu", None, Err("unsupported container resource")),
            ("limits.cpu", Some("0"), Err("invalid divisor")),
        ];
        for (resource, divisor, want) in cases {
            let selector = ResourceFieldSelector {
                container_name: None,
                resource: resource.into(),
                divisor: divisor.map(|d| Quantity(d.into())),
            };
            match (resource_value(&selector, &c, node), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{resource} {divisor:?}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{resource}: {got}"),
                (got, want) => panic!("{resource}: got {got:?}, want {want:?}"),
            }
        }
    }
}
