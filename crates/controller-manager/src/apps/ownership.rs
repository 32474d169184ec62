//! ControllerRefs: which controller owns an object, and kube's claim rule for adopting orphans
//! that match a selector and releasing owned objects that stopped matching.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use serde_json::{Value, json};

/// The object's controlling owner reference, if any.
pub(crate) fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// The owner reference a controller puts on what it creates or adopts.
pub(crate) fn controller_ref(api_version: &str, kind: &str, owner: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: owner.name.clone().unwrap_or_default(),
        uid: owner.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// What a controller does with one object it might own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Owned and matching: it is ours.
    Keep,
    /// An orphan that matches: take it.
    Adopt,
    /// Ours but no longer matching: let it go.
    Release,
    /// Someone else's, or not ours to take.
    Ignore,
}

/// kube's ClaimObject rule for `object` and the controller `owner` (whose selector `matches`
/// the object or not). A controller being deleted neither adopts nor releases, and a
/// terminating orphan is left alone.
pub(crate) fn claim(owner: &ObjectMeta, object: &ObjectMeta, matches: bool) -> Claim {
    let owner_deleting = owner.deletion_timestamp.is_some();
    match controller_of(object) {
        Some(reference) => {
            if Some(&reference.uid) != owner.uid.as_ref() {
                Claim::Ignore
            } else if matches {
                Claim::Keep
            } else if owner_deleting {
                Claim::Ignore
            } else {
                Claim::Release
            }
        }
        None => {
            if owner_deleting
                || !matches
                || object.deletion_timestamp.is_some()
                || owner.namespace != object.namespace
            {
                Claim::Ignore
            } else {
                Claim::Adopt
            }
        }
    }
}

/// The strategic merge patch that adopts `object`: kube's, plus the object's resourceVersion so
/// two controllers racing for one orphan cannot both win.
pub(crate) fn adopt_patch(object: &ObjectMeta, reference: &OwnerReference) -> Value {
    json!({
        "metadata": {
            "ownerReferences": [reference],
            "uid": object.uid,
            "resourceVersion": object.resource_version,
        }
    })
}

/// The strategic merge patch that drops `owner_uid`'s reference from `object`.
pub(crate) fn release_patch(object: &ObjectMeta, owner_uid: &str) -> Value {
    json!({
        "metadata": {
            "ownerReferences": [{"$patch": "delete", "uid": owner_uid}],
            "uid": object.uid,
        }
    })
}

/// A selector compiled for matching; `None` (a missing selector) matches nothing, as in kube.
pub(crate) fn selector(
    selector: Option<&LabelSelector>,
) -> Result<apimachinery::selector::LabelSelector, String> {
    let value = serde_json::to_value(selector).map_err(|e| e.to_string())?;
    apimachinery::selector::LabelSelector::from_json(&value).map_err(|e| e.to_string())
}

/// Whether `selector` matches the object's labels.
pub(crate) fn matches(selector: &apimachinery::selector::LabelSelector, meta: &ObjectMeta) -> bool {
    match &meta.labels {
        Some(labels) => selector.matches(labels),
        None => selector.matches(&Default::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use std::collections::BTreeMap;

    fn meta(uid: &str, owner: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            namespace: Some("default".into()),
            name: Some(uid.into()),
            uid: Some(uid.into()),
            owner_references: owner.map(|o| {
                vec![OwnerReference {
                    uid: o.into(),
                    controller: Some(true),
                    ..OwnerReference::default()
                }]
            }),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn claims_follow_kube() {
        let owner = meta("rs", None);
        let mut deleting_owner = meta("rs", None);
        deleting_owner.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        let mut terminating_orphan = meta("p", None);
        terminating_orphan.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        let mut elsewhere = meta("p", None);
        elsewhere.namespace = Some("other".into());
        let cases = [
            (
                "ours, matching",
                &owner,
                meta("p", Some("rs")),
                true,
                Claim::Keep,
            ),
            (
                "ours, not matching",
                &owner,
                meta("p", Some("rs")),
                false,
                Claim::Release,
            ),
            (
                "ours, owner deleting",
                &deleting_owner,
                meta("p", Some("rs")),
                false,
                Claim::Ignore,
            ),
            (
                "someone else's",
                &owner,
                meta("p", Some("other")),
                true,
                Claim::Ignore,
            ),
            (
                "orphan, matching",
                &owner,
                meta("p", None),
                true,
                Claim::Adopt,
            ),
            (
                "orphan, not matching",
                &owner,
                meta("p", None),
                false,
                Claim::Ignore,
            ),
            (
                "orphan, owner deleting",
                &deleting_owner,
                meta("p", None),
                true,
                Claim::Ignore,
            ),
            (
                "terminating orphan",
                &owner,
                terminating_orphan,
                true,
                Claim::Ignore,
            ),
            ("orphan elsewhere", &owner, elsewhere, true, Claim::Ignore),
        ];
        for (name, owner, object, matching, want) in cases {
            assert_eq!(claim(owner, &object, matching), want, "{name}");
        }
    }

    #[test]
    fn selectors_match_like_kube() {
        let labels = |pairs: &[(&str, &str)]| ObjectMeta {
            labels: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..ObjectMeta::default()
        };
        let app = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            ..LabelSelector::default()
        };
        let s = selector(Some(&app)).unwrap();
        assert!(matches(&s, &labels(&[("app", "web"), ("x", "y")])));
        assert!(!matches(&s, &labels(&[("app", "db")])));
        assert!(!matches(&s, &ObjectMeta::default()));
        let nothing = selector(None).unwrap();
        assert!(!matches(&nothing, &labels(&[("app", "web")])));
        let everything = selector(Some(&LabelSelector::default())).unwrap();
        assert!(matches(&everything, &ObjectMeta::default()));
    }

    #[test]
    fn patches_name_the_owner_by_uid() {
        let pod = ObjectMeta {
            uid: Some("pod-uid".into()),
            resource_version: Some("7".into()),
            ..ObjectMeta::default()
        };
        let owner = ObjectMeta {
            name: Some("web".into()),
            uid: Some("rs-uid".into()),
            ..ObjectMeta::default()
        };
        let reference = controller_ref("apps/v1", "ReplicaSet", &owner);
        assert_eq!(
            adopt_patch(&pod, &reference),
            json!({"metadata": {"ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs-uid",
                "controller": true, "blockOwnerDeletion": true
            }], "uid": "pod-uid", "resourceVersion": "7"}})
        );
        assert_eq!(
            release_patch(&pod, "rs-uid"),
            json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": "rs-uid"}], "uid": "pod-uid"}})
        );
    }
}
