//! The API server's configuration, named after kube-apiserver's flags.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::etcd::EtcdConfig;

/// Everything `hakube apiserver` needs to run.
#[derive(Debug, Clone)]
pub struct ApiServerConfig {
    pub etcd: EtcdConfig,
    /// `--bind-address` and `--secure-port`.
    pub bind_address: IpAddr,
    pub secure_port: u16,
    /// `--advertise-address`: the address published in the `kubernetes` Endpoints and discovery.
    pub advertise_address: Option<IpAddr>,
    pub tls_cert_file: PathBuf,
    pub tls_private_key_file: PathBuf,
    /// `--client-ca-file`: client certificates signed by it authenticate their CN and O.
    pub client_ca_file: Option<PathBuf>,
    /// `--service-account-key-file`: public (or private) keys that verify ServiceAccount tokens.
    pub service_account_key_files: Vec<PathBuf>,
    /// `--service-account-signing-key-file`: the private key that signs them.
    pub service_account_signing_key_file: Option<PathBuf>,
    pub service_account_issuer: String,
    /// `--service-cluster-ip-range`, e.g. `10.96.0.0/12`.
    pub service_cluster_ip_range: String,
    /// `--service-node-port-range`, e.g. `30000-32767`.
    pub service_node_port_range: (u16, u16),
    pub encryption_provider_config: Option<PathBuf>,
    /// How often old revisions are compacted away (kube-apiserver: `--etcd-compaction-interval`, 5m).
    pub etcd_compaction_interval: std::time::Duration,
    /// How often this server renews its master lease and reconciles the `kubernetes` Endpoints
    /// (kube-apiserver's EndpointInterval, 10 s; not a flag there either). Tests shorten it.
    pub endpoint_reconcile_interval: std::time::Duration,
    /// `--kubelet-client-certificate` and `--kubelet-client-key`: who the API server is to the
    /// kubelets it asks for logs.
    pub kubelet_client_certificate: Option<PathBuf>,
    pub kubelet_client_key: Option<PathBuf>,
    /// `--kubelet-certificate-authority`: the CA that kubelets' serving certificates must chain to.
    pub kubelet_certificate_authority: Option<PathBuf>,
}

impl ApiServerConfig {
    /// A configuration with kube-apiserver's defaults for everything but the files and servers.
    pub fn new(etcd: EtcdConfig, tls_cert_file: PathBuf, tls_private_key_file: PathBuf) -> Self {
        ApiServerConfig {
            etcd,
            bind_address: IpAddr::from([0, 0, 0, 0]),
            secure_port: 6443,
            advertise_address: None,
            tls_cert_file,
            tls_private_key_file,
            client_ca_file: None,
            service_account_key_files: Vec::new(),
            service_account_signing_key_file: None,
            service_account_issuer: "https://kubernetes.default.svc.cluster.local".into(),
            service_cluster_ip_range: "10.96.0.0/12".into(),
            service_node_port_range: (30000, 32767),
            encryption_provider_config: None,
            etcd_compaction_interval: std::time::Duration::from_secs(300),
            endpoint_reconcile_interval: crate::endpoints::INTERVAL,
            kubelet_client_certificate: None,
            kubelet_client_key: None,
            kubelet_certificate_authority: None,
        }
    }

    /// The address clients are told to use: the advertise address, else the bind address.
    pub fn public_address(&self) -> IpAddr {
        match self.advertise_address {
            Some(address) => address,
            None if self.bind_address.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
            None => self.bind_address,
        }
    }
}
