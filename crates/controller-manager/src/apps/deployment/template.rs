//! A Deployment's pod template as its ReplicaSets carry it: the `pod-template-hash` that names
//! and labels each ReplicaSet, and template equality that ignores that label.
//!
//! kube hashes the template with FNV-32a over a deterministic dump of the Go struct, mixes in
//! the collision count, and prints the number with a consonant-and-digit alphabet so names
//! never spell words. We hash the template's JSON (serde writes struct fields in a fixed order
//! and maps sorted), so the same template always gets the same hash here, though not the
//! same one kube would print.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;

/// The label (and name suffix) that tells a Deployment's ReplicaSets apart.
pub(crate) const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// The alphabet kube's SafeEncodeString maps characters into: no vowels, no look-alikes.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

fn fnv32a(hash: u32, bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(hash, |h, b| (h ^ u32::from(*b)).wrapping_mul(FNV_PRIME))
}

/// The pod-template-hash of `template` (without any hash label of its own) and the
/// Deployment's collision count.
pub(crate) fn pod_template_hash(
    template: &PodTemplateSpec,
    collision_count: Option<i32>,
) -> String {
    let mut template = template.clone();
    strip_hash_label(&mut template);
    let json = serde_json::to_vec(&template).unwrap_or_default();
    let mut hash = fnv32a(FNV_OFFSET, &json);
    if let Some(count) = collision_count {
        hash = fnv32a(hash, &(count as u32).to_le_bytes());
    }
    safe_encode(&hash.to_string())
}

/// kube's SafeEncodeString: each character mapped into [`SAFE_ALPHABET`].
fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()] as char)
        .collect()
}

fn strip_hash_label(template: &mut PodTemplateSpec) {
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH);
    }
}

/// Whether two templates are the same but for the hash label (kube's EqualIgnoreHash). Like
/// kube's semantic equality, an empty list or map equals a missing one.
pub(crate) fn equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let normal = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        strip_hash_label(&mut t);
        let mut value = serde_json::to_value(&t).unwrap_or(Value::Null);
        drop_empty(&mut value);
        value
    };
    normal(a) == normal(b)
}

/// Removes null, empty-list and empty-map fields, at any depth.
fn drop_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for v in map.values_mut() {
                drop_empty(v);
            }
            map.retain(|_, v| match v {
                Value::Null => false,
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            });
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty),
        _ => {}
    }
}

/// `template` with the hash label set.
pub(crate) fn with_hash_label(template: &PodTemplateSpec, hash: &str) -> PodTemplateSpec {
    let mut template = template.clone();
    template
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(Default::default)
        .insert(POD_TEMPLATE_HASH.into(), hash.into());
    template
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "web".to_string())].into()),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "web".into(),
                    image: Some(image.into()),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
        }
    }

    #[test]
    fn fnv32a_matches_the_reference_vectors() {
        // The FNV-1a 32-bit test vectors ("", "a", "foobar").
        assert_eq!(fnv32a(FNV_OFFSET, b""), 0x811c_9dc5);
        assert_eq!(fnv32a(FNV_OFFSET, b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(FNV_OFFSET, b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn hashes_are_stable_safe_and_change_with_the_template_and_collisions() {
        let a = pod_template_hash(&template("nginx:1.27"), None);
        assert_eq!(a, pod_template_hash(&template("nginx:1.27"), None));
        assert!(a.bytes().all(|b| SAFE_ALPHABET.contains(&b)), "{a}");
        assert!((1..=10).contains(&a.len()), "{a}");
        assert_ne!(a, pod_template_hash(&template("nginx:1.28"), None));
        assert_ne!(a, pod_template_hash(&template("nginx:1.27"), Some(1)));
        assert_ne!(
            pod_template_hash(&template("nginx:1.27"), Some(1)),
            pod_template_hash(&template("nginx:1.27"), Some(2))
        );
        // The hash label itself does not feed the hash.
        assert_eq!(
            a,
            pod_template_hash(&with_hash_label(&template("nginx:1.27"), &a), None)
        );
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }

    #[test]
    fn equality_ignores_the_hash_label_and_empty_fields() {
        let t = template("nginx:1.27");
        assert!(equal_ignoring_hash(&t, &with_hash_label(&t, "abc")));
        assert!(!equal_ignoring_hash(&t, &template("nginx:1.28")));
        let mut empty_lists = t.clone();
        empty_lists.spec.as_mut().unwrap().volumes = Some(Vec::new());
        empty_lists.metadata.as_mut().unwrap().annotations = Some(Default::default());
        assert!(equal_ignoring_hash(&t, &empty_lists));
        let mut annotated = t.clone();
        annotated.metadata.as_mut().unwrap().annotations = Some(
            [(
                "kubectl.kubernetes.io/restartedAt".to_string(),
                "now".to_string(),
            )]
            .into(),
        );
        assert!(!equal_ignoring_hash(&t, &annotated));
    }
}
