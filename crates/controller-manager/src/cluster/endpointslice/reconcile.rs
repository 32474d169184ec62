//! What a Service's EndpointSlices should become: kube's EndpointSlice reconciler rules (one
//! group of slices per address type and port set, at most `max` endpoints a slice, changed slices
//! filled before new ones are made, a placeholder slice when there is nothing to list). Pure: it
//! returns the slices to create, update and delete.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::cluster::endpoints::{find_port, is_headless, should_include};
use crate::cluster::{controller_reference, pods, trigger_time};

/// The label naming a slice's Service.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming who manages a slice.
pub(crate) const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's value of [`MANAGED_BY_LABEL`].
pub(crate) const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// The writes that bring a Service's slices to what its pods say.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) create: Vec<EndpointSlice>,
    pub(crate) update: Vec<EndpointSlice>,
    pub(crate) delete: Vec<EndpointSlice>,
}

impl Plan {
    pub(crate) fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// A group of slices: one address type and one set of ports.
type GroupKey = (String, Vec<PortKey>);
type PortKey = (String, i32, String, String);

/// An endpoint's identity within a group: its first address and its pod.
type EndpointKey = (String, String);

fn port_key(port: &EndpointPort) -> PortKey {
    (
        port.name.clone().unwrap_or_default(),
        port.port.unwrap_or(0),
        port.protocol.clone().unwrap_or_default(),
        port.app_protocol.clone().unwrap_or_default(),
    )
}

fn group_key(address_type: &str, ports: &[EndpointPort]) -> GroupKey {
    let mut keys: Vec<PortKey> = ports.iter().map(port_key).collect();
    keys.sort();
    (address_type.to_string(), keys)
}

fn endpoint_key(endpoint: &Endpoint) -> EndpointKey {
    (
        endpoint.addresses.first().cloned().unwrap_or_default(),
        endpoint
            .target_ref
            .as_ref()
            .and_then(|r| r.uid.clone())
            .unwrap_or_default(),
    )
}

/// The address types a Service's slices carry: its IP families, else its cluster IP's, else
/// both (a headless Service from an API server that sets no families).
pub(crate) fn address_types(service: &Service) -> BTreeSet<String> {
    let spec = service.spec.as_ref();
    let mut types: BTreeSet<String> = spec
        .and_then(|s| s.ip_families.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|f| match f.as_str() {
            "IPv4" => Some("IPv4".to_string()),
            "IPv6" => Some("IPv6".to_string()),
            _ => None,
        })
        .collect();
    if types.is_empty() {
        if is_headless(service) {
            types.extend(["IPv4".to_string(), "IPv6".to_string()]);
        } else {
            let ip = spec.and_then(|s| s.cluster_ip.as_deref()).unwrap_or("");
            types.insert(if ip.contains(':') { "IPv6" } else { "IPv4" }.to_string());
        }
    }
    types
}

/// The endpoint of `pod` for one address type; `None` if the pod has no address of that type.
fn endpoint(
    pod: &Pod,
    node: Option<&Node>,
    service: &Service,
    address_type: &str,
) -> Option<Endpoint> {
    let v6 = address_type == "IPv6";
    let addresses: Vec<String> = pods::ips(pod)
        .into_iter()
        .filter(|ip| ip.contains(':') == v6)
        .collect();
    if addresses.is_empty() {
        return None;
    }
    let serving = pods::is_ready(pod);
    let terminating = pods::is_terminating(pod);
    let publish_not_ready = service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let node_name = pods::node_name(pod);
    let spec = pod.spec.as_ref();
    let hostname = spec.and_then(|s| {
        let hostname = s.hostname.as_deref().filter(|h| !h.is_empty())?;
        (s.subdomain.as_deref() == service.metadata.name.as_deref()).then(|| hostname.to_string())
    });
    Some(Endpoint {
        addresses,
        conditions: Some(EndpointConditions {
            // Never ready while terminating, unless the Service publishes everything.
            ready: Some(publish_not_ready || (serving && !terminating)),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname,
        node_name: (!node_name.is_empty()).then(|| node_name.to_string()),
        target_ref: Some(k8s_openapi::api::core::v1::ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        }),
        zone: node
            .and_then(|n| n.metadata.labels.as_ref())
            .and_then(|l| l.get(ZONE_LABEL))
            .filter(|z| !z.is_empty())
            .cloned(),
        ..Endpoint::default()
    })
}

/// The ports of `pod` for `service`, in a stable order (none for a headless Service without
/// ports).
fn endpoint_ports(service: &Service, pod: &Pod) -> Vec<EndpointPort> {
    let mut ports: Vec<EndpointPort> = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|sp| {
            let number = find_port(pod, sp)?;
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(number),
                protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect();
    ports.sort_by_key(port_key);
    ports
}

/// The labels every slice of `service` carries: the Service's own (minus the reserved ones),
/// the headless mark, the Service's name and the manager.
pub(crate) fn slice_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = service
        .metadata
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != SERVICE_NAME_LABEL && k != MANAGED_BY_LABEL && k != HEADLESS_LABEL)
        .collect();
    if is_headless(service) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels.insert(
        SERVICE_NAME_LABEL.into(),
        service.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
    labels
}

/// Whether `slice` is owned by this very Service (same UID).
fn owned_by(slice: &EndpointSlice, service: &Service) -> bool {
    slice.metadata.owner_references.iter().flatten().any(|o| {
        o.kind == "Service"
            && o.api_version == "v1"
            && Some(&o.uid) == service.metadata.uid.as_ref()
    })
}

/// A new, unnamed slice of `service` (the API server names it `<service>-<random>`).
fn new_slice(
    service: &Service,
    address_type: &str,
    ports: Vec<EndpointPort>,
    endpoints: Vec<Endpoint>,
) -> EndpointSlice {
    let name = service.metadata.name.clone().unwrap_or_default();
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: service.metadata.namespace.clone(),
            labels: Some(slice_labels(service)),
            owner_references: Some(vec![controller_reference(service)]),
            ..ObjectMeta::default()
        },
        address_type: address_type.to_string(),
        endpoints,
        ports: Some(ports),
    }
}

