//! PolicyRules, subjects and label selectors as RBAC evaluates them.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Attributes;
use crate::user::UserInfo;

/// A `rbac.authorization.k8s.io/v1` PolicyRule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Rule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

pub(super) fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn has(list: &[String], wanted: &str) -> bool {
    list.iter().any(|item| item == "*" || item == wanted)
}

impl Rule {
    pub(super) fn from_json(value: &Value) -> Rule {
        Rule {
            verbs: strings(&value["verbs"]),
            api_groups: strings(&value["apiGroups"]),
            resources: strings(&value["resources"]),
            resource_names: strings(&value["resourceNames"]),
            non_resource_urls: strings(&value["nonResourceURLs"]),
        }
    }

    pub(super) fn list_from_json(value: &Value) -> Vec<Rule> {
        value
            .as_array()
            .map(|rules| rules.iter().map(Rule::from_json).collect())
            .unwrap_or_default()
    }

    /// The rule in API form, leaving out empty lists as the API server does.
    pub(super) fn to_json(&self) -> Value {
        let mut rule = serde_json::Map::new();
        let mut put = |key: &str, list: &[String]| {
            if !list.is_empty() {
                rule.insert(key.to_string(), json!(list));
            }
        };
        put("verbs", &self.verbs);
        put("apiGroups", &self.api_groups);
        put("resources", &self.resources);
        put("resourceNames", &self.resource_names);
        put("nonResourceURLs", &self.non_resource_urls);
        Value::Object(rule)
    }

    /// Whether this rule allows the request, by kube-apiserver's matching rules.
    pub(super) fn allows(&self, attrs: &Attributes) -> bool {
        if !has(&self.verbs, attrs.verb) {
            return false;
        }
        if !attrs.resource_request {
            return self.matches_url(attrs.path);
        }
        has(&self.api_groups, attrs.api_group)
            && self.matches_resource(attrs.resource, attrs.subresource)
            && (self.resource_names.is_empty()
                || self.resource_names.iter().any(|n| n == attrs.name))
    }

    /// `*`, the exact `resource` or `resource/subresource`, or `*/subresource`.
    fn matches_resource(&self, resource: &str, subresource: &str) -> bool {
        self.resources.iter().any(|rule| {
            if rule == "*" {
                return true;
            }
            if subresource.is_empty() {
                return rule == resource;
            }
            let (rule_resource, rule_subresource) = rule.split_once('/').unwrap_or((rule, ""));
            rule_subresource == subresource && (rule_resource == resource || rule_resource == "*")
        })
    }

    /// `*`, the exact path, or a prefix ending in `*` such as `/apis/*`.
    fn matches_url(&self, path: &str) -> bool {
        self.non_resource_urls.iter().any(|rule| {
            rule == "*"
                || rule == path
                || rule
                    .strip_suffix('*')
                    .is_some_and(|prefix| path.starts_with(prefix))
        })
    }
}

/// A binding's subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Subject {
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

impl Subject {
    pub(super) fn list_from_json(value: &Value) -> Vec<Subject> {
        value
            .as_array()
            .map(|subjects| {
                subjects
                    .iter()
                    .map(|s| Subject {
                        kind: s["kind"].as_str().unwrap_or_default().to_string(),
                        name: s["name"].as_str().unwrap_or_default().to_string(),
                        namespace: s["namespace"].as_str().unwrap_or_default().to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the subject names `user`. A ServiceAccount subject without a namespace means the
    /// binding's own namespace, `binding_namespace` (empty for ClusterRoleBindings).
    pub(super) fn applies_to(&self, user: &UserInfo, binding_namespace: &str) -> bool {
        match self.kind.as_str() {
            "User" => user.name == self.name,
            "Group" => user.in_group(&self.name),
            "ServiceAccount" => {
                let namespace = if self.namespace.is_empty() {
                    binding_namespace
                } else {
                    &self.namespace
                };
                !namespace.is_empty()
                    && user.name == format!("system:serviceaccount:{namespace}:{}", self.name)
            }
            _ => false,
        }
    }
}

/// A `metav1.LabelSelector`: `matchLabels` and `matchExpressions`, all of which must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct LabelSelector {
    match_labels: BTreeMap<String, String>,
    /// (key, operator, values)
    match_expressions: Vec<(String, String, Vec<String>)>,
}

impl LabelSelector {
    pub(super) fn from_json(value: &Value) -> LabelSelector {
        let match_labels = value["matchLabels"]
            .as_object()
            .map(|labels| {
                labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let match_expressions = value["matchExpressions"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|e| {
                        (
                            e["key"].as_str().unwrap_or_default().to_string(),
                            e["operator"].as_str().unwrap_or_default().to_string(),
                            strings(&e["values"]),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        LabelSelector {
            match_labels,
            match_expressions,
        }
    }

    /// An empty selector matches everything; an unknown operator matches nothing.
    pub(super) fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let labels_hold = self
            .match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v));
        let expressions_hold = self.match_expressions.iter().all(|(key, op, values)| {
            let value = labels.get(key);
            match op.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        });
        labels_hold && expressions_hold
    }
}
