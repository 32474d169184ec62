//! Service addresses: cluster IPs from `--service-cluster-ip-range` and node ports from the
//! node-port range, allocated as kube-apiserver's service registry does. Pure: the caller
//! passes what is already in use.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use apimachinery::{ApiError, Cause};
use serde_json::{Value, json};

/// An IPv4 CIDR such as `10.96.0.0/12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Range {
    pub base: u32,
    pub bits: u8,
}

impl Ipv4Range {
    pub fn parse(cidr: &str) -> Result<Ipv4Range, String> {
        let (ip, bits) = cidr
            .split_once('/')
            .ok_or_else(|| format!("{cidr} is not a CIDR like 10.96.0.0/12"))?;
        let ip: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("{cidr}: {ip} is not an IPv4 address"))?;
        let bits: u8 = bits
            .parse()
            .map_err(|_| format!("{cidr}: /{bits} is not a prefix length"))?;
        if !(8..=30).contains(&bits) {
            return Err(format!("{cidr}: the prefix must be between /8 and /30"));
        }
        let mask = u32::MAX << (32 - bits);
        Ok(Ipv4Range {
            base: u32::from(ip) & mask,
            bits,
        })
    }

    fn size(&self) -> u32 {
        1u32 << (32 - self.bits)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let ip = u32::from(ip);
        ip >= self.base && ip - self.base < self.size()
    }

    /// The first usable address: the `kubernetes` Service's cluster IP.
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base + 1)
    }

    /// A free address, searched from `start` (a random offset keeps concurrent creates apart),
    /// skipping the network and broadcast addresses.
    pub fn allocate(&self, used: &HashSet<Ipv4Addr>, start: u32) -> Option<Ipv4Addr> {
        let usable = self.size() - 2;
        (0..usable)
            .map(|i| Ipv4Addr::from(self.base + 1 + (start + i) % usable))
            .find(|ip| !used.contains(ip))
    }
}

