//! Endpoints and EndpointSlice checks, written mostly by controllers but open to users.

use serde_json::Value;

use super::container::protocol;
use super::field::{child, index, invalid, list_of, not_supported, required, str_of};
use super::service::{non_special_ip, valid_ip};
use crate::schema::names;
use crate::status::Cause;

/// `ValidateEndpoints`.
pub(crate) fn endpoints(errs: &mut Vec<Cause>, obj: &Value) {
    for (i, subset) in list_of(obj, "subsets").iter().enumerate() {
        let p = index("subsets", i);
        let (ready, not_ready) = (
            list_of(subset, "addresses"),
            list_of(subset, "notReadyAddresses"),
        );
        if ready.is_empty() && not_ready.is_empty() {
            errs.push(required(
                &p,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (list, addresses) in [("addresses", ready), ("notReadyAddresses", not_ready)] {
            for (j, address) in addresses.iter().enumerate() {
                let ap = index(&child(&p, list), j);
                let ip = str_of(address, "ip");
                valid_ip(errs, &child(&ap, "ip"), ip);
                let hostname = str_of(address, "hostname");
                if !hostname.is_empty() {
                    for msg in names::is_dns1123_label(hostname) {
                        errs.push(invalid(
                            &child(&ap, "hostname"),
                            &Value::String(hostname.into()),
                            &msg,
                        ));
                    }
                }
                non_special_ip(errs, &child(&ap, "ip"), ip, true);
            }
        }
        let ports = list_of(subset, "ports");
        for (j, port) in ports.iter().enumerate() {
            let pp = index(&child(&p, "ports"), j);
            let name = str_of(port, "name");
            if ports.len() > 1 && name.is_empty() {
                errs.push(required(&child(&pp, "name"), ""));
            } else if !name.is_empty() {
                for msg in names::is_dns1123_label(name) {
                    errs.push(invalid(
                        &child(&pp, "name"),
                        &Value::String(name.into()),
                        &msg,
                    ));
                }
            }
            let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
            for msg in names::is_valid_port_num(number) {
                errs.push(invalid(&child(&pp, "port"), &Value::from(number), &msg));
            }
            protocol(errs, port, &pp);
        }
    }
}

/// `ValidateEndpointSlice`, the parts users meet: address type and ports.
pub(crate) fn endpoint_slice(errs: &mut Vec<Cause>, obj: &Value) {
    let address_type = str_of(obj, "addressType");
    match address_type {
        "IPv4" | "IPv6" | "FQDN" => {}
        "" => errs.push(required("addressType", "")),
        other => errs.push(not_supported(
            "addressType",
            &Value::String(other.into()),
            &["FQDN", "IPv4", "IPv6"],
        )),
    }
    for (i, port) in list_of(obj, "ports").iter().enumerate() {
        let pp = index("ports", i);
        let name = str_of(port, "name");
        if !name.is_empty() {
            for msg in names::is_dns1123_label(name) {
                errs.push(invalid(
                    &child(&pp, "name"),
                    &Value::String(name.into()),
                    &msg,
                ));
            }
        }
        if let Some(number) = port.get("port").and_then(Value::as_i64) {
            for msg in names::is_valid_port_num(number) {
                errs.push(invalid(&child(&pp, "port"), &Value::from(number), &msg));
            }
        }
        protocol(errs, port, &pp);
    }
}
