//! Table tests of the reconcile decision: stored Endpoints and EndpointSlice plus the IPs that
//! hold a master lease, in; what to write, out.

use serde_json::json;

use super::*;

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|ip| ip.parse().unwrap()).collect()
}

fn endpoints(addresses: &[&str], port: u16) -> Value {
    let addresses: Vec<Value> = addresses.iter().map(|ip| json!({"ip": ip})).collect();
    json!({
        "metadata": {"name": "kubernetes", "namespace": "default", "resourceVersion": "7",
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": addresses, "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    })
}

fn slice(addresses: &[&str], port: u16) -> Value {
    let endpoints: Vec<Value> = addresses
        .iter()
        .map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}}))
        .collect();
    json!({
        "metadata": {"name": "kubernetes", "namespace": "default", "resourceVersion": "8",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    })
}

/// The addresses a planned write publishes, or `None` for no write.
fn planned(plan: &Plan) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let listed = |object: &Option<Value>, pointer: &str, field: &str| {
        object.as_ref().map(|o| {
            o.pointer(pointer)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|a| {
                    let ip = if field.is_empty() {
                        &a["addresses"][0]
                    } else {
                        &a[field]
                    };
                    ip.as_str().unwrap_or_default().to_string()
                })
                .collect()
        })
    };
    (
        listed(&plan.endpoints, "/subsets/0/addresses", "ip"),
        listed(&plan.slice, "/endpoints", ""),
    )
}

#[test]
fn reconcile_decisions() {
    type Want<'a> = (Option<&'a [&'a str]>, Option<&'a [&'a str]>);
    let none: Option<&[&str]> = None;
    /// What, the stored Endpoints and slice, the live lease IPs, and the addresses written.
    type Case<'a> = (&'a str, Option<Value>, Option<Value>, Vec<IpAddr>, Want<'a>);
    let cases: Vec<Case> = vec![
        (
            "nothing stored yet: create both",
            None,
            None,
            ips(&["10.0.0.1"]),
            (Some(&["10.0.0.1"]), Some(&["10.0.0.1"])),
        ),
        (
            "already right: no write",
            Some(endpoints(&["10.0.0.1", "10.0.0.2"], 6443)),
            Some(slice(&["10.0.0.1", "10.0.0.2"], 6443)),
            ips(&["10.0.0.2", "10.0.0.1"]),
            (none, none),
        ),
        (
            "a dead server's lease lapsed: drop it",
            Some(endpoints(&["10.0.0.1", "10.0.0.2", "10.0.0.3"], 6443)),
            Some(slice(&["10.0.0.1", "10.0.0.2", "10.0.0.3"], 6443)),
            ips(&["10.0.0.1", "10.0.0.3"]),
            (
                Some(&["10.0.0.1", "10.0.0.3"]),
                Some(&["10.0.0.1", "10.0.0.3"]),
            ),
        ),
        (
            "a new server: add it, sorted as text",
            Some(endpoints(&["10.0.0.9"], 6443)),
            Some(slice(&["10.0.0.9"], 6443)),
            ips(&["10.0.0.9", "10.0.0.10"]),
            (
                Some(&["10.0.0.10", "10.0.0.9"]),
                Some(&["10.0.0.10", "10.0.0.9"]),
            ),
        ),
        (
            "no live lease: refuse to erase",
            Some(endpoints(&["10.0.0.1"], 6443)),
            Some(slice(&["10.0.0.1"], 6443)),
            ips(&[]),
            (none, none),
        ),
        (
            "the port changed: rewrite",
            Some(endpoints(&["10.0.0.1"], 443)),
            Some(slice(&["10.0.0.1"], 443)),
            ips(&["10.0.0.1"]),
            (Some(&["10.0.0.1"]), Some(&["10.0.0.1"])),
        ),
        (
            "only the slice is behind",
            Some(endpoints(&["10.0.0.1"], 6443)),
            Some(slice(&["10.0.0.1", "10.0.0.2"], 6443)),
            ips(&["10.0.0.1"]),
            (none, Some(&["10.0.0.1"])),
        ),
        (
            "IPv6 servers stay out of an IPv4 service",
            None,
            None,
            ips(&["10.0.0.1", "fd00::1"]),
            (Some(&["10.0.0.1"]), Some(&["10.0.0.1"])),
        ),
        (
            "duplicate addresses are one",
            Some(endpoints(&["10.0.0.1", "10.0.0.1"], 6443)),
            Some(slice(&["10.0.0.1"], 6443)),
            ips(&["10.0.0.1"]),
            (Some(&["10.0.0.1"]), none),
        ),
    ];
    for (what, stored_endpoints, stored_slice, live, (want_endpoints, want_slice)) in cases {
        let plan = plan(
            stored_endpoints.as_ref(),
            stored_slice.as_ref(),
            &live,
            6443,
        );
        let to_strings =
            |list: Option<&[&str]>| list.map(|l| l.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            planned(&plan),
            (to_strings(want_endpoints), to_strings(want_slice)),
            "{what}"
        );
    }
}

#[test]
fn written_objects_have_kubes_shape() {
    let plan = plan(None, None, &ips(&["10.0.0.1"]), 6443);
    assert_eq!(
        plan.endpoints.unwrap(),
        json!({
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}],
                         "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}],
        })
    );
    assert_eq!(
        plan.slice.unwrap(),
        json!({
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": true}}],
            "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
        })
    );
}

#[test]
fn an_update_keeps_the_stored_metadata() {
    let mut stored = endpoints(&["10.0.0.1"], 6443);
    stored["metadata"]["labels"] = json!({"team": "platform"});
    stored["metadata"]["uid"] = json!("u-1");
    let written = plan(Some(&stored), None, &ips(&["10.0.0.1"]), 6443)
        .endpoints
        .unwrap();
    assert_eq!(written["metadata"]["uid"], "u-1");
    assert_eq!(written["metadata"]["resourceVersion"], "7");
    assert_eq!(
        written["metadata"]["labels"],
        json!({"team": "platform", "endpointslice.kubernetes.io/skip-mirror": "true"})
    );
}
