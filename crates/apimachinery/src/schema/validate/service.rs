//! Service checks, on create and on update.
//!
//! Cluster IPs, node ports and health-check ports are allocated by the server before
//! validation, as kube-apiserver's REST storage does, so these checks see allocated values.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::Value;

use super::container::protocol;
use super::field::{
    child, duplicate, duplicate_shown, forbidden, go_int_or_string, go_string_slice, index,
    invalid, invalid_shown, list_of, not_supported, present, required, str_of,
};
use super::meta;
use super::probes::port_num_or_name;
use crate::schema::names;
use crate::selector::go_quote;
use crate::status::Cause;

/// The node port range kube-apiserver serves by default.
pub(crate) const NODE_PORT_RANGE: (i64, i64) = (30000, 32767);

fn cluster_ips(spec: &Value) -> Vec<String> {
    let listed: Vec<String> = list_of(spec, "clusterIPs")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if listed.is_empty() && !str_of(spec, "clusterIP").is_empty() {
        return vec![str_of(spec, "clusterIP").to_string()];
    }
    listed
}

fn is_headless(spec: &Value) -> bool {
    cluster_ips(spec) == ["None"]
}

pub(crate) fn valid_ip(errs: &mut Vec<Cause>, path: &str, ip: &str) -> bool {
    if ip.parse::<IpAddr>().is_ok() {
        return true;
    }
    errs.push(invalid(
        path,
        &Value::String(ip.into()),
        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
    ));
    false
}

