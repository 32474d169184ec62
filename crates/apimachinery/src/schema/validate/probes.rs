//! Probes and lifecycle hooks: exactly one well-formed action each, and the thresholds
//! Kubernetes allows per probe kind.

use serde_json::Value;

use super::field::{
    child, forbidden, invalid, list_of, nonnegative, not_supported, present, required, str_of,
};
use crate::schema::names;
use crate::status::Cause;

/// Checks a container's lifecycle hooks and its liveness, readiness and startup probes.
pub(crate) fn hooks_and_probes(errs: &mut Vec<Cause>, c: &Value, path: &str) {
    if let Some(lifecycle) = present(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = present(lifecycle, hook) {
                handler(errs, h, &child(&child(path, "lifecycle"), hook), true);
            }
        }
    }
    for name in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(probe) = present(c, name) else {
            continue;
        };
        let p = child(path, name);
        handler(errs, probe, &p, false);
        for field in [
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        ] {
            nonnegative(errs, &child(&p, field), probe.get(field));
        }
        if let Some(grace) = probe
            .get("terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            && grace <= 0
        {
            errs.push(invalid(
                &child(&p, "terminationGracePeriodSeconds"),
                &Value::from(grace),
                "must be greater than 0",
            ));
        }
        let success = probe
            .get("successThreshold")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if name != "readinessProbe" && success != 1 {
            errs.push(invalid(
                &child(&p, "successThreshold"),
                &Value::from(success),
                "must be 1",
            ));
        }
        if name == "readinessProbe"
            && let Some(grace) = present(probe, "terminationGracePeriodSeconds")
        {
            errs.push(invalid(
                &child(&p, "terminationGracePeriodSeconds"),
                grace,
                "must not be set for readinessProbes",
            ));
        }
    }
}

/// Exactly one action per probe or hook, each well formed.
fn handler(errs: &mut Vec<Cause>, h: &Value, path: &str, lifecycle: bool) {
    let kinds: &[&str] = if lifecycle {
        &["exec", "httpGet", "tcpSocket", "sleep"]
    } else {
        &["exec", "httpGet", "tcpSocket", "grpc"]
    };
    let mut count = 0;
    for kind in kinds {
        let Some(action) = present(h, kind) else {
            continue;
        };
        let p = child(path, kind);
        if count > 0 {
            errs.push(forbidden(&p, "may not specify more than 1 handler type"));
            continue;
        }
        count += 1;
        match *kind {
            "exec" if list_of(action, "command").is_empty() => {
                errs.push(required(&child(&p, "command"), ""));
            }
            "httpGet" => {
                if str_of(action, "path").is_empty() {
                    errs.push(required(&child(&p, "path"), ""));
                }
                port_num_or_name(errs, action.get("port"), &child(&p, "port"));
                let scheme = str_of(action, "scheme");
                if scheme != "HTTP" && scheme != "HTTPS" {
                    errs.push(not_supported(
                        &child(&p, "scheme"),
                        &Value::String(scheme.into()),
                        &["HTTP", "HTTPS"],
                    ));
                }
                for header in list_of(action, "httpHeaders") {
                    let name = str_of(header, "name");
                    for msg in names::is_http_header_name(name) {
                        errs.push(invalid(
                            &child(&p, "httpHeaders"),
                            &Value::String(name.into()),
                            &msg,
                        ));
                    }
                }
            }
            "tcpSocket" | "grpc" => port_num_or_name(errs, action.get("port"), &child(&p, "port")),
            _ => {}
        }
    }
    if count == 0 {
        errs.push(required(path, "must specify a handler type"));
    }
}

/// An IntOrString port: a number from 1 to 65535 or an IANA service name.
pub(crate) fn port_num_or_name(errs: &mut Vec<Cause>, port: Option<&Value>, path: &str) {
    match port {
        Some(Value::String(name)) => {
            for msg in names::is_valid_port_name(name) {
                errs.push(invalid(path, &Value::String(name.clone()), &msg));
            }
        }
        other => {
            let n = other.and_then(Value::as_i64).unwrap_or(0);
            for msg in names::is_valid_port_num(n) {
                errs.push(invalid(path, &Value::from(n), &msg));
            }
        }
    }
}
