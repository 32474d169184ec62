//! A container's environment, as the kubelet builds it: the runtime's base variables (PATH,
//! HOSTNAME, HOME and hakube's POD_IP), the Service variables, then `envFrom` and `env` (values,
//! `$(VAR)` references, and `valueFrom` field, resource, Secret and ConfigMap references). Pure:
//! the Secrets and ConfigMaps it needs are read first (see [`references`]) and passed in.

mod expand;
mod resources;
mod service_links;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{Container, EnvVar, EnvVarSource, ObjectFieldSelector, Pod};

pub(crate) use expand::expand;
pub(crate) use resources::Allocatable;
pub(crate) use service_links::service_variables;

/// The PATH a container starts with, as container images conventionally set it.
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A Secret or ConfigMap as the environment sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Found(BTreeMap<String, String>),
    NotFound,
    /// Reading it failed; the message says why.
    Failed(String),
}

/// The Secrets and ConfigMaps a container's environment names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct References {
    pub secrets: BTreeSet<String>,
    pub config_maps: BTreeSet<String>,
}

/// The Secrets and ConfigMaps read for a container, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sources {
    pub secrets: BTreeMap<String, Source>,
    pub config_maps: BTreeMap<String, Source>,
}

/// Everything a container's environment is made of.
#[derive(Debug, Clone)]
pub(crate) struct EnvInput<'a> {
    pub pod: &'a Pod,
    pub container: &'a Container,
    pub pod_ip: Ipv4Addr,
    pub host_ip: Ipv4Addr,
    /// The Service variables, from [`service_variables`].
    pub service_vars: &'a [(String, String)],
    pub sources: &'a Sources,
    pub allocatable: Allocatable,
    /// The container's own directory, its HOME.
    pub home: &'a str,
}

/// The Secrets and ConfigMaps `container`'s environment reads.
pub(crate) fn references(container: &Container) -> References {
    let mut refs = References::default();
    for from in container.env_from.iter().flatten() {
        if let Some(s) = &from.secret_ref {
            refs.secrets.insert(s.name.clone());
        }
        if let Some(c) = &from.config_map_ref {
            refs.config_maps.insert(c.name.clone());
        }
    }
    for source in container
        .env
        .iter()
        .flatten()
        .filter_map(|e| e.value_from.as_ref())
    {
        if let Some(s) = &source.secret_key_ref {
            refs.secrets.insert(s.name.clone());
        }
        if let Some(c) = &source.config_map_key_ref {
            refs.config_maps.insert(c.name.clone());
        }
    }
    refs
}

/// The pod's hostname: `spec.hostname`, or its name cut to a DNS label's 63 characters.
pub(crate) fn hostname(pod: &Pod) -> String {
    let spec_hostname = pod.spec.as_ref().and_then(|s| s.hostname.clone());
    let name = pod.metadata.name.clone().unwrap_or_default();
    match spec_hostname.filter(|h| !h.is_empty()) {
        Some(h) => h,
        None => {
            let cut: String = name.chars().take(63).collect();
            cut.trim_end_matches(['-', '.']).to_string()
        }
    }
}

