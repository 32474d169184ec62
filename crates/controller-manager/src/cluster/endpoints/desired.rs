//! What a Service's core/v1 Endpoints should hold, from the pods its selector matches: kube's
//! endpoints controller rules (which pods count, port resolution by targetPort, ready versus
//! notReady addresses, repacking into subsets, the 1000-address cap). Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
    ServicePort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::cluster::{pods, trigger_time};

/// The label kube puts on the Endpoints of a Service without a cluster IP.
pub(crate) const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// Set when the addresses were cut to [`MAX_ADDRESSES`].
const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// kube's cap on addresses in one Endpoints object (EndpointSlices carry the rest).
pub(crate) const MAX_ADDRESSES: usize = 1000;

/// Whether a pod belongs in a Service's endpoints at all: it has an IP, is not finished, and is
/// not terminating unless terminating pods are wanted.
pub(crate) fn should_include(pod: &Pod, include_terminating: bool) -> bool {
    !pods::is_terminal(pod)
        && !pods::ips(pod).is_empty()
        && (include_terminating || !pods::is_terminating(pod))
}

/// Whether a Service gets endpoints from the controllers: it has a selector and is not an
/// ExternalName.
pub(crate) fn is_selecting(service: &Service) -> bool {
    service.spec.as_ref().is_some_and(|spec| {
        spec.selector.is_some() && spec.type_.as_deref() != Some("ExternalName")
    })
}

/// Whether the Service's selector matches `pod` (a nil selector matches nothing).
pub(crate) fn selects(service: &Service, pod: &Pod) -> bool {
    let Some(selector) = service.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
        return false;
    };
    if pod.metadata.namespace != service.metadata.namespace {
        return false;
    }
    let labels = pod.metadata.labels.as_ref();
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Whether the Service has no cluster IP (headless).
pub(crate) fn is_headless(service: &Service) -> bool {
    let ip = service
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .unwrap_or("");
    ip.is_empty() || ip == "None"
}

/// The container port a Service port reaches on `pod`: a number as is, a name looked up among
/// the pod's container ports (and restartable init containers') with the same protocol.
pub(crate) fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            if let Ok(n) = name.parse::<i32>() {
                return Some(n);
            }
            let spec = pod.spec.as_ref()?;
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"))
                .map(|c| &c.ports);
            spec.containers
                .iter()
                .map(|c| &c.ports)
                .chain(sidecars)
                .flatten()
                .flatten()
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|p| p.container_port)
        }
    }
}

/// The address of `pod` for `service`: the pod IP of the Service's first IP family.
fn address(service: &Service, pod: &Pod) -> Option<EndpointAddress> {
    let spec = service.spec.as_ref();
    let family = spec
        .and_then(|s| s.ip_families.as_ref())
        .and_then(|f| f.first().cloned())
        .or_else(|| {
            let ip = spec.and_then(|s| s.cluster_ip.as_deref()).unwrap_or("");
            (!is_headless(service)).then(|| if ip.contains(':') { "IPv6" } else { "IPv4" }.into())
        });
    let ips = pods::ips(pod);
    let ip = match family.as_deref() {
        Some("IPv6") => ips.into_iter().find(|ip| ip.contains(':')),
        Some(_) => ips.into_iter().find(|ip| !ip.contains(':')),
        None => ips.into_iter().next(),
    }?;
    let pod_spec = pod.spec.as_ref();
    let hostname = pod_spec.and_then(|s| {
        let hostname = s.hostname.as_deref().filter(|h| !h.is_empty())?;
        (s.subdomain.as_deref() == service.metadata.name.as_deref()).then(|| hostname.to_string())
    });
    Some(EndpointAddress {
        ip,
        hostname,
        node_name: Some(pods::node_name(pod).to_string()),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..ObjectReference::default()
        }),
    })
}

/// How an address is told apart when repacking: IP, then the pod's UID.
type AddressKey = (String, String);

fn address_key(address: &EndpointAddress) -> AddressKey {
    (
        address.ip.clone(),
        address
            .target_ref
            .as_ref()
            .and_then(|r| r.uid.clone())
            .unwrap_or_default(),
    )
}

/// How a port is told apart (name, number, protocol, appProtocol); `None` stands for "no
/// ports" (a headless Service without ports still lists its addresses).
type PortKey = Option<(String, i32, String, String)>;

fn port_key(port: &EndpointPort) -> PortKey {
    Some((
        port.name.clone().unwrap_or_default(),
        port.port,
        port.protocol.clone().unwrap_or_default(),
        port.app_protocol.clone().unwrap_or_default(),
    ))
}

/// Each address reaching one port, and whether it is ready.
type AddressesOfPort = BTreeMap<AddressKey, (EndpointAddress, bool)>;
/// The ports that reach the same addresses, and those addresses.
type SharedSubset = (Vec<Option<EndpointPort>>, Vec<(EndpointAddress, bool)>);