/// Fills in a new Service's cluster IP and node ports, checking requested ones.
pub fn allocate(
    spec: &mut Value,
    range: &Ipv4Range,
    ports: (u16, u16),
    used_ips: &HashSet<Ipv4Addr>,
    used_ports: &HashSet<u16>,
    seed: u32,
) -> Result<(), Vec<Cause>> {
    let mut causes = Vec::new();
    let kind = spec["type"].as_str().unwrap_or("ClusterIP").to_string();
    if kind != "ExternalName" {
        let requested = spec["clusterIP"].as_str().unwrap_or_default().to_string();
        let ip = if requested.is_empty() {
            match range.allocate(used_ips, seed) {
                Some(ip) => Some(ip.to_string()),
                None => {
                    causes.push(Cause::invalid(
                        "spec.clusterIPs",
                        &json!([]),
                        "failed to allocate IP: range is full",
                    ));
                    None
                }
            }
        } else if requested == "None" {
            Some(requested)
        } else {
            match requested.parse::<Ipv4Addr>() {
                Ok(ip) if !range.contains(ip) => {
                    causes.push(Cause::invalid(
                        "spec.clusterIPs",
                        &json!([requested]),
                        "failed to allocate IP: the provided IP is not in the valid range",
                    ));
                    None
                }
                Ok(ip) if used_ips.contains(&ip) => {
                    causes.push(Cause::invalid(
                        "spec.clusterIPs",
                        &json!([requested]),
                        &format!(
                            "failed to allocate IP {requested}: provided IP is already allocated"
                        ),
                    ));
                    None
                }
                Ok(_) => Some(requested),
                Err(_) => {
                    causes.push(Cause::invalid(
                        "spec.clusterIPs[0]",
                        &json!(requested),
                        "must be a valid IP address",
                    ));
                    None
                }
            }
        };
        if let Some(ip) = ip {
            spec["clusterIP"] = json!(ip);
            spec["clusterIPs"] = json!([ip]);
            spec["ipFamilies"] = json!(["IPv4"]);
            spec["ipFamilyPolicy"] = json!("SingleStack");
        }
    }
    if matches!(kind.as_str(), "NodePort" | "LoadBalancer") {
        let mut taken = used_ports.clone();
        if let Some(list) = spec["ports"].as_array_mut() {
            for (i, port) in list.iter_mut().enumerate() {
                match port["nodePort"].as_u64() {
                    Some(p) if p > 0 => {
                        let p = p as u16;
                        if p < ports.0 || p > ports.1 {
                            causes.push(Cause::invalid(
                                format!("spec.ports[{i}].nodePort"),
                                &json!(p),
                                &format!("provided port is not in the valid range. The range of valid ports is {}-{}", ports.0, ports.1),
                            ));
                        } else if !taken.insert(p) {
                            causes.push(Cause::invalid(
                                format!("spec.ports[{i}].nodePort"),
                                &json!(p),
                                "provided port is already allocated",
                            ));
                        }
                    }
                    _ => {
                        let span = u32::from(ports.1 - ports.0) + 1;
                        let free = (0..span)
                            .map(|n| ports.0 + ((seed.wrapping_add(n)) % span) as u16)
                            .find(|p| !taken.contains(p));
                        match free {
                            Some(p) => {
                                taken.insert(p);
                                port["nodePort"] = json!(p);
                            }
                            None => causes.push(Cause::invalid(
                                format!("spec.ports[{i}].nodePort"),
                                &json!(0),
                                "range is full",
                            )),
                        }
                    }
                }
            }
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(causes)
    }
}

/// Addresses an update may leave out: they are kept from the old Service, as kube-apiserver
/// keeps allocated values.
pub fn keep_allocated(new: &mut Value, old: &Value) {
    for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        if new["spec"]
            .get(field)
            .is_none_or(|v| v.is_null() || v == "")
            && let Some(value) = old["spec"].get(field)
        {
            new["spec"][field] = value.clone();
        }
    }
    // Leaving NodePort or LoadBalancer drops what only those types have, unless the update
    // itself changed it, as kube-apiserver does.
    let kind = new["spec"]["type"].as_str().unwrap_or("ClusterIP");
    let external = |k: &str| matches!(k, "NodePort" | "LoadBalancer");
    if !external(kind) {
        if external(old["spec"]["type"].as_str().unwrap_or("ClusterIP")) {
            drop_node_ports(new, old);
        }
        return;
    }
    let old_ports: Vec<Value> = old["spec"]["ports"].as_array().cloned().unwrap_or_default();
    if let Some(ports) = new["spec"]["ports"].as_array_mut() {
        for port in ports {
            if port
                .get("nodePort")
                .is_some_and(|p| p.as_u64().unwrap_or(0) > 0)
            {
                continue;
            }
            if let Some(previous) = old_ports
                .iter()
                .find(|p| p["port"] == port["port"] && p["protocol"] == port["protocol"])
                && let Some(node_port) = previous.get("nodePort")
            {
                port["nodePort"] = node_port.clone();
            }
        }
    }
}

/// Clears node ports and the external traffic policy that a patch carried over from an external
/// Service to one that is no longer external.
fn drop_node_ports(new: &mut Value, old: &Value) {
    let old_ports: Vec<Value> = old["spec"]["ports"].as_array().cloned().unwrap_or_default();
    if let Some(ports) = new["spec"]["ports"].as_array_mut() {
        for port in ports {
            let carried = old_ports
                .iter()
                .any(|p| p.get("nodePort").is_some() && p["nodePort"] == port["nodePort"]);
            if carried && let Some(map) = port.as_object_mut() {
                map.remove("nodePort");
            }
        }
    }
    if new["spec"]["externalTrafficPolicy"] == old["spec"]["externalTrafficPolicy"]
        && let Some(spec) = new["spec"].as_object_mut()
    {
        spec.remove("externalTrafficPolicy");
        spec.remove("healthCheckNodePort");
    }
}

/// The cluster IPs and node ports a set of Services already hold.
pub fn in_use(services: &[Value]) -> (HashSet<Ipv4Addr>, HashSet<u16>) {
    let mut ips = HashSet::new();
    let mut ports = HashSet::new();
    for service in services {
        if let Some(ip) = service["spec"]["clusterIP"]
            .as_str()
            .and_then(|ip| ip.parse().ok())
        {
            ips.insert(ip);
        }
        for port in service["spec"]["ports"].as_array().into_iter().flatten() {
            if let Some(p) = port["nodePort"].as_u64() {
                ports.insert(p as u16);
            }
        }
    }
    (ips, ports)
}

