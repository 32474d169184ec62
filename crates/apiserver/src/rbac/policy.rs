//! The RBAC store the authorizer reads: Roles, ClusterRoles and their bindings, with ClusterRole
//! aggregation resolved as objects change.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use super::rule::{LabelSelector, Rule, Subject};
use super::{Attributes, Decision};
use crate::user::UserInfo;

#[derive(Debug, Clone, Default)]
struct ClusterRole {
    labels: BTreeMap<String, String>,
    rules: Vec<Rule>,
    /// `aggregationRule.clusterRoleSelectors`, when the role is aggregated.
    aggregation: Option<Vec<LabelSelector>>,
}

#[derive(Debug, Clone)]
struct Binding {
    /// Namespace of a RoleBinding; empty for ClusterRoleBindings.
    namespace: String,
    role_kind: String,
    role_name: String,
    subjects: Vec<Subject>,
}

impl Binding {
    fn applies_to(&self, user: &UserInfo) -> bool {
        self.subjects
            .iter()
            .any(|s| s.applies_to(user, &self.namespace))
    }
}

/// Roles, ClusterRoles, RoleBindings and ClusterRoleBindings (`rbac.authorization.k8s.io/v1`
/// JSON), and the decisions they imply.
///
/// Aggregated ClusterRoles (`aggregationRule`, as `admin`, `edit` and `view` are) are resolved
/// here, whenever a ClusterRole changes: their rules are the union of the rules of every
/// ClusterRole whose labels match a selector, resolved recursively, as kube-controller-manager's
/// clusterrole-aggregation controller would write them. Rules stored on an aggregated role are
/// ignored, as that controller overwrites them.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    cluster_roles: BTreeMap<String, ClusterRole>,
    /// Keyed by (namespace, name).
    roles: BTreeMap<(String, String), Vec<Rule>>,
    cluster_role_bindings: BTreeMap<String, Binding>,
    /// Keyed by (namespace, name).
    role_bindings: BTreeMap<(String, String), Binding>,
    /// Each ClusterRole's effective rules, aggregation resolved.
    effective: BTreeMap<String, Arc<[Rule]>>,
}

