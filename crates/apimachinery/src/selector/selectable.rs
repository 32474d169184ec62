//! Which fields each resource lets clients select on, how kube-apiserver words a refusal, and how
//! each field's string value is read from an object's JSON.
//!
//! Two kube tables meet here: the field label conversion functions registered per kind (what a
//! selector may name, and the refusal text) and the registry's selectable field sets (how a value
//! is computed). A resource without a conversion function gets the scheme default, which offers
//! only `metadata.name` and `metadata.namespace`; that includes every apps/v1 kind, so apps/v1
//! ReplicaSets do not offer `status.replicas` although their registry computes it.

use serde_json::Value;

use super::SelectorError;

/// How one selectable field's value is read from the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// A string at this path; missing reads as empty.
    Text(&'static [&'static str]),
    /// A boolean at this path, printed `true`/`false`; missing reads as `false`.
    Flag(&'static [&'static str]),
    /// An integer at this path; missing reads as `0`.
    Count(&'static [&'static str]),
    /// The pod's primary IP: `status.podIPs[0].ip`, else the older `status.podIP`.
    PodIp,
    /// An event's reporter: `source.component`, else `reportingComponent`.
    EventReporter,
    /// Accepted by the conversion function but never computed by the registry, so it always
    /// reads as empty (pods' `status.podIPs`).
    AlwaysEmpty,
}

impl Source {
    pub(super) fn read(self, obj: &Value) -> String {
        match self {
            Source::Text(path) => text(obj, path),
            Source::Flag(path) => at(obj, path)
                .and_then(Value::as_bool)
                .unwrap_or(false)
                .to_string(),
            Source::Count(path) => at(obj, path)
                .and_then(Value::as_i64)
                .unwrap_or(0)
                .to_string(),
            Source::PodIp => {
                let first = text(obj, &["status", "podIPs", "0", "ip"]);
                if first.is_empty() {
                    text(obj, &["status", "podIP"])
                } else {
                    first
                }
            }
            Source::EventReporter => {
                let component = text(obj, &["source", "component"]);
                if component.is_empty() {
                    text(obj, &["reportingComponent"])
                } else {
                    component
                }
            }
            Source::AlwaysEmpty => String::new(),
        }
    }
}

fn at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, step| match v {
        Value::Array(items) => items.get(step.parse::<usize>().ok()?),
        _ => v.get(step),
    })
}

fn text(obj: &Value, path: &[&str]) -> String {
    at(obj, path)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// How a resource words its refusal of an unsupported field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// `field label not supported: f`
    Unsupported,
    /// `field label "f" not supported for Kind`
    UnsupportedFor(&'static str),
    /// `"f" is not a known field selector: only "metadata.name", "metadata.namespace"`
    OnlyMetadata,
}

/// The selectable fields of one resource.
#[derive(Debug, Clone, Copy)]
pub(super) struct Selectable {
    group: &'static str,
    plural: &'static str,
    fields: &'static [(&'static str, Source)],
    /// Old names a selector may still use, with the field they mean (pods' `spec.host`).
    aliases: &'static [(&'static str, &'static str)],
    refusal: Refusal,
}

impl Selectable {
    /// How to read `field`, or `None` when the resource does not offer it.
    pub(super) fn source(&self, field: &str) -> Option<Source> {
        let field = self.canonical(field);
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, s)| *s)
    }

    /// The field's current name, when `field` is an alias of it.
    pub(super) fn canonical<'a>(&self, field: &'a str) -> &'a str {
        self.aliases
            .iter()
            .find(|(old, _)| *old == field)
            .map_or(field, |(_, new)| new)
    }

    pub(super) fn refusal(&self, field: &str) -> SelectorError {
        match self.refusal {
            Refusal::Unsupported => SelectorError::FieldLabelNotSupported(field.to_string()),
            Refusal::UnsupportedFor(kind) => SelectorError::FieldLabelNotSupportedFor {
                field: field.to_string(),
                kind,
            },
            Refusal::OnlyMetadata => SelectorError::UnknownField(field.to_string()),
        }
    }
}

const NAME: (&str, Source) = ("metadata.name", Source::Text(&["metadata", "name"]));
const NAMESPACE: (&str, Source) = (
    "metadata.namespace",
    Source::Text(&["metadata", "namespace"]),
);

/// Every resource not listed in [`TABLE`]: the scheme's default conversion.
const DEFAULT: Selectable = Selectable {
    group: "",
    plural: "",
    fields: &[NAME, NAMESPACE],
    aliases: &[],
    refusal: Refusal::OnlyMetadata,
};

