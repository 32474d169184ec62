//! `hakube etcd`: one store member, configured with etcd's own flags.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use store::{ClusterState, StoreConfig, TlsFiles};

/// etcd's flags, with etcd's names and defaults.
#[derive(Args, Debug)]
pub struct EtcdArgs {
    /// Human-readable name for this member.
    #[arg(long, default_value = "default")]
    name: String,
    /// Path to the data directory (default: `<name>.etcd`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// URLs to listen on for client traffic.
    #[arg(long, default_value = "http://localhost:2379")]
    listen_client_urls: String,
    /// Client URLs to advertise to the rest of the cluster.
    #[arg(long, default_value = "http://localhost:2379")]
    advertise_client_urls: String,
    /// URLs to listen on for peer traffic.
    #[arg(long, default_value = "http://localhost:2380")]
    listen_peer_urls: String,
    /// Peer URLs to advertise to the rest of the cluster.
    #[arg(long, default_value = "http://localhost:2380")]
    initial_advertise_peer_urls: String,
    /// Initial cluster configuration for bootstrapping: name=peer-url,...
    #[arg(long)]
    initial_cluster: Option<String>,
    /// Initial cluster state: new or existing.
    #[arg(long, default_value = "new", value_parser = ["new", "existing"])]
    initial_cluster_state: String,
    /// Initial cluster token, which keeps clusters bootstrapped side by side apart.
    #[arg(long, default_value = "etcd-cluster")]
    initial_cluster_token: String,
    /// Client server TLS certificate file.
    #[arg(long)]
    cert_file: Option<PathBuf>,
    /// Client server TLS key file.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// CA that signs client certificates.
    #[arg(long)]
    trusted_ca_file: Option<PathBuf>,
    /// Require client certificates signed by --trusted-ca-file.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    client_cert_auth: bool,
    /// Peer server TLS certificate file.
    #[arg(long)]
    peer_cert_file: Option<PathBuf>,
    /// Peer server TLS key file.
    #[arg(long)]
    peer_key_file: Option<PathBuf>,
    /// CA that signs peer certificates.
    #[arg(long)]
    peer_trusted_ca_file: Option<PathBuf>,
    /// Require peer certificates signed by --peer-trusted-ca-file.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    peer_client_cert_auth: bool,
    /// Raise the NOSPACE alarm when the store passes this size (0: etcd's default of 2 GiB).
    #[arg(long, default_value_t = 0)]
    quota_backend_bytes: u64,
    /// Largest client request the server accepts.
    #[arg(long, default_value_t = 1536 * 1024)]
    max_request_bytes: usize,
    /// Largest number of operations in one transaction.
    #[arg(long, default_value_t = 128)]
    max_txn_ops: usize,
    /// Time (in milliseconds) of a heartbeat interval.
    #[arg(long, default_value_t = 100)]
    heartbeat_interval: u64,
    /// Time (in milliseconds) for an election to time out.
    #[arg(long, default_value_t = 1000)]
    election_timeout: u64,
    /// Committed entries between two snapshots (then the log behind the snapshot is dropped).
    #[arg(long, default_value_t = 10_000)]
    snapshot_count: u64,
    /// Interval (e.g. 10m, 5s) of progress notifications to watchers that ask for them.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    experimental_watch_progress_notify_interval: Duration,
}

fn split(urls: &str) -> Vec<String> {
    urls.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Reads a Go-style duration: a number followed by ms, s, m or h.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 500ms, 5s or 10m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("{s:?} is not a duration like 500ms, 5s or 10m")),
    }
}

impl EtcdArgs {
    /// The store configuration these flags describe.
    pub fn into_config(self) -> anyhow::Result<StoreConfig> {
        let initial_cluster = match &self.initial_cluster {
            Some(s) => StoreConfig::parse_initial_cluster(s)?,
            None => split(&self.initial_advertise_peer_urls)
                .into_iter()
                .map(|u| (self.name.clone(), u))
                .collect(),
        };
        Ok(StoreConfig {
            data_dir: self
                .data_dir
                .unwrap_or_else(|| PathBuf::from(format!("{}.etcd", self.name))),
            name: self.name,
            listen_client_urls: split(&self.listen_client_urls),
            advertise_client_urls: split(&self.advertise_client_urls),
            listen_peer_urls: split(&self.listen_peer_urls),
            initial_advertise_peer_urls: split(&self.initial_advertise_peer_urls),
            initial_cluster,
            initial_cluster_state: if self.initial_cluster_state == "existing" {
                ClusterState::Existing
            } else {
                ClusterState::New
            },
            initial_cluster_token: self.initial_cluster_token,
            client_tls: TlsFiles {
                cert_file: self.cert_file,
                key_file: self.key_file,
                trusted_ca_file: self.trusted_ca_file,
                client_cert_auth: self.client_cert_auth,
            },
            peer_tls: TlsFiles {
                cert_file: self.peer_cert_file,
                key_file: self.peer_key_file,
                trusted_ca_file: self.peer_trusted_ca_file,
                client_cert_auth: self.peer_client_cert_auth,
            },
            quota_backend_bytes: if self.quota_backend_bytes == 0 {
                store::config::DEFAULT_QUOTA_BYTES
            } else {
                self.quota_backend_bytes
            },
            max_request_bytes: self.max_request_bytes,
            max_txn_ops: self.max_txn_ops,
            heartbeat_interval: Duration::from_millis(self.heartbeat_interval),
            election_timeout: Duration::from_millis(self.election_timeout),
            snapshot_count: self.snapshot_count.max(1),
            progress_notify_interval: self.experimental_watch_progress_notify_interval,
        })
    }
}

/// Runs one member until it is interrupted or removed from its cluster.
pub async fn run(args: EtcdArgs) -> anyhow::Result<()> {
    let config = args.into_config()?;
    let member = store::start(config)
        .await
        .context("cannot start the store member")?;
    let mut stop = member.stop.subscribe();
    tokio::select! {
        _ = super::interrupted() => {
            store::shutdown(&member).await;
            Ok(())
        }
        _ = stop.wait_for(|s| *s) => {
            store::shutdown(&member).await;
            anyhow::bail!("the member has been permanently removed from the cluster")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert!(parse_duration("ten").is_err());
    }
}
