//! What a request asks for: the path and method turned into Kubernetes' request attributes
//! (verb, group, version, namespace, resource, name, subresource), as RBAC and the handlers see them.

use apimachinery::resource::{self, ResourceInfo};

/// A request for a served resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRequest {
    /// Kubernetes' verb: get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: &'static str,
    pub info: &'static ResourceInfo,
    /// The namespace in the path; empty for cluster-scoped requests and all-namespace lists.
    pub namespace: String,
    pub name: String,
    pub subresource: String,
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A served resource (or one of its objects or subresources).
    Resource(ResourceRequest),
    /// `/api`: the core group's versions, or aggregated discovery of the core group.
    ApiRoot,
    /// `/apis`: the group list, or aggregated discovery of the named groups.
    ApisRoot,
    /// `/apis/<group>`.
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`: the resource list of one group-version.
    GroupVersion { group: String, version: String },
    /// Anything else (`/version`, `/healthz`, `/openapi/v3`...), authorized as a non-resource URL.
    NonResource(String),
    /// A resource path of a group or resource this server does not serve.
    Unknown,
}

impl Target {
    /// The verb RBAC checks: for resources the Kubernetes verb, else the lower-case HTTP method.
    pub fn verb(&self, method: &str) -> String {
        match self {
            Target::Resource(r) => r.verb.to_string(),
            _ => method.to_ascii_lowercase(),
        }
    }
}

/// Parses a request path and method. `watch` is whether the query asked for a watch
/// (`?watch=true`); `path` has no query string.
pub fn parse(method: &str, path: &str, watch: bool) -> Target {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api"] => return Target::ApiRoot,
        ["apis"] => return Target::ApisRoot,
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group] => {
            return if resource::groups().contains(group) {
                Target::Group(group.to_string())
            } else {
                Target::Unknown
            };
        }
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Target::NonResource(path.to_string()),
    };
    if rest.is_empty() {
        return if resource::resources_of(group, version).next().is_some() {
            Target::GroupVersion {
                group: group.into(),
                version: version.into(),
            }
        } else {
            Target::Unknown
        };
    }
    // `namespaces/<ns>/<resource>...` scopes a namespaced resource; `namespaces/<name>[/<sub>]`
    // alone is the namespace object itself.
    let (namespace, rest) = match rest {
        ["namespaces", ns, resource, more @ ..] if !is_namespace_subresource(resource, more) => {
            (*ns, &rest[2..])
        }
        _ => ("", rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, "", ""),
        [plural, name] => (*plural, *name, ""),
        [plural, name, sub] => (*plural, *name, *sub),
        // Proxy paths carry more segments after the subresource; they are one subresource call.
        [plural, name, sub, ..] if *sub == "proxy" => (*plural, *name, *sub),
        _ => return Target::Unknown,
    };
    let Some(info) = resource::find(group, version, plural) else {
        return Target::Unknown;
    };
    if !info.namespaced && !namespace.is_empty() {
        return Target::Unknown;
    }
    let verb = match (method, name.is_empty()) {
        ("GET" | "HEAD", true) if watch => "watch",
        ("GET" | "HEAD", true) => "list",
        ("GET" | "HEAD", false) if watch => "watch",
        ("GET" | "HEAD", false) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "deletecollection",
        ("DELETE", false) => "delete",
        _ => "unknown",
    };
    Target::Resource(ResourceRequest {
        verb,
        info,
        namespace: namespace.to_string(),
        name: name.to_string(),
        subresource: subresource.to_string(),
    })
}

/// `namespaces/<ns>/status` and `namespaces/<ns>/finalize` are subresources of the namespace,
/// not a resource called `status` inside it.
fn is_namespace_subresource(segment: &str, more: &[&str]) -> bool {
    more.is_empty() && (segment == "status" || segment == "finalize")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(method: &str, path: &str, watch: bool) -> (String, String, String, String, String) {
        match parse(method, path, watch) {
            Target::Resource(r) => (
                r.verb.into(),
                r.info.plural.into(),
                r.namespace,
                r.name,
                r.subresource,
            ),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn resource_paths() {
        let s = |v: &str| v.to_string();
        let cases = [
            (
                "GET",
                "/api/v1/pods",
                false,
                (s("list"), s("pods"), s(""), s(""), s("")),
            ),
            (
                "GET",
                "/api/v1/namespaces/default/pods",
                true,
                (s("watch"), s("pods"), s("default"), s(""), s("")),
            ),
            (
                "GET",
                "/api/v1/namespaces/default/pods/web",
                false,
                (s("get"), s("pods"), s("default"), s("web"), s("")),
            ),
            (
                "PUT",
                "/api/v1/namespaces/default/pods/web/status",
                false,
                (s("update"), s("pods"), s("default"), s("web"), s("status")),
            ),
            (
                "POST",
                "/api/v1/namespaces/default/pods/web/binding",
                false,
                (s("create"), s("pods"), s("default"), s("web"), s("binding")),
            ),
            (
                "GET",
                "/api/v1/namespaces/kube-system",
                false,
                (s("get"), s("namespaces"), s(""), s("kube-system"), s("")),
            ),
            (
                "PUT",
                "/api/v1/namespaces/demo/finalize",
                false,
                (
                    s("update"),
                    s("namespaces"),
                    s(""),
                    s("demo"),
                    s("finalize"),
                ),
            ),
            (
                "DELETE",
                "/api/v1/namespaces/demo",
                false,
                (s("delete"), s("namespaces"), s(""), s("demo"), s("")),
            ),
            (
                "GET",
                "/api/v1/nodes/n1",
                false,
                (s("get"), s("nodes"), s(""), s("n1"), s("")),
            ),
            (
                "GET",
                "/api/v1/nodes/n1/proxy/configz",
                false,
                (s("get"), s("nodes"), s(""), s("n1"), s("proxy")),
            ),
            (
                "DELETE",
                "/apis/apps/v1/namespaces/prod/deployments",
                false,
                (
                    s("deletecollection"),
                    s("deployments"),
                    s("prod"),
                    s(""),
                    s(""),
                ),
            ),
            (
                "PATCH",
                "/apis/apps/v1/namespaces/prod/deployments/api/scale",
                false,
                (
                    s("patch"),
                    s("deployments"),
                    s("prod"),
                    s("api"),
                    s("scale"),
                ),
            ),
            (
                "POST",
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                false,
                (
                    s("create"),
                    s("selfsubjectaccessreviews"),
                    s(""),
                    s(""),
                    s(""),
                ),
            ),
        ];
        for (method, path, watch, expected) in cases {
            assert_eq!(resource(method, path, watch), expected, "{method} {path}");
        }
    }

    #[test]
    fn other_paths() {
        let cases = [
            ("/api", Target::ApiRoot),
            ("/apis", Target::ApisRoot),
            ("/apis/apps", Target::Group("apps".into())),
            ("/apis/nope", Target::Unknown),
            (
                "/api/v1",
                Target::GroupVersion {
                    group: "".into(),
                    version: "v1".into(),
                },
            ),
            (
                "/apis/apps/v1",
                Target::GroupVersion {
                    group: "apps".into(),
                    version: "v1".into(),
                },
            ),
            ("/apis/apps/v2", Target::Unknown),
            ("/api/v1/widgets", Target::Unknown),
            ("/api/v1/namespaces/default/nodes", Target::Unknown),
            ("/version", Target::NonResource("/version".into())),
            (
                "/openapi/v3/apis/apps/v1",
                Target::NonResource("/openapi/v3/apis/apps/v1".into()),
            ),
        ];
        for (path, expected) in cases {
            assert_eq!(parse("GET", path, false), expected, "{path}");
        }
    }
}