fn is_placeholder(slice: &EndpointSlice) -> bool {
    slice.endpoints.is_empty()
        && slice.ports.as_ref().is_none_or(Vec::is_empty)
        && slice.address_type == "IPv4"
}

/// Brings `existing` (the slices labelled as this Service's and managed here) to what the
/// `pods` selected by `service` say. `node` looks a pod's node up (for its zone).
pub(crate) fn plan<'a>(
    service: &Service,
    pods: &[&Pod],
    node: impl Fn(&str) -> Option<&'a Node>,
    existing: &[EndpointSlice],
    max_per_slice: usize,
    trigger: Option<Time>,
) -> Plan {
    let max_per_slice = max_per_slice.max(1);
    // What should be listed, per group, by endpoint.
    let mut wanted: BTreeMap<GroupKey, (Vec<EndpointPort>, BTreeMap<EndpointKey, Endpoint>)> =
        BTreeMap::new();
    let types = address_types(service);
    for pod in pods {
        if !should_include(pod, true) {
            continue;
        }
        let ports = endpoint_ports(service, pod);
        for address_type in &types {
            let Some(endpoint) = endpoint(pod, node(pods::node_name(pod)), service, address_type)
            else {
                continue;
            };
            wanted
                .entry(group_key(address_type, &ports))
                .or_insert_with(|| (ports.clone(), BTreeMap::new()))
                .1
                .insert(endpoint_key(&endpoint), endpoint);
        }
    }
    let labels = slice_labels(service);
    let mut plan = Plan::default();
    // Slices kept, by group: (slice, changed).
    let mut kept: BTreeMap<GroupKey, Vec<(EndpointSlice, bool)>> = BTreeMap::new();
    for slice in existing {
        let key = group_key(&slice.address_type, slice.ports.as_deref().unwrap_or(&[]));
        let Some((_, group)) = wanted.get_mut(&key).filter(|_| owned_by(slice, service)) else {
            plan.delete.push(slice.clone());
            continue;
        };
        let mut changed = slice.metadata.labels.as_ref() != Some(&labels);
        let mut endpoints = Vec::with_capacity(slice.endpoints.len());
        for endpoint in &slice.endpoints {
            match group.remove(&endpoint_key(endpoint)) {
                Some(want) => {
                    changed |= &want != endpoint;
                    endpoints.push(want);
                }
                None => changed = true,
            }
        }
        if endpoints.is_empty() {
            plan.delete.push(slice.clone());
            continue;
        }
        let mut slice = slice.clone();
        slice.endpoints = endpoints;
        kept.entry(key).or_default().push((slice, changed));
    }
    // Place what is left: into slices changing anyway, then into the fullest unchanged slice
    // with room, then into new slices.
    for (key, (ports, left)) in wanted {
        let mut left: Vec<Endpoint> = left.into_values().collect();
        let slices = kept.entry(key.clone()).or_default();
        slices.sort_by_key(|(_, changed)| !*changed);
        for (slice, changed) in slices.iter_mut().filter(|(_, changed)| *changed) {
            let room = max_per_slice
                .saturating_sub(slice.endpoints.len())
                .min(left.len());
            slice.endpoints.extend(left.drain(..room));
            *changed = true;
        }
        while left.len() >= max_per_slice {
            let chunk: Vec<Endpoint> = left.drain(..max_per_slice).collect();
            plan.create
                .push(new_slice(service, &key.0, ports.clone(), chunk));
        }
        if !left.is_empty() {
            let fullest = slices
                .iter_mut()
                .filter(|(slice, _)| slice.endpoints.len() + left.len() <= max_per_slice)
                .max_by_key(|(slice, _)| slice.endpoints.len());
            match fullest {
                Some((slice, changed)) => {
                    slice.endpoints.append(&mut left);
                    *changed = true;
                }
                None => plan
                    .create
                    .push(new_slice(service, &key.0, ports.clone(), left)),
            }
        }
    }
    for (slice, changed) in kept.into_values().flatten() {
        if changed {
            let mut slice = slice;
            slice.metadata.labels = Some(labels.clone());
            plan.update.push(slice);
        }
    }
    // Nothing to list at all: one empty placeholder slice stands for the Service.
    let remaining = existing.len() - plan.delete.len();
    if remaining == 0 && plan.create.is_empty() {
        match plan
            .delete
            .iter()
            .position(|s| is_placeholder(s) && owned_by(s, service))
        {
            Some(i) => {
                let slice = plan.delete.remove(i);
                if slice.metadata.labels.as_ref() != Some(&labels) {
                    let mut slice = slice;
                    slice.metadata.labels = Some(labels.clone());
                    plan.update.push(slice);
                }
            }
            None => plan
                .create
                .push(new_slice(service, "IPv4", Vec::new(), Vec::new())),
        }
    }
    for slice in plan.create.iter_mut().chain(plan.update.iter_mut()) {
        let annotations = slice.metadata.annotations.get_or_insert_with(BTreeMap::new);
        match &trigger {
            Some(time) => {
                annotations.insert(trigger_time::ANNOTATION.into(), trigger_time::format(time));
            }
            None => {
                annotations.remove(trigger_time::ANNOTATION);
            }
        }
        if annotations.is_empty() {
            slice.metadata.annotations = None;
        }
    }
    plan
}
