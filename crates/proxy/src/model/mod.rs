//! The proxy's view of the cluster, built purely from Services and EndpointSlices: for every
//! Service port, where it is exposed and which endpoints stand behind it.
//!
//! This is where the API's rules are applied once, so the rest of the proxy sees plain data:
//! which Services a proxy handles at all, how a Service port finds its EndpointSlice port (by the
//! Service port's name, which the EndpointSlice controller copies after resolving `targetPort`),
//! and what makes an endpoint ready, serving or terminating.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Service, ServicePort as ApiServicePort};
use k8s_openapi::api::discovery::v1::{Endpoint as ApiEndpoint, EndpointSlice};

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A Service carrying this label is handled by the named alternative proxy, never by kube-proxy.
pub const SERVICE_PROXY_NAME_LABEL: &str = "service.kubernetes.io/service-proxy-name";

/// The ClientIP affinity timeout when a Service does not set one: 3 hours, the API's default.
pub const DEFAULT_AFFINITY_TIMEOUT: Duration = Duration::from_secs(10_800);

/// One port of one Service, named as kube-proxy names it in its logs: `ns/name:port`, or
/// `ns/name` for an unnamed port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServicePortName {
    pub namespace: String,
    pub name: String,
    /// The Service port's `name`; empty for the single unnamed port a Service may have.
    pub port: String,
}

impl ServicePortName {
    pub fn new(namespace: &str, name: &str, port: &str) -> ServicePortName {
        ServicePortName {
            namespace: namespace.to_string(),
            name: name.to_string(),
            port: port.to_string(),
        }
    }
}

impl fmt::Display for ServicePortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)?;
        if !self.port.is_empty() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// What the proxy serves for one TCP Service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    /// The Service's IPv4 cluster IPs; empty for a headless Service.
    pub cluster_ips: Vec<Ipv4Addr>,
    /// The port on the cluster IPs.
    pub port: u16,
    /// The port on every node's addresses, for NodePort and LoadBalancer Services.
    pub node_port: Option<u16>,
    /// `sessionAffinity: ClientIP`, with its timeout.
    pub affinity: Option<Duration>,
    /// `internalTrafficPolicy: Local`: cluster-IP traffic goes only to this node's endpoints.
    pub internal_local: bool,
    /// `externalTrafficPolicy: Local`: node-port traffic goes only to this node's endpoints.
    pub external_local: bool,
    /// Every endpoint of the port, ready or not, sorted by address and without duplicates.
    pub endpoints: Vec<Endpoint>,
}

impl ServicePort {
    /// The cluster IP listening addresses, `ip:port`, as kube-proxy prints a service port.
    pub fn cluster_addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.cluster_ips
            .iter()
            .map(|ip| SocketAddr::V4(SocketAddrV4::new(*ip, self.port)))
    }
}

/// One endpoint of a Service port, with its conditions already interpreted.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub addr: SocketAddrV4,
    /// The node the endpoint runs on, for the Local traffic policies.
    pub node_name: Option<String>,
    /// Takes new connections (`ready`, which the API reads as true when unset; or any endpoint
    /// of a Service with `publishNotReadyAddresses`).
    pub ready: bool,
    /// Would take new connections if it were not terminating.
    pub serving: bool,
    pub terminating: bool,
}

/// A Service port the proxy cannot serve, reported so the caller can say so once.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unsupported {
    /// `ns/name` of the Service.
    pub service: String,
    /// The port's protocol, e.g. `UDP`.
    pub protocol: String,
}

/// Every TCP Service port this proxy handles, with its endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceModel {
    pub ports: BTreeMap<ServicePortName, ServicePort>,
    /// Ports on protocols other than TCP, which are not proxied.
    pub unsupported: BTreeSet<Unsupported>,
}

