//! `/configz`: the kubelet's configuration as a `KubeletConfiguration` (kubelet.config.k8s.io/
//! v1beta1) under `kubeletconfig`, with the field names and duration formats Kubernetes uses.
//! It says what this kubelet does, so settings hakube has no equivalent for are left out. Pure.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::lease::DURATION_SECONDS;
use crate::pod_sync::MAX_PODS;

/// What the configuration is made of.
#[derive(Debug, Clone)]
pub(crate) struct ConfigzInput {
    pub node_ip: Ipv4Addr,
    pub port: u16,
    pub healthz_port: u16,
    pub pod_cidr: Option<String>,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    pub client_ca: PathBuf,
    /// Where pod logs are.
    pub state_dir: PathBuf,
}

/// The `/configz` document.
pub(crate) fn configz(input: &ConfigzInput) -> Value {
    let path = |p: &PathBuf| p.display().to_string();
    let mut config = json!({
        "kind": "KubeletConfiguration",
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "enableServer": true,
        // hakube's static pods are the node's built-in roles, not manifest files.
        "staticPodPath": "",
        "podLogsDir": path(&input.state_dir),
        "address": input.node_ip.to_string(),
        "port": input.port,
        "tlsCertFile": path(&input.serving_cert),
        "tlsPrivateKeyFile": path(&input.serving_key),
        "authentication": {
            "x509": {"clientCAFile": path(&input.client_ca)},
            "webhook": {"enabled": false, "cacheTTL": "0s"},
            "anonymous": {"enabled": false},
        },
        // Any client with a certificate of the cluster CA may use the API.
        "authorization": {
            "mode": "AlwaysAllow",
            "webhook": {"cacheAuthorizedTTL": "0s", "cacheUnauthorizedTTL": "0s"},
        },
        "enableDebuggingHandlers": true,
        "healthzPort": input.healthz_port,
        "healthzBindAddress": input.node_ip.to_string(),
        "clusterDomain": "cluster.local",
        "nodeStatusUpdateFrequency": "10s",
        "nodeStatusReportFrequency": "10s",
        "nodeLeaseDurationSeconds": DURATION_SECONDS,
        // Containers are plain processes: no cgroups are made for pods or QoS classes.
        "cgroupDriver": "cgroupfs",
        "cgroupsPerQOS": false,
        "maxPods": MAX_PODS,
        "podPidsLimit": -1,
        "resolvConf": "/etc/resolv.conf",
        "failSwapOn": false,
        "evictionHard": {"memory.available": "100Mi"},
        "registerNode": true,
        "containerRuntimeEndpoint": "hakube://process",
    });
    if let (Some(cidr), Some(map)) = (&input.pod_cidr, config.as_object_mut()) {
        map.insert("podCIDR".to_string(), json!(cidr));
    }
    json!({ "kubeletconfig": config })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_tools_read() {
        let got = configz(&ConfigzInput {
            node_ip: Ipv4Addr::new(127, 0, 49, 2),
            port: 10250,
            healthz_port: 10248,
            pod_cidr: Some("127.49.129.0/24".into()),
            serving_cert: "/n1/kubelet.crt".into(),
            serving_key: "/n1/kubelet.key".into(),
            client_ca: "/pki/ca.crt".into(),
            state_dir: "/n1/pods".into(),
        });
        let config = &got["kubeletconfig"];
        let cases = [
            ("/containerRuntimeEndpoint", json!("hakube://process")),
            ("/healthzPort", json!(10248)),
            ("/healthzBindAddress", json!("127.0.49.2")),
            ("/port", json!(10250)),
            ("/enableServer", json!(true)),
            ("/podCIDR", json!("127.49.129.0/24")),
            ("/maxPods", json!(110)),
            ("/clusterDomain", json!("cluster.local")),
            ("/authentication/x509/clientCAFile", json!("/pki/ca.crt")),
            ("/kind", json!("KubeletConfiguration")),
        ];
        for (pointer, want) in cases {
            assert_eq!(config.pointer(pointer), Some(&want), "{pointer}");
        }
    }
}