/// Whether an error is about allocation (for callers mapping causes to a 422).
pub fn invalid(name: &str, causes: Vec<Cause>) -> ApiError {
    ApiError::invalid("", "Service", name, causes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let range = Ipv4Range::parse("10.96.0.0/12").unwrap();
        assert_eq!(range.first(), Ipv4Addr::new(10, 96, 0, 1));
        assert!(range.contains(Ipv4Addr::new(10, 111, 255, 254)));
        assert!(!range.contains(Ipv4Addr::new(10, 112, 0, 0)));
        for bad in ["10.96.0.0", "x/12", "10.0.0.0/40", "10.0.0.0/4"] {
            assert!(Ipv4Range::parse(bad).is_err(), "{bad}");
        }
        let small = Ipv4Range::parse("10.0.0.0/30").unwrap();
        let used: HashSet<_> = [Ipv4Addr::new(10, 0, 0, 1)].into();
        assert_eq!(small.allocate(&used, 0), Some(Ipv4Addr::new(10, 0, 0, 2)));
        let full: HashSet<_> = [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)].into();
        assert_eq!(small.allocate(&full, 0), None);
    }

    #[test]
    fn allocation() {
        let range = Ipv4Range::parse("10.96.0.0/24").unwrap();
        let used_ips: HashSet<_> = [Ipv4Addr::new(10, 96, 0, 1)].into();
        let used_ports: HashSet<u16> = [31000].into();
        let mut spec = json!({"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP"}, {"port": 81, "nodePort": 31001}]});
        allocate(&mut spec, &range, (30000, 32767), &used_ips, &used_ports, 0).unwrap();
        assert_eq!(spec["clusterIPs"][0], spec["clusterIP"]);
        assert_ne!(spec["clusterIP"], "10.96.0.1");
        assert_eq!(spec["ports"][1]["nodePort"], 31001);
        assert!(spec["ports"][0]["nodePort"].as_u64().unwrap() >= 30000);

        let mut taken = json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 31000}]});
        let causes = allocate(
            &mut taken,
            &range,
            (30000, 32767),
            &used_ips,
            &used_ports,
            0,
        )
        .unwrap_err();
        assert_eq!(
            causes[0].describe(),
            "spec.ports[0].nodePort: Invalid value: 31000: provided port is already allocated"
        );

        let mut ip_taken = json!({"clusterIP": "10.96.0.1", "ports": [{"port": 80}]});
        let causes = allocate(
            &mut ip_taken,
            &range,
            (30000, 32767),
            &used_ips,
            &used_ports,
            0,
        )
        .unwrap_err();
        assert!(
            causes[0]
                .describe()
                .contains("provided IP is already allocated")
        );

        let mut headless = json!({"clusterIP": "None", "ports": []});
        allocate(
            &mut headless,
            &range,
            (30000, 32767),
            &used_ips,
            &used_ports,
            0,
        )
        .unwrap();
        assert_eq!(headless["clusterIPs"], json!(["None"]));
    }

    #[test]
    fn updates_keep_allocations() {
        let old = json!({"spec": {"clusterIP": "10.96.0.9", "clusterIPs": ["10.96.0.9"], "ports": [{"port": 80, "protocol": "TCP", "nodePort": 31000}]}});
        let mut new =
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP"}]}});
        keep_allocated(&mut new, &old);
        assert_eq!(new["spec"]["clusterIP"], "10.96.0.9");
        assert_eq!(new["spec"]["ports"][0]["nodePort"], 31000);
    }

    #[test]
    fn leaving_node_port_drops_its_fields() {
        let old = json!({"spec": {"type": "NodePort", "externalTrafficPolicy": "Cluster", "ports": [{"port": 80, "nodePort": 31000}]}});
        let mut patched = json!({"spec": {"type": "ClusterIP", "externalTrafficPolicy": "Cluster", "ports": [{"port": 80, "nodePort": 31000}]}});
        keep_allocated(&mut patched, &old);
        assert_eq!(patched["spec"]["ports"][0].get("nodePort"), None);
        assert_eq!(patched["spec"].get("externalTrafficPolicy"), None);
    }
}
