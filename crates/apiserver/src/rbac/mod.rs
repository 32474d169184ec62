//! RBAC: the authorizer over Roles and Bindings, and the default bootstrap policy.
//!
//! The authorizer answers kube-apiserver's question "may this user do this?" from the RBAC
//! objects the server holds ([`Policy`]); [`forbidden_message`] words the refusal exactly as
//! kube-apiserver does; [`bootstrap_policy`] is the set of default roles and bindings a new
//! cluster starts with.

mod bootstrap;
mod bootstrap_cluster;
mod bootstrap_system;
mod policy;
mod rule;
#[cfg(test)]
mod tests;

pub use self::bootstrap::bootstrap_policy;
pub use self::policy::Policy;
use crate::user::UserInfo;

/// What a request asks to do, as the authorizer sees it.
#[derive(Debug, Clone, Copy)]
pub struct Attributes<'a> {
    pub user: &'a UserInfo,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, or
    /// another verb such as `impersonate`, `escalate`, `bind`, `approve`; for non-resource
    /// requests the lower-case HTTP method (`get`, `post`, ...).
    pub verb: &'a str,
    /// Empty for cluster-scoped resources and non-resource requests.
    pub namespace: &'a str,
    /// Empty for the core group.
    pub api_group: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    /// The object's name; empty for lists, watches of collections and creates.
    pub name: &'a str,
    /// False for non-resource URLs such as `/healthz` or `/version`.
    pub resource_request: bool,
    /// The request path, matched against `nonResourceURLs`.
    pub path: &'a str,
}

/// The authorizer's answer. RBAC only ever allows; anything no rule allows is denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
}

/// Kube-apiserver's 403 message, e.g. `pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"`.
///
/// The forms: `<resource>[.<group>] ["<name>"] is forbidden: User "<user>" cannot <verb>
/// resource "<resource>[/<subresource>]" in API group "<group>" in the namespace "<ns>"` (or
/// `at the cluster scope`), and `forbidden: User "<user>" cannot <verb> path "<path>"` for
/// non-resource URLs.
pub fn forbidden_message(attrs: &Attributes) -> String {
    let user = &attrs.user.name;
    if !attrs.resource_request {
        return format!(
            "forbidden: User {user:?} cannot {} path {:?}",
            attrs.verb, attrs.path
        );
    }
    let mut resource = attrs.resource.to_string();
    if !attrs.subresource.is_empty() {
        resource = format!("{resource}/{}", attrs.subresource);
    }
    let reason = if attrs.namespace.is_empty() {
        format!(
            "User {user:?} cannot {} resource {resource:?} in API group {:?} at the cluster scope",
            attrs.verb, attrs.api_group
        )
    } else {
        format!(
            "User {user:?} cannot {} resource {resource:?} in API group {:?} in the namespace {:?}",
            attrs.verb, attrs.api_group, attrs.namespace
        )
    };
    // The qualified resource names the resource without its subresource, as `NewForbidden` does.
    let qualified = if attrs.api_group.is_empty() {
        attrs.resource.to_string()
    } else {
        format!("{}.{}", attrs.resource, attrs.api_group)
    };
    match (qualified.is_empty(), attrs.name.is_empty()) {
        (true, _) => format!("forbidden: {reason}"),
        (false, true) => format!("{qualified} is forbidden: {reason}"),
        (false, false) => format!("{qualified} {:?} is forbidden: {reason}", attrs.name),
    }
}
