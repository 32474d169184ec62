//! A member's configuration, in etcd's terms, and the checks that turn bad flags into one clear
//! message each.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// Whether the member founds a cluster or joins one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    New,
    Existing,
}

/// Certificate files for one side (client or peer), as etcd's TLS flags name them.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub trusted_ca_file: Option<PathBuf>,
    /// Require and verify a client certificate signed by the trusted CA.
    pub client_cert_auth: bool,
}

/// Everything a store member needs to run.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub name: String,
    pub data_dir: PathBuf,
    pub listen_client_urls: Vec<String>,
    pub advertise_client_urls: Vec<String>,
    pub listen_peer_urls: Vec<String>,
    pub initial_advertise_peer_urls: Vec<String>,
    /// `name=peer-url` pairs; a name may repeat for a member with several peer URLs.
    pub initial_cluster: Vec<(String, String)>,
    pub initial_cluster_state: ClusterState,
    pub initial_cluster_token: String,
    pub client_tls: TlsFiles,
    pub peer_tls: TlsFiles,
    pub quota_backend_bytes: u64,
    pub max_request_bytes: usize,
    pub max_txn_ops: usize,
    pub heartbeat_interval: Duration,
    pub election_timeout: Duration,
    pub snapshot_count: u64,
    /// How often watchers that asked for progress notifications get one (etcd: 10 minutes).
    pub progress_notify_interval: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            name: "default".into(),
            data_dir: PathBuf::from("default.etcd"),
            listen_client_urls: vec!["http://localhost:2379".into()],
            advertise_client_urls: vec!["http://localhost:2379".into()],
            listen_peer_urls: vec!["http://localhost:2380".into()],
            initial_advertise_peer_urls: vec!["http://localhost:2380".into()],
            initial_cluster: vec![("default".into(), "http://localhost:2380".into())],
            initial_cluster_state: ClusterState::New,
            initial_cluster_token: "etcd-cluster".into(),
            client_tls: TlsFiles::default(),
            peer_tls: TlsFiles::default(),
            quota_backend_bytes: DEFAULT_QUOTA_BYTES,
            max_request_bytes: 1536 * 1024,
            max_txn_ops: 128,
            heartbeat_interval: Duration::from_millis(100),
            election_timeout: Duration::from_millis(1000),
            snapshot_count: 10_000,
            progress_notify_interval: Duration::from_secs(600),
        }
    }
}

/// etcd's default backend quota: 2 GiB.
pub const DEFAULT_QUOTA_BYTES: u64 = 2 * 1024 * 1024 * 1024;