impl ServiceModel {
    /// Builds the model from every Service and EndpointSlice the proxy watches.
    pub fn build<'a>(
        services: impl IntoIterator<Item = &'a Service>,
        slices: impl IntoIterator<Item = &'a EndpointSlice>,
    ) -> ServiceModel {
        // Slices grouped by the Service they belong to, so each Service reads only its own.
        let mut by_service: BTreeMap<(&str, &str), Vec<&EndpointSlice>> = BTreeMap::new();
        for slice in slices {
            let namespace = slice.metadata.namespace.as_deref().unwrap_or_default();
            let labels = slice.metadata.labels.as_ref();
            let Some(service) = labels.and_then(|l| l.get(SERVICE_NAME_LABEL)) else {
                continue;
            };
            // Kubernetes also has IPv6 and FQDN slices; the process driver's addresses are IPv4.
            if slice.address_type == "IPv4" {
                by_service
                    .entry((namespace, service.as_str()))
                    .or_default()
                    .push(slice);
            }
        }
        let mut model = ServiceModel::default();
        for service in services {
            let namespace = service.metadata.namespace.as_deref().unwrap_or_default();
            let name = service.metadata.name.as_deref().unwrap_or_default();
            let slices = by_service
                .get(&(namespace, name))
                .map(Vec::as_slice)
                .unwrap_or_default();
            model.add_service(namespace, name, service, slices);
        }
        model
    }

    fn add_service(
        &mut self,
        namespace: &str,
        name: &str,
        service: &Service,
        slices: &[&EndpointSlice],
    ) {
        let Some(spec) = &service.spec else {
            return;
        };
        let labels = service.metadata.labels.as_ref();
        if labels.is_some_and(|l| l.contains_key(SERVICE_PROXY_NAME_LABEL)) {
            return;
        }
        let service_type = spec.type_.as_deref().unwrap_or("ClusterIP");
        if service_type == "ExternalName" {
            return;
        }
        let cluster_ips = cluster_ips(
            spec.cluster_ips.as_deref().unwrap_or_default(),
            spec.cluster_ip.as_deref(),
        );
        let exposes_node_ports = matches!(service_type, "NodePort" | "LoadBalancer");
        let affinity = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
            spec.session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
                .and_then(|s| u64::try_from(s).ok())
                .map_or(DEFAULT_AFFINITY_TIMEOUT, Duration::from_secs)
        });
        let publish_not_ready = spec.publish_not_ready_addresses == Some(true);
        for port in spec.ports.as_deref().unwrap_or_default() {
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            if protocol != "TCP" {
                self.unsupported.insert(Unsupported {
                    service: format!("{namespace}/{name}"),
                    protocol: protocol.to_string(),
                });
                continue;
            }
            let Some(service_port) = port_number(port.port) else {
                continue;
            };
            let port_name = port.name.as_deref().unwrap_or_default();
            let node_port = if exposes_node_ports {
                port.node_port.and_then(port_number)
            } else {
                None
            };
            let endpoints = endpoints(slices, port, publish_not_ready);
            self.ports.insert(
                ServicePortName::new(namespace, name, port_name),
                ServicePort {
                    cluster_ips: cluster_ips.clone(),
                    port: service_port,
                    node_port,
                    affinity,
                    internal_local: spec.internal_traffic_policy.as_deref() == Some("Local"),
                    external_local: exposes_node_ports
                        && spec.external_traffic_policy.as_deref() == Some("Local"),
                    endpoints,
                },
            );
        }
    }
}

/// The IPv4 cluster IPs: `clusterIPs` when set (it holds `clusterIP` first), else `clusterIP`.
/// `None` (headless) and unparsable values give none.
fn cluster_ips(cluster_ips: &[String], cluster_ip: Option<&str>) -> Vec<Ipv4Addr> {
    let listed: Vec<&str> = if cluster_ips.is_empty() {
        cluster_ip.into_iter().collect()
    } else {
        cluster_ips.iter().map(String::as_str).collect()
    };
    let mut ips: Vec<Ipv4Addr> = listed.iter().filter_map(|ip| ip.parse().ok()).collect();
    ips.dedup();
    ips
}

fn port_number(port: i32) -> Option<u16> {
    u16::try_from(port).ok().filter(|p| *p != 0)
}

/// The endpoints behind one Service port across the Service's slices. A slice port belongs to
/// the Service port of the same name and protocol; its number is the resolved `targetPort`.
fn endpoints(
    slices: &[&EndpointSlice],
    service_port: &ApiServicePort,
    publish_not_ready: bool,
) -> Vec<Endpoint> {
    let name = service_port.name.as_deref().unwrap_or_default();
    let protocol = service_port.protocol.as_deref().unwrap_or("TCP");
    let mut found: Vec<Endpoint> = Vec::new();
    for slice in slices {
        let target_port = slice
            .ports
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|p| {
                p.name.as_deref().unwrap_or_default() == name
                    && p.protocol.as_deref().unwrap_or("TCP") == protocol
            })
            .and_then(|p| p.port)
            .and_then(port_number);
        let Some(target_port) = target_port else {
            continue;
        };
        found.extend(
            slice
                .endpoints
                .iter()
                .filter_map(|e| endpoint(e, target_port, publish_not_ready)),
        );
    }
    found.sort();
    // One address may appear in two slices while the controller moves it between them.
    dedup_endpoints(found)
}

/// Keeps one entry per address, preferring a ready one, then a serving one.
fn dedup_endpoints(sorted: Vec<Endpoint>) -> Vec<Endpoint> {
    let mut out: Vec<Endpoint> = Vec::with_capacity(sorted.len());
    for endpoint in sorted {
        match out.last_mut() {
            Some(last) if last.addr == endpoint.addr => {
                if (endpoint.ready, endpoint.serving) > (last.ready, last.serving) {
                    *last = endpoint;
                }
            }
            _ => out.push(endpoint),
        }
    }
    out
}

fn endpoint(endpoint: &ApiEndpoint, port: u16, publish_not_ready: bool) -> Option<Endpoint> {
    // kube-proxy uses an endpoint's first address; the others are the same pod's.
    let ip: Ipv4Addr = endpoint.addresses.first()?.parse().ok()?;
    let conditions = endpoint.conditions.clone().unwrap_or_default();
    // The API reads an unset `ready` or `serving` as true, and an unset `terminating` as false.
    let ready = publish_not_ready || conditions.ready.unwrap_or(true);
    // An unset `serving` defers to `ready`.
    let serving = ready || conditions.serving.unwrap_or(false);
    Some(Endpoint {
        addr: SocketAddrV4::new(ip, port),
        node_name: endpoint.node_name.clone(),
        ready,
        serving,
        terminating: conditions.terminating.unwrap_or(false),
    })
}
