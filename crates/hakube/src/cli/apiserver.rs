//! `hakube apiserver`: the Kubernetes API server role on its own, with kube-apiserver's flags.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;
use apiserver::{ApiServerConfig, EtcdConfig};
use clap::Args;

/// kube-apiserver's flags, with its names and defaults where they apply.
#[derive(Args, Debug)]
pub struct ApiServerArgs {
    /// etcd servers to connect to, comma separated (https:// with --etcd-cafile for TLS).
    #[arg(long, value_delimiter = ',', required = true)]
    etcd_servers: Vec<String>,
    /// CA that signed the etcd servers' certificates.
    #[arg(long)]
    etcd_cafile: Option<PathBuf>,
    /// Client certificate for etcd.
    #[arg(long)]
    etcd_certfile: Option<PathBuf>,
    /// Client key for etcd.
    #[arg(long)]
    etcd_keyfile: Option<PathBuf>,
    /// The port to serve HTTPS on.
    #[arg(long, default_value_t = 6443)]
    secure_port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: IpAddr,
    /// The address published to the cluster (the `kubernetes` Endpoints).
    #[arg(long)]
    advertise_address: Option<IpAddr>,
    /// The serving certificate.
    #[arg(long, required = true)]
    tls_cert_file: PathBuf,
    /// The serving certificate's key.
    #[arg(long, required = true)]
    tls_private_key_file: PathBuf,
    /// Client certificates signed by this CA authenticate as their CN, in the groups of their O.
    #[arg(long)]
    client_ca_file: Option<PathBuf>,
    /// Keys that verify ServiceAccount tokens (may repeat).
    #[arg(long)]
    service_account_key_file: Vec<PathBuf>,
    /// The private key that signs ServiceAccount tokens.
    #[arg(long)]
    service_account_signing_key_file: Option<PathBuf>,
    /// The issuer (`iss`) of ServiceAccount tokens.
    #[arg(long, default_value = "https://kubernetes.default.svc.cluster.local")]
    service_account_issuer: String,
    /// The range cluster IPs of Services come from.
    #[arg(long, default_value = "10.96.0.0/12")]
    service_cluster_ip_range: String,
    /// The range NodePorts come from.
    #[arg(long, default_value = "30000-32767")]
    service_node_port_range: String,
    /// An EncryptionConfiguration file: which resources are encrypted at rest, and how.
    #[arg(long)]
    encryption_provider_config: Option<PathBuf>,
    /// How often old etcd revisions are compacted (0 turns compaction off), e.g. 5m.
    #[arg(long, default_value = "5m")]
    etcd_compaction_interval: String,
    /// The client certificate the API server shows to kubelets (for pods/log).
    #[arg(long)]
    kubelet_client_certificate: Option<PathBuf>,
    /// The key of --kubelet-client-certificate.
    #[arg(long)]
    kubelet_client_key: Option<PathBuf>,
    /// The CA that kubelets' serving certificates must chain to.
    #[arg(long)]
    kubelet_certificate_authority: Option<PathBuf>,
}

fn parse_duration(text: &str) -> anyhow::Result<std::time::Duration> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .with_context(|| format!("{text:?} is not a duration like 5m or 30s"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => anyhow::bail!("{text:?} is not a duration like 5m or 30s"),
    };
    Ok(std::time::Duration::from_secs(secs))
}

impl ApiServerArgs {
    pub fn config(self) -> anyhow::Result<ApiServerConfig> {
        let etcd = EtcdConfig {
            servers: self.etcd_servers,
            ca_file: self.etcd_cafile,
            cert_file: self.etcd_certfile,
            key_file: self.etcd_keyfile,
        };
        let (low, high) = self
            .service_node_port_range
            .split_once('-')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .filter(|(a, b): &(u16, u16)| a < b)
            .context("--service-node-port-range must look like 30000-32767")?;
        let mut config = ApiServerConfig::new(etcd, self.tls_cert_file, self.tls_private_key_file);
        config.secure_port = self.secure_port;
        config.bind_address = self.bind_address;
        config.advertise_address = self.advertise_address;
        config.client_ca_file = self.client_ca_file;
        config.service_account_key_files = self.service_account_key_file;
        config.service_account_signing_key_file = self.service_account_signing_key_file;
        config.service_account_issuer = self.service_account_issuer;
        config.service_cluster_ip_range = self.service_cluster_ip_range;
        config.service_node_port_range = (low, high);
        config.encryption_provider_config = self.encryption_provider_config;
        config.etcd_compaction_interval = parse_duration(&self.etcd_compaction_interval)?;
        config.kubelet_client_certificate = self.kubelet_client_certificate;
        config.kubelet_client_key = self.kubelet_client_key;
        config.kubelet_certificate_authority = self.kubelet_certificate_authority;
        Ok(config)
    }
}

pub async fn run(args: ApiServerArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let running = apiserver::start(config).await?;
    super::interrupted().await;
    running.shutdown().await;
    Ok(())
}