fn metadata(obj: &Value) -> (String, String) {
    let text = |key: &str| {
        obj["metadata"][key]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    (text("namespace"), text("name"))
}

fn binding(obj: &Value, namespace: String) -> Binding {
    Binding {
        namespace,
        role_kind: obj["roleRef"]["kind"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        role_name: obj["roleRef"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        subjects: Subject::list_from_json(&obj["subjects"]),
    }
}

impl Policy {
    /// Adds or replaces one object; `plural` is `clusterroles`, `roles`, `clusterrolebindings` or
    /// `rolebindings`. Other plurals are ignored.
    pub fn upsert(&mut self, plural: &str, obj: Value) {
        self.insert(plural, obj);
        if plural == "clusterroles" {
            self.resolve_aggregation();
        }
    }

    /// Replaces every object of `plural` with `objects`, as after a fresh list.
    pub fn replace_all(&mut self, plural: &str, objects: impl IntoIterator<Item = Value>) {
        match plural {
            "clusterroles" => self.cluster_roles.clear(),
            "roles" => self.roles.clear(),
            "clusterrolebindings" => self.cluster_role_bindings.clear(),
            "rolebindings" => self.role_bindings.clear(),
            _ => return,
        }
        for obj in objects {
            self.insert(plural, obj);
        }
        if plural == "clusterroles" {
            self.resolve_aggregation();
        }
    }

    fn insert(&mut self, plural: &str, obj: Value) {
        let (namespace, name) = metadata(&obj);
        match plural {
            "clusterroles" => {
                let labels = obj["metadata"]["labels"]
                    .as_object()
                    .map(|labels| {
                        labels
                            .iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                let aggregation = obj["aggregationRule"].as_object().map(|rule| {
                    rule.get("clusterRoleSelectors")
                        .and_then(Value::as_array)
                        .map(|selectors| selectors.iter().map(LabelSelector::from_json).collect())
                        .unwrap_or_default()
                });
                let role = ClusterRole {
                    labels,
                    rules: Rule::list_from_json(&obj["rules"]),
                    aggregation,
                };
                self.cluster_roles.insert(name, role);
            }
            "roles" => {
                self.roles
                    .insert((namespace, name), Rule::list_from_json(&obj["rules"]));
            }
            "clusterrolebindings" => {
                self.cluster_role_bindings
                    .insert(name, binding(&obj, String::new()));
            }
            "rolebindings" => {
                let binding = binding(&obj, namespace.clone());
                self.role_bindings.insert((namespace, name), binding);
            }
            _ => {}
        }
    }

    /// Removes one object; `namespace` is ignored for cluster-scoped kinds.
    pub fn remove(&mut self, plural: &str, namespace: &str, name: &str) {
        match plural {
            "clusterroles" => {
                let removed = self.cluster_roles.remove(name).is_some();
                if removed {
                    self.resolve_aggregation();
                }
            }
            "roles" => {
                self.roles
                    .remove(&(namespace.to_string(), name.to_string()));
            }
            "clusterrolebindings" => {
                self.cluster_role_bindings.remove(name);
            }
            "rolebindings" => {
                self.role_bindings
                    .remove(&(namespace.to_string(), name.to_string()));
            }
            _ => {}
        }
    }

    /// Allow when a rule of a role bound to the user covers the request: ClusterRoleBindings
    /// everywhere, RoleBindings in the request's namespace only.
    pub fn authorize(&self, attrs: &Attributes) -> Decision {
        let mut allowed = false;
        self.visit_rules(attrs.user, attrs.namespace, |rule| {
            allowed = rule.allows(attrs);
            allowed
        });
        if allowed {
            Decision::Allow
        } else {
            Decision::Deny
        }
    }

    /// What the user may do in `namespace` (SelfSubjectRulesReview's `resourceRules` and
    /// `nonResourceRules`), from every role bound to them there or cluster-wide.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<Value>, Vec<Value>) {
        let (mut resource_rules, mut non_resource_rules) = (Vec::new(), Vec::new());
        self.visit_rules(user, namespace, |rule| {
            if rule.non_resource_urls.is_empty() {
                resource_rules.push(rule.to_json());
            } else {
                non_resource_rules.push(rule.to_json());
            }
            false
        });
        (resource_rules, non_resource_rules)
    }

    /// The rules an aggregated ClusterRole has once aggregation is resolved, for writing back to
    /// the stored object (what kube-controller-manager's clusterrole-aggregation controller
    /// does); `None` when `name` is not an aggregated ClusterRole.
    pub fn aggregated_rules(&self, name: &str) -> Option<Vec<Value>> {
        self.cluster_roles.get(name)?.aggregation.as_ref()?;
        let rules = self.effective.get(name)?;
        Some(rules.iter().map(Rule::to_json).collect())
    }

    /// Calls `visit` with each rule bound to `user` cluster-wide or in `namespace`, until it
    /// returns true.
    fn visit_rules(&self, user: &UserInfo, namespace: &str, mut visit: impl FnMut(&Rule) -> bool) {
        for binding in self.cluster_role_bindings.values() {
            if binding.role_kind != "ClusterRole" || !binding.applies_to(user) {
                continue;
            }
            if let Some(rules) = self.effective.get(&binding.role_name)
                && rules.iter().any(&mut visit)
            {
                return;
            }
        }
        if namespace.is_empty() {
            return;
        }
        let start = (namespace.to_string(), String::new());
        for ((binding_namespace, _), binding) in self.role_bindings.range(start..) {
            if binding_namespace != namespace {
                break;
            }
            if !binding.applies_to(user) {
                continue;
            }
            let rules: Option<&[Rule]> = match binding.role_kind.as_str() {
                "ClusterRole" => self.effective.get(&binding.role_name).map(|r| &r[..]),
                "Role" => self
                    .roles
                    .get(&(namespace.to_string(), binding.role_name.clone()))
                    .map(|r| &r[..]),
                _ => None,
            };
            if rules.is_some_and(|rules| rules.iter().any(&mut visit)) {
                return;
            }
        }
    }

    fn resolve_aggregation(&mut self) {
        let mut effective = BTreeMap::new();
        for name in self.cluster_roles.keys() {
            let rules = self.effective_rules(name, &mut BTreeSet::new());
            effective.insert(name.clone(), Arc::from(rules));
        }
        self.effective = effective;
    }

    /// A role's own rules or, for an aggregated role, the union of its matching roles' effective
    /// rules in name order without repeats; `visiting` breaks selector cycles.
    fn effective_rules(&self, name: &str, visiting: &mut BTreeSet<String>) -> Vec<Rule> {
        let Some(role) = self.cluster_roles.get(name) else {
            return Vec::new();
        };
        let Some(selectors) = &role.aggregation else {
            return role.rules.clone();
        };
        if !visiting.insert(name.to_string()) {
            return Vec::new();
        }
        let mut rules: Vec<Rule> = Vec::new();
        for (other, candidate) in &self.cluster_roles {
            if other == name || !selectors.iter().any(|s| s.matches(&candidate.labels)) {
                continue;
            }
            for rule in self.effective_rules(other, visiting) {
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
        }
        visiting.remove(name);
        rules
    }
}
