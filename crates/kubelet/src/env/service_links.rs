//! The Docker-links style variables Kubernetes gives every container for the Services of its
//! namespace (`<NAME>_SERVICE_HOST`, `<NAME>_PORT_<port>_TCP_ADDR`...), and always for the
//! `kubernetes` Service of `default`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;

/// The Service every pod learns about, whatever `enableServiceLinks` says.
const MASTER_SERVICE: (&str, &str) = ("default", "kubernetes");

/// The variables for `services` as a pod in `namespace` sees them, sorted by Service name.
/// Headless Services and Services without a ClusterIP give none.
pub(crate) fn service_variables<'a>(
    namespace: &str,
    enable_service_links: bool,
    services: impl IntoIterator<Item = &'a Service>,
) -> Vec<(String, String)> {
    let mut chosen: BTreeMap<&str, &Service> = BTreeMap::new();
    for service in services {
        if cluster_ip(service).is_none() {
            continue;
        }
        let name = service.metadata.name.as_deref().unwrap_or_default();
        let ns = service.metadata.namespace.as_deref().unwrap_or_default();
        if (ns, name) == MASTER_SERVICE {
            // The pod's own namespace may hold a `kubernetes` Service of its own, which wins.
            chosen.entry(name).or_insert(service);
        } else if ns == namespace && enable_service_links {
            chosen.insert(name, service);
        }
    }
    chosen
        .into_iter()
        .flat_map(|(name, service)| variables(name, service))
        .collect()
}

fn cluster_ip(service: &Service) -> Option<&str> {
    let ip = service.spec.as_ref()?.cluster_ip.as_deref()?;
    (!ip.is_empty() && ip != "None").then_some(ip)
}

/// `my-svc` -> `MY_SVC`.
fn variable_name(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

fn variables(name: &str, service: &Service) -> Vec<(String, String)> {
    let Some(host) = cluster_ip(service) else {
        return Vec::new();
    };
    let prefix = variable_name(name);
    let ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    let mut vars = vec![(format!("{prefix}_SERVICE_HOST"), host.to_string())];
    if let Some(first) = ports.first() {
        vars.push((format!("{prefix}_SERVICE_PORT"), first.port.to_string()));
    }
    for port in ports {
        if let Some(port_name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            vars.push((
                format!("{prefix}_SERVICE_PORT_{}", variable_name(port_name)),
                port.port.to_string(),
            ));
        }
    }
    for (i, port) in ports.iter().enumerate() {
        let protocol = port.protocol.as_deref().unwrap_or("TCP");
        let lower = protocol.to_lowercase();
        let url = format!("{lower}://{host}:{}", port.port);
        if i == 0 {
            vars.push((format!("{prefix}_PORT"), url.clone()));
        }
        let port_prefix = format!("{prefix}_PORT_{}_{}", port.port, protocol.to_uppercase());
        vars.push((port_prefix.clone(), url));
        vars.push((format!("{port_prefix}_PROTO"), lower));
        vars.push((format!("{port_prefix}_PORT"), port.port.to_string()));
        vars.push((format!("{port_prefix}_ADDR"), host.to_string()));
    }
    vars
}
