//! What agnhost knows of its pod: the pod IP it binds to and the pod's name as its hostname, both
//! from the environment the kubelet gives every container.

use std::net::{IpAddr, Ipv4Addr};

/// The pod facts agnhost serves and binds with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEnv {
    /// `POD_IP`. Every pod of a node shares the host's network, so binding this address (not
    /// 0.0.0.0) is what lets many pods use the same port on one machine.
    pub pod_ip: Option<IpAddr>,
    /// `HOSTNAME`: the pod's name, which is what a pod's hostname is in Kubernetes.
    pub hostname: String,
}

impl PodEnv {
    /// Reads the facts through `var` (the environment); an unparsable `POD_IP` counts as unset
    /// and `fallback_hostname` stands in for a missing `HOSTNAME`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>, fallback_hostname: &str) -> PodEnv {
        PodEnv {
            pod_ip: var("POD_IP").and_then(|ip| ip.trim().parse().ok()),
            hostname: var("HOSTNAME")
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| fallback_hostname.to_string()),
        }
    }

    /// This process's environment; without `HOSTNAME` the machine's hostname.
    pub fn from_process() -> PodEnv {
        let machine = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".to_string());
        PodEnv::from_vars(|name| std::env::var(name).ok(), &machine)
    }

    /// Where servers listen: the pod IP, or every address when there is none.
    pub fn bind_ip(&self) -> IpAddr {
        self.pod_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_to_pod_facts() {
        // (POD_IP, HOSTNAME, expected pod IP, expected hostname, bind IP)
        let cases = [
            (
                Some("127.49.129.5"),
                Some("hello-7f9c-abcde"),
                Some("127.49.129.5"),
                "hello-7f9c-abcde",
                "127.49.129.5",
            ),
            (None, None, None, "machine", "0.0.0.0"),
            (Some("not-an-ip"), Some(""), None, "machine", "0.0.0.0"),
            (
                Some(" 10.0.0.1\n"),
                None,
                Some("10.0.0.1"),
                "machine",
                "10.0.0.1",
            ),
        ];
        for (ip, hostname, want_ip, want_hostname, want_bind) in cases {
            let env = PodEnv::from_vars(
                |name| match name {
                    "POD_IP" => ip.map(String::from),
                    "HOSTNAME" => hostname.map(String::from),
                    _ => None,
                },
                "machine",
            );
            assert_eq!(
                env.pod_ip,
                want_ip.map(|i: &str| i.parse().unwrap()),
                "{ip:?}"
            );
            assert_eq!(env.hostname, want_hostname);
            assert_eq!(env.bind_ip().to_string(), want_bind);
        }
    }
}