/// The resources with their own field label conversion, as kube-apiserver 1.33 registers them.
static TABLE: &[Selectable] = &[
    Selectable {
        group: "",
        plural: "pods",
        fields: &[
            NAME,
            NAMESPACE,
            ("spec.nodeName", Source::Text(&["spec", "nodeName"])),
            (
                "spec.restartPolicy",
                Source::Text(&["spec", "restartPolicy"]),
            ),
            (
                "spec.schedulerName",
                Source::Text(&["spec", "schedulerName"]),
            ),
            (
                "spec.serviceAccountName",
                Source::Text(&["spec", "serviceAccountName"]),
            ),
            ("spec.hostNetwork", Source::Flag(&["spec", "hostNetwork"])),
            ("status.phase", Source::Text(&["status", "phase"])),
            ("status.podIP", Source::PodIp),
            ("status.podIPs", Source::AlwaysEmpty),
            (
                "status.nominatedNodeName",
                Source::Text(&["status", "nominatedNodeName"]),
            ),
        ],
        // Old v1 clients still send `spec.host`.
        aliases: &[("spec.host", "spec.nodeName")],
        refusal: Refusal::Unsupported,
    },
    Selectable {
        group: "",
        plural: "nodes",
        // Nodes are cluster-scoped and their conversion does not list `metadata.namespace`.
        fields: &[
            NAME,
            (
                "spec.unschedulable",
                Source::Flag(&["spec", "unschedulable"]),
            ),
        ],
        aliases: &[],
        refusal: Refusal::Unsupported,
    },
    Selectable {
        group: "",
        plural: "replicationcontrollers",
        fields: &[
            NAME,
            NAMESPACE,
            ("status.replicas", Source::Count(&["status", "replicas"])),
        ],
        aliases: &[],
        refusal: Refusal::Unsupported,
    },
    Selectable {
        group: "",
        plural: "events",
        fields: &[
            NAME,
            NAMESPACE,
            (
                "involvedObject.kind",
                Source::Text(&["involvedObject", "kind"]),
            ),
            (
                "involvedObject.namespace",
                Source::Text(&["involvedObject", "namespace"]),
            ),
            (
                "involvedObject.name",
                Source::Text(&["involvedObject", "name"]),
            ),
            (
                "involvedObject.uid",
                Source::Text(&["involvedObject", "uid"]),
            ),
            (
                "involvedObject.apiVersion",
                Source::Text(&["involvedObject", "apiVersion"]),
            ),
            (
                "involvedObject.resourceVersion",
                Source::Text(&["involvedObject", "resourceVersion"]),
            ),
            (
                "involvedObject.fieldPath",
                Source::Text(&["involvedObject", "fieldPath"]),
            ),
            ("reason", Source::Text(&["reason"])),
            ("reportingComponent", Source::Text(&["reportingComponent"])),
            ("source", Source::EventReporter),
            ("type", Source::Text(&["type"])),
        ],
        aliases: &[],
        refusal: Refusal::Unsupported,
    },
    Selectable {
        group: "",
        plural: "namespaces",
        fields: &[NAME, ("status.phase", Source::Text(&["status", "phase"]))],
        aliases: &[],
        refusal: Refusal::Unsupported,
    },
    Selectable {
        group: "",
        plural: "secrets",
        fields: &[NAME, NAMESPACE, ("type", Source::Text(&["type"]))],
        aliases: &[],
        refusal: Refusal::Unsupported,
    },
    Selectable {
        group: "",
        plural: "services",
        fields: &[
            NAME,
            NAMESPACE,
            ("spec.clusterIP", Source::Text(&["spec", "clusterIP"])),
            ("spec.type", Source::Text(&["spec", "type"])),
        ],
        aliases: &[],
        refusal: Refusal::Unsupported,
    },
    Selectable {
        group: "batch",
        plural: "jobs",
        fields: &[
            NAME,
            NAMESPACE,
            ("status.successful", Source::Count(&["status", "succeeded"])),
        ],
        aliases: &[],
        refusal: Refusal::UnsupportedFor("Job"),
    },
    Selectable {
        group: "certificates.k8s.io",
        plural: "certificatesigningrequests",
        fields: &[
            NAME,
            ("spec.signerName", Source::Text(&["spec", "signerName"])),
        ],
        aliases: &[],
        refusal: Refusal::Unsupported,
    },
];

/// The selectable fields of a resource, by API group and URL plural.
pub(super) fn lookup(group: &str, plural: &str) -> &'static Selectable {
    TABLE
        .iter()
        .find(|s| s.group == group && s.plural == plural)
        .unwrap_or(&DEFAULT)
}