/// kube-apiserver's rule for addresses that must be reachable from elsewhere: not unspecified,
/// not link-local, and (unless `allow_loopback`) not loopback. hakube's pod network is a
/// loopback range (`127.N.128.0/17`), so Endpoints, which list pod IPs, allow loopback; a
/// Service's externalIPs still may not.
pub(crate) fn non_special_ip(errs: &mut Vec<Cause>, path: &str, ip: &str, allow_loopback: bool) {
    let Ok(addr) = ip.parse::<IpAddr>() else {
        return;
    };
    let value = Value::String(ip.into());
    if addr.is_unspecified() {
        errs.push(invalid(
            path,
            &value,
            &format!("may not be unspecified ({ip})"),
        ));
    }
    if addr.is_loopback() && !allow_loopback {
        errs.push(invalid(
            path,
            &value,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    let link_local = match addr {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    if link_local {
        errs.push(invalid(
            path,
            &value,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
}

/// A service port as `%#v` prints the protocol/port key kube uses to find duplicates.
fn go_service_port_key(port: &Value) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{}, TargetPort:{}, NodePort:0}}",
        go_quote(str_of(port, "protocol")),
        port.get("port").and_then(Value::as_i64).unwrap_or(0),
        go_int_or_string(None)
    )
}

fn service_port(
    errs: &mut Vec<Cause>,
    port: &Value,
    require_name: bool,
    names_seen: &mut BTreeSet<String>,
    path: &str,
) {
    let name = str_of(port, "name");
    if require_name && name.is_empty() {
        errs.push(required(&child(path, "name"), ""));
    } else if !name.is_empty() {
        for msg in names::is_dns1123_label(name) {
            errs.push(invalid(
                &child(path, "name"),
                &Value::String(name.into()),
                &msg,
            ));
        }
        if !names_seen.insert(name.to_string()) {
            errs.push(duplicate(&child(path, "name"), &Value::String(name.into())));
        }
    }
    let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
    for msg in names::is_valid_port_num(number) {
        errs.push(invalid(&child(path, "port"), &Value::from(number), &msg));
    }
    protocol(errs, port, path);
    port_num_or_name(errs, port.get("targetPort"), &child(path, "targetPort"));
    if let Some(app) = port.get("appProtocol").and_then(Value::as_str) {
        for msg in names::is_qualified_name(app) {
            errs.push(invalid(
                &child(path, "appProtocol"),
                &Value::String(app.into()),
                &msg,
            ));
        }
    }
}

/// `ValidateService`.
pub(crate) fn service(errs: &mut Vec<Cause>, obj: &Value) {
    let empty = Value::Null;
    let spec = obj.get("spec").unwrap_or(&empty);
    let kind = str_of(spec, "type");
    let ports = list_of(spec, "ports");
    let headless = is_headless(spec);
    if ports.is_empty() && !headless && kind != "ExternalName" {
        errs.push(required("spec.ports", ""));
    }
    match kind {
        "LoadBalancer" | "NodePort" if headless => errs.push(invalid(
            "spec.clusterIPs[0]",
            &Value::String("None".into()),
            &format!("may not be set to 'None' for {kind} services"),
        )),
        "ExternalName" => {
            for field in ["clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
                let set = match spec.get(field) {
                    Some(Value::Array(items)) => !items.is_empty(),
                    Some(v) => !v.is_null(),
                    None => false,
                };
                if set {
                    errs.push(forbidden(
                        &child("spec", field),
                        "may not be set for ExternalName services",
                    ));
                }
            }
            let cname = str_of(spec, "externalName");
            let cname = cname.strip_suffix('.').unwrap_or(cname);
            if cname.is_empty() {
                errs.push(required("spec.externalName", ""));
            } else {
                for msg in names::is_dns1123_subdomain(cname) {
                    errs.push(invalid(
                        "spec.externalName",
                        &Value::String(cname.into()),
                        &msg,
                    ));
                }
            }
        }
        _ => {}
    }
    let mut port_names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        service_port(
            errs,
            port,
            ports.len() > 1,
            &mut port_names,
            &index("spec.ports", i),
        );
    }
    if let Some(selector) = present(spec, "selector") {
        meta::labels(errs, "spec.selector", Some(selector));
    }
    match str_of(spec, "sessionAffinity") {
        "" => errs.push(required("spec.sessionAffinity", "")),
        "ClientIP" => {
            let timeout = spec
                .pointer("/sessionAffinityConfig/clientIP/timeoutSeconds")
                .and_then(Value::as_i64);
            match timeout {
                None => errs.push(required(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    "when session affinity type is ClientIP",
                )),
                Some(t) if t <= 0 || t > 86400 => errs.push(invalid(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    &Value::from(t),
                    "must be greater than 0 and less than 86400",
                )),
                Some(_) => {}
            }
        }
        "None" => {
            if present(spec, "sessionAffinityConfig").is_some() {
                errs.push(forbidden(
                    "spec.sessionAffinityConfig",
                    "must not be set when session affinity is None",
                ));
            }
        }
        other => errs.push(not_supported(
            "spec.sessionAffinity",
            &Value::String(other.into()),
            &["ClientIP", "None"],
        )),
    }
    if kind != "ExternalName" {
        cluster_ip_fields(errs, spec);
    }
    for (i, ip) in list_of(spec, "externalIPs").iter().enumerate() {
        let p = index("spec.externalIPs", i);
        let ip = ip.as_str().unwrap_or("");
        if valid_ip(errs, &p, ip) {
            non_special_ip(errs, &p, ip, false);
        }
    }
    match kind {
        "" => errs.push(required("spec.type", "")),
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName" => {}
        other => errs.push(not_supported(
            "spec.type",
            &Value::String(other.into()),
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }
    node_ports(errs, ports, kind);
    let mut seen_ports = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let id = (
            str_of(port, "protocol").to_string(),
            port.get("port").and_then(Value::as_i64).unwrap_or(0),
        );
        if !seen_ports.insert(id) {
            errs.push(duplicate_shown(
                &index("spec.ports", i),
                &go_service_port_key(port),
            ));
        }
    }
    load_balancer_fields(errs, spec, kind);
    traffic_policies(errs, spec, kind);
}

fn cluster_ip_fields(errs: &mut Vec<Cause>, spec: &Value) {
    let single = str_of(spec, "clusterIP");
    let listed = list_of(spec, "clusterIPs");
    if !single.is_empty() && !listed.is_empty() && listed[0].as_str() != Some(single) {
        errs.push(invalid_shown(
            "spec.clusterIPs",
            &go_string_slice(spec.get("clusterIPs")),
            "first value must match `clusterIP`",
        ));
    } else if single.is_empty() && !listed.is_empty() {
        errs.push(invalid_shown(
            "spec.clusterIPs",
            &go_string_slice(spec.get("clusterIPs")),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let ips = cluster_ips(spec);
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            continue;
        }
        valid_ip(errs, &index("spec.clusterIPs", i), ip);
    }
    for (i, family) in list_of(spec, "ipFamilies").iter().enumerate() {
        let f = family.as_str().unwrap_or("");
        if f != "IPv4" && f != "IPv6" {
            errs.push(not_supported(
                &index("spec.ipFamilies", i),
                family,
                &["IPv4", "IPv6"],
            ));
        }
    }
    if let Some(policy) = spec.get("ipFamilyPolicy").and_then(Value::as_str)
        && !matches!(
            policy,
            "SingleStack" | "PreferDualStack" | "RequireDualStack"
        )
    {
        errs.push(not_supported(
            "spec.ipFamilyPolicy",
            &Value::String(policy.into()),
            &["PreferDualStack", "RequireDualStack", "SingleStack"],
        ));
    }
}

fn node_ports(errs: &mut Vec<Cause>, ports: &[Value], kind: &str) {
    let mut seen = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let node_port = port.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
        if node_port == 0 {
            continue;
        }
        let p = child(&index("spec.ports", i), "nodePort");
        if kind == "ClusterIP" {
            errs.push(forbidden(&p, "may not be used when `type` is 'ClusterIP'"));
        } else if !(NODE_PORT_RANGE.0..=NODE_PORT_RANGE.1).contains(&node_port) {
            errs.push(invalid(
                &p,
                &Value::from(node_port),
                &format!(
                    "provided port is not in the valid range. The range of valid ports is {}-{}",
                    NODE_PORT_RANGE.0, NODE_PORT_RANGE.1
                ),
            ));
        }
        if !seen.insert((str_of(port, "protocol").to_string(), node_port)) {
            errs.push(duplicate(&p, &Value::from(node_port)));
        }
    }
}

fn load_balancer_fields(errs: &mut Vec<Cause>, spec: &Value, kind: &str) {
    let only_lb = "may only be used when `type` is 'LoadBalancer'";
    if !list_of(spec, "loadBalancerSourceRanges").is_empty() && kind != "LoadBalancer" {
        errs.push(forbidden("spec.LoadBalancerSourceRanges", only_lb));
    }
    let allocate = present(spec, "allocateLoadBalancerNodePorts");
    if allocate.is_some() && kind != "LoadBalancer" {
        errs.push(forbidden("spec.allocateLoadBalancerNodePorts", only_lb));
    }
    if kind == "LoadBalancer" && allocate.is_none() {
        errs.push(required("allocateLoadBalancerNodePorts", ""));
    }
    if let Some(class) = spec.get("loadBalancerClass").and_then(Value::as_str) {
        if kind == "LoadBalancer" {
            for msg in names::is_qualified_name(class) {
                errs.push(invalid(
                    "spec.loadBalancerClass",
                    &Value::String(class.into()),
                    &msg,
                ));
            }
        } else {
            errs.push(forbidden("spec.loadBalancerClass", only_lb));
        }
    }
}

fn traffic_policies(errs: &mut Vec<Cause>, spec: &Value, kind: &str) {
    let external = str_of(spec, "externalTrafficPolicy");
    let accessible = kind == "LoadBalancer"
        || kind == "NodePort"
        || (kind == "ClusterIP" && !list_of(spec, "externalIPs").is_empty());
    if !accessible {
        if !external.is_empty() {
            errs.push(invalid(
                "spec.externalTrafficPolicy",
                &Value::String(external.into()),
                "may only be set for externally-accessible services",
            ));
        }
    } else if external.is_empty() {
        errs.push(required("spec.externalTrafficPolicy", ""));
    } else if external != "Cluster" && external != "Local" {
        errs.push(not_supported(
            "spec.externalTrafficPolicy",
            &Value::String(external.into()),
            &["Cluster", "Local"],
        ));
    }
    let needs_health_check = kind == "LoadBalancer" && external == "Local";
    let health = spec
        .get("healthCheckNodePort")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if !needs_health_check && health != 0 {
        errs.push(invalid(
            "spec.healthCheckNodePort",
            &Value::from(health),
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ));
    } else if needs_health_check && health == 0 {
        errs.push(required("spec.healthCheckNodePort", ""));
    }
    match spec.get("internalTrafficPolicy").and_then(Value::as_str) {
        None if matches!(kind, "NodePort" | "LoadBalancer" | "ClusterIP") => {
            errs.push(required("spec.internalTrafficPolicy", ""));
        }
        Some(p) if p != "Cluster" && p != "Local" => errs.push(not_supported(
            "spec.internalTrafficPolicy",
            &Value::String(p.into()),
            &["Cluster", "Local"],
        )),
        _ => {}
    }
    if let Some(d) = spec.get("trafficDistribution").and_then(Value::as_str)
        && d != "PreferClose"
    {
        errs.push(not_supported(
            "spec.trafficDistribution",
            &Value::String(d.into()),
            &["PreferClose"],
        ));
    }
}

/// What a Service update may not do: change an allocated cluster IP or IP family.
pub(crate) fn service_update(errs: &mut Vec<Cause>, obj: &Value, old: &Value) {
    let empty = Value::Null;
    let (spec, old_spec) = (
        obj.get("spec").unwrap_or(&empty),
        old.get("spec").unwrap_or(&empty),
    );
    if str_of(spec, "type") == "ExternalName" || str_of(old_spec, "type") == "ExternalName" {
        return;
    }
    if is_headless(spec) && is_headless(old_spec) {
        return;
    }
    let (new_ips, old_ips) = (cluster_ips(spec), cluster_ips(old_spec));
    let shown = go_string_slice(spec.get("clusterIPs"));
    if new_ips.is_empty() && !old_ips.is_empty() {
        errs.push(invalid_shown(
            "spec.clusterIPs[0]",
            &shown,
            "primary clusterIP can not be unset",
        ));
    }
    for (i, (new, before)) in new_ips.iter().zip(&old_ips).enumerate() {
        if new != before && (i == 0 || new_ips.len() == old_ips.len()) {
            errs.push(invalid_shown(
                &index("spec.clusterIPs", i),
                &shown,
                "may not change once set",
            ));
        }
    }
    let (new_families, old_families) =
        (list_of(spec, "ipFamilies"), list_of(old_spec, "ipFamilies"));
    if !new_families.is_empty() && !old_families.is_empty() && new_families[0] != old_families[0] {
        errs.push(invalid_shown(
            "spec.ipFamilies[0]",
            &go_string_slice(spec.get("ipFamilies")),
            "may not change once set",
        ));
    }
}