/// An ordered environment in which a later value of a name replaces the earlier one in place.
#[derive(Default)]
struct Environment {
    vars: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

impl Environment {
    fn set(&mut self, name: &str, value: String) {
        match self.index.get(name) {
            Some(&i) => self.vars[i].1 = value,
            None => {
                self.index.insert(name.to_string(), self.vars.len());
                self.vars.push((name.to_string(), value));
            }
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.index.get(name).map(|&i| self.vars[i].1.as_str())
    }
}

/// Builds the environment. The error is the container's CreateContainerConfigError message.
pub(crate) fn build(input: &EnvInput<'_>) -> Result<Vec<(String, String)>, String> {
    let mut env = Environment::default();
    env.set("PATH", DEFAULT_PATH.to_string());
    env.set("HOSTNAME", hostname(input.pod));
    env.set("HOME", input.home.to_string());
    // hakube's convention: the built-in programs bind to the pod's own address.
    env.set("POD_IP", input.pod_ip.to_string());
    for (name, value) in input.service_vars {
        env.set(name, value.clone());
    }
    let namespace = input.pod.metadata.namespace.as_deref().unwrap_or("default");
    for from in input.container.env_from.iter().flatten() {
        let prefix = from.prefix.as_deref().unwrap_or_default();
        let (kind, name, optional, sources) = match (&from.secret_ref, &from.config_map_ref) {
            (Some(s), _) => ("secret", &s.name, s.optional, &input.sources.secrets),
            (None, Some(c)) => ("configmap", &c.name, c.optional, &input.sources.config_maps),
            (None, None) => continue,
        };
        let data = match sources.get(name.as_str()) {
            Some(Source::Found(data)) => data,
            Some(Source::NotFound) | None if optional == Some(true) => continue,
            Some(Source::NotFound) | None => return Err(format!("{kind} {name:?} not found")),
            Some(Source::Failed(message)) => return Err(message.clone()),
        };
        for (key, value) in data {
            let var = format!("{prefix}{key}");
            // Keys that are not valid variable names are left out, as Kubernetes does.
            if is_env_name(&var) {
                env.set(&var, value.clone());
            }
        }
    }
    for var in input.container.env.iter().flatten() {
        let value = match &var.value_from {
            Some(source) => match value_from(input, namespace, var, source)? {
                Some(value) => value,
                None => continue,
            },
            None => {
                let raw = var.value.as_deref().unwrap_or_default();
                expand(raw, |name| env.get(name))
            }
        };
        env.set(&var.name, value);
    }
    Ok(env.vars)
}

/// A `valueFrom` value; `None` for an optional reference to something missing.
fn value_from(
    input: &EnvInput<'_>,
    namespace: &str,
    var: &EnvVar,
    source: &EnvVarSource,
) -> Result<Option<String>, String> {
    if let Some(field) = &source.field_ref {
        return field_value(input, field).map(Some);
    }
    if let Some(selector) = &source.resource_field_ref {
        let container = match selector.container_name.as_deref().filter(|n| !n.is_empty()) {
            None => input.container,
            Some(name) => find_container(input.pod, name)
                .ok_or_else(|| format!("env {}: no container named {name:?}", var.name))?,
        };
        return resources::resource_value(selector, container, input.allocatable)
            .map(Some)
            .map_err(|e| format!("env {}: {e}", var.name));
    }
    let (kind, plural, name, key, optional, sources) =
        match (&source.secret_key_ref, &source.config_map_key_ref) {
            (Some(s), _) => (
                "secret",
                "Secret",
                &s.name,
                &s.key,
                s.optional,
                &input.sources.secrets,
            ),
            (None, Some(c)) => (
                "configmap",
                "ConfigMap",
                &c.name,
                &c.key,
                c.optional,
                &input.sources.config_maps,
            ),
            (None, None) => return Err(format!("env {}: valueFrom names no source", var.name)),
        };
    let optional = optional == Some(true);
    match sources.get(name.as_str()) {
        Some(Source::Found(data)) => match data.get(key.as_str()) {
            Some(value) => Ok(Some(value.clone())),
            None if optional => Ok(None),
            None => Err(format!(
                "couldn't find key {key} in {plural} {namespace}/{name}"
            )),
        },
        Some(Source::NotFound) | None if optional => Ok(None),
        Some(Source::NotFound) | None => Err(format!("{kind} {name:?} not found")),
        Some(Source::Failed(message)) => Err(message.clone()),
    }
}

fn find_container<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == name)
}

/// The downward API's pod fields.
fn field_value(input: &EnvInput<'_>, field: &ObjectFieldSelector) -> Result<String, String> {
    let meta = &input.pod.metadata;
    let spec = input.pod.spec.as_ref();
    let path = field.field_path.as_str();
    let text = |value: Option<&String>| value.cloned().unwrap_or_default();
    let value = match path {
        "metadata.name" => text(meta.name.as_ref()),
        "metadata.namespace" => text(meta.namespace.as_ref()),
        "metadata.uid" => text(meta.uid.as_ref()),
        "metadata.labels" => format_map(meta.labels.as_ref()),
        "metadata.annotations" => format_map(meta.annotations.as_ref()),
        "spec.nodeName" => text(spec.and_then(|s| s.node_name.as_ref())),
        "spec.serviceAccountName" => text(spec.and_then(|s| s.service_account_name.as_ref())),
        "status.podIP" | "status.podIPs" => input.pod_ip.to_string(),
        "status.hostIP" | "status.hostIPs" => input.host_ip.to_string(),
        _ => {
            let subscript = |prefix: &str| {
                path.strip_prefix(prefix)?
                    .strip_suffix("']")
                    .map(str::to_string)
            };
            if let Some(key) = subscript("metadata.labels['") {
                text(meta.labels.as_ref().and_then(|l| l.get(&key)))
            } else if let Some(key) = subscript("metadata.annotations['") {
                text(meta.annotations.as_ref().and_then(|a| a.get(&key)))
            } else {
                return Err(format!("unsupported fieldPath: {path}"));
            }
        }
    };
    Ok(value)
}

/// All labels or annotations, one `key="value"` a line, as the downward API writes them.
fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a name can be an environment variable (Kubernetes allows any printable ASCII but
/// `=`, and not starting with a digit).
fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_graphic() && c != '=')
}

#[cfg(test)]
mod tests;