impl StoreConfig {
    /// Reads `--initial-cluster` (`name=url,name=url`).
    pub fn parse_initial_cluster(s: &str) -> Result<Vec<(String, String)>> {
        s.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|pair| {
                let (name, url) = pair.split_once('=').ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "--initial-cluster: {pair:?} is not name=peer-url"
                    ))
                })?;
                check_url(url.trim(), "--initial-cluster")?;
                Ok((name.trim().to_string(), url.trim().to_string()))
            })
            .collect()
    }

    /// Checks the flags together, as etcd does before it starts.
    pub fn validate(&self) -> Result<()> {
        for (flag, urls) in [
            ("--listen-client-urls", &self.listen_client_urls),
            ("--advertise-client-urls", &self.advertise_client_urls),
            ("--listen-peer-urls", &self.listen_peer_urls),
            (
                "--initial-advertise-peer-urls",
                &self.initial_advertise_peer_urls,
            ),
        ] {
            if urls.is_empty() {
                return Err(Error::InvalidArgument(format!(
                    "{flag} must name at least one URL"
                )));
            }
            for u in urls {
                check_url(u, flag)?;
            }
        }
        let mine: Vec<&String> = self
            .initial_cluster
            .iter()
            .filter(|(n, _)| *n == self.name)
            .map(|(_, u)| u)
            .collect();
        if mine.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "couldn't find local name {:?} in the initial cluster configuration; add {}={} to --initial-cluster",
                self.name, self.name, self.initial_advertise_peer_urls[0]
            )));
        }
        let mut advertised = self.initial_advertise_peer_urls.clone();
        advertised.sort();
        let mut listed: Vec<String> = mine.into_iter().cloned().collect();
        listed.sort();
        if advertised != listed {
            return Err(Error::InvalidArgument(format!(
                "--initial-cluster has {listed:?} for {:?} but --initial-advertise-peer-urls is {advertised:?}; make them match",
                self.name
            )));
        }
        if self.election_timeout < self.heartbeat_interval * 5 {
            return Err(Error::InvalidArgument(
                "--election-timeout should be at least 5 times --heartbeat-interval".into(),
            ));
        }
        for (side, tls, urls) in [
            ("client", &self.client_tls, &self.listen_client_urls),
            ("peer", &self.peer_tls, &self.listen_peer_urls),
        ] {
            let https = urls.iter().any(|u| u.starts_with("https://"));
            if https && (tls.cert_file.is_none() || tls.key_file.is_none()) {
                return Err(Error::InvalidArgument(format!(
                    "{side} URLs use https but the {side} --cert-file/--key-file are not set"
                )));
            }
            if tls.client_cert_auth && tls.trusted_ca_file.is_none() {
                return Err(Error::InvalidArgument(format!(
                    "{side} certificate authentication needs a trusted CA file"
                )));
            }
        }
        Ok(())
    }

    /// Members of the initial cluster: name and peer URLs, in flag order.
    pub fn initial_members(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for (name, url) in &self.initial_cluster {
            match out.iter_mut().find(|(n, _)| n == name) {
                Some((_, urls)) => urls.push(url.clone()),
                None => out.push((name.clone(), vec![url.clone()])),
            }
        }
        out
    }

    /// The smallest lease TTL etcd grants: one and a half election timeouts, rounded up.
    pub fn min_lease_ttl(&self) -> i64 {
        let ms = self.election_timeout.as_millis() as i64 * 3 / 2;
        (ms + 999) / 1000
    }

    /// How long a client request may wait for a leader and a commit.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(5) + self.election_timeout * 2
    }
}

/// Checks that `u` is an http(s) URL with a host and a port.
pub fn check_url(u: &str, flag: &str) -> Result<url::Url> {
    let parsed = url::Url::parse(u)
        .map_err(|e| Error::InvalidArgument(format!("{flag}: {u:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::InvalidArgument(format!(
            "{flag}: {u:?} must start with http:// or https://"
        )));
    }
    if parsed.host_str().is_none() || parsed.port().is_none() {
        return Err(Error::InvalidArgument(format!(
            "{flag}: {u:?} needs a host and a port"
        )));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_cluster_parses_and_groups() {
        let c = StoreConfig::parse_initial_cluster("a=http://1.1.1.1:2380,b=http://2.2.2.2:2380")
            .unwrap();
        assert_eq!(c.len(), 2);
        assert!(StoreConfig::parse_initial_cluster("a").is_err());
        assert!(StoreConfig::parse_initial_cluster("a=ftp://x:1").is_err());
    }

    #[test]
    fn validate_names_the_problem() {
        let ok = StoreConfig::default();
        ok.validate().unwrap();
        let missing = StoreConfig {
            name: "zz".into(),
            ..StoreConfig::default()
        };
        assert!(
            missing
                .validate()
                .unwrap_err()
                .to_string()
                .contains("couldn't find local name")
        );
        let no_cert = StoreConfig {
            listen_client_urls: vec!["https://127.0.0.1:2379".into()],
            ..StoreConfig::default()
        };
        assert!(
            no_cert
                .validate()
                .unwrap_err()
                .to_string()
                .contains("--cert-file")
        );
    }

    #[test]
    fn min_lease_ttl_follows_election_timeout() {
        assert_eq!(StoreConfig::default().min_lease_ttl(), 2);
        let slow = StoreConfig {
            election_timeout: Duration::from_millis(5000),
            ..StoreConfig::default()
        };
        assert_eq!(slow.min_lease_ttl(), 8);
    }
}