/// The subsets for `service` over the candidate `pods` (already matched by its selector):
/// addresses grouped so that ports reaching the same addresses share one subset, in a stable
/// order.
pub(crate) fn subsets(service: &Service, pods: &[&Pod]) -> Vec<EndpointSubset> {
    let spec = service.spec.clone().unwrap_or_default();
    let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
    let service_ports = spec.ports.clone().unwrap_or_default();
    let mut by_port: BTreeMap<PortKey, (Option<EndpointPort>, AddressesOfPort)> = BTreeMap::new();
    for pod in pods {
        if !should_include(pod, publish_not_ready) {
            continue;
        }
        let Some(address) = address(service, pod) else {
            continue;
        };
        let ready = publish_not_ready || pods::is_ready(pod);
        let key = address_key(&address);
        if service_ports.is_empty() {
            if is_headless(service) {
                by_port
                    .entry(None)
                    .or_default()
                    .1
                    .insert(key, (address, ready));
            }
            continue;
        }
        for service_port in &service_ports {
            let Some(number) = find_port(pod, service_port) else {
                continue;
            };
            let port = EndpointPort {
                name: service_port.name.clone().filter(|n| !n.is_empty()),
                port: number,
                protocol: Some(
                    service_port
                        .protocol
                        .clone()
                        .unwrap_or_else(|| "TCP".into()),
                ),
                app_protocol: service_port.app_protocol.clone(),
            };
            let entry = by_port
                .entry(port_key(&port))
                .or_insert_with(|| (Some(port), BTreeMap::new()));
            let slot = entry
                .1
                .entry(key.clone())
                .or_insert((address.clone(), ready));
            // The same address counts as ready if any pod behind it is.
            slot.1 |= ready;
        }
    }
    // Ports with the same addresses (and readiness) share a subset.
    let mut by_addresses: BTreeMap<Vec<(AddressKey, bool)>, SharedSubset> = BTreeMap::new();
    for (_, (port, addresses)) in by_port {
        let signature: Vec<(AddressKey, bool)> = addresses
            .iter()
            .map(|(k, (_, ready))| (k.clone(), *ready))
            .collect();
        let entry = by_addresses
            .entry(signature)
            .or_insert_with(|| (Vec::new(), addresses.into_values().collect()));
        entry.0.push(port);
    }
    let mut subsets: Vec<EndpointSubset> = by_addresses
        .into_values()
        .map(|(ports, addresses)| {
            let ports: Vec<EndpointPort> = ports.into_iter().flatten().collect();
            let (ready, not_ready): (Vec<_>, Vec<_>) = addresses.into_iter().partition(|(_, r)| *r);
            let strip = |list: Vec<(EndpointAddress, bool)>| {
                let list: Vec<EndpointAddress> = list.into_iter().map(|(a, _)| a).collect();
                (!list.is_empty()).then_some(list)
            };
            EndpointSubset {
                addresses: strip(ready),
                not_ready_addresses: strip(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect();
    sort_subsets(&mut subsets);
    subsets
}

/// A canonical order, so the same endpoints always compare (and serialize) equal.
pub(crate) fn sort_subsets(subsets: &mut [EndpointSubset]) {
    for subset in subsets.iter_mut() {
        for list in [&mut subset.addresses, &mut subset.not_ready_addresses]
            .into_iter()
            .flatten()
        {
            list.sort_by_key(address_key);
        }
        if let Some(ports) = &mut subset.ports {
            ports.sort_by_key(port_key);
        }
    }
    subsets.sort_by_key(|s| serde_json::to_string(s).unwrap_or_default());
}

/// Cuts the addresses to [`MAX_ADDRESSES`], ready ones first, each subset keeping its share.
/// Whether anything was cut.
fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let count = |f: fn(&EndpointSubset) -> usize| subsets.iter().map(f).sum::<usize>();
    let ready = count(|s| s.addresses.as_ref().map_or(0, Vec::len));
    let not_ready = count(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len));
    if ready + not_ready <= MAX_ADDRESSES {
        return false;
    }
    let cut_ready = ready > MAX_ADDRESSES;
    let (room, total) = if cut_ready {
        (MAX_ADDRESSES, ready)
    } else {
        (MAX_ADDRESSES - ready, not_ready)
    };
    let mut left = room;
    for subset in subsets.iter_mut() {
        let list = if cut_ready {
            subset.not_ready_addresses = None;
            &mut subset.addresses
        } else {
            &mut subset.not_ready_addresses
        };
        let Some(list) = list else { continue };
        let share = (list.len() * room).div_ceil(total).min(left);
        list.truncate(share);
        left -= list.len();
    }
    true
}

/// The Endpoints to write for `service`, or `None` when `current` already says it.
pub(crate) fn desired(
    service: &Service,
    pods: &[&Pod],
    current: Option<&Endpoints>,
    trigger: Option<Time>,
) -> Option<Endpoints> {
    let mut subsets = subsets(service, pods);
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    if is_headless(service) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    } else {
        labels.remove(HEADLESS_LABEL);
    }
    let over = subsets
        .iter()
        .map(|s| {
            s.addresses.as_ref().map_or(0, Vec::len)
                + s.not_ready_addresses.as_ref().map_or(0, Vec::len)
        })
        .sum::<usize>()
        > MAX_ADDRESSES;
    if let Some(current) = current {
        let mut have = current.subsets.clone().unwrap_or_default();
        sort_subsets(&mut have);
        let marked = current
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(OVER_CAPACITY));
        if !over
            && !marked
            && have == subsets
            && current.metadata.labels.clone().unwrap_or_default() == labels
        {
            return None;
        }
    }
    let mut endpoints = current.cloned().unwrap_or_else(|| Endpoints {
        metadata: ObjectMeta {
            name: service.metadata.name.clone(),
            namespace: service.metadata.namespace.clone(),
            ..ObjectMeta::default()
        },
        subsets: None,
    });
    let annotations = endpoints
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new);
    match trigger {
        Some(time) => {
            annotations.insert(trigger_time::ANNOTATION.into(), trigger_time::format(&time));
        }
        None => {
            annotations.remove(trigger_time::ANNOTATION);
        }
    }
    if truncate(&mut subsets) {
        annotations.insert(OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(OVER_CAPACITY);
    }
    if annotations.is_empty() {
        endpoints.metadata.annotations = None;
    }
    endpoints.metadata.labels = (!labels.is_empty()).then_some(labels);
    endpoints.subsets = (!subsets.is_empty()).then_some(subsets);
    Some(endpoints)
}
