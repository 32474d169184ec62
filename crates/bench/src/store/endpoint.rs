//! Endpoints as etcdctl takes them, and the gRPC connections the clients share.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use etcd_api::etcdserverpb::MemberListRequest;
use etcd_api::etcdserverpb::StatusRequest;
use etcd_api::etcdserverpb::cluster_client::ClusterClient;
use etcd_api::etcdserverpb::maintenance_client::MaintenanceClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::{Error, Result};

/// How long to wait for a TCP and TLS handshake before calling an endpoint unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One etcd client URL, normalised to `http://host:port` or `https://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    uri: String,
}

impl Endpoint {
    /// Reads `host:port`, `http://host:port` or `https://host:port`. A bare `host:port` uses TLS
    /// when `tls_by_default` is set, as etcdctl does when it is given certificates.
    pub fn parse(raw: &str, tls_by_default: bool) -> Result<Endpoint> {
        let raw = raw.trim();
        let invalid = |why: &str| Error::InvalidOption(format!("invalid endpoint {raw:?}: {why}"));
        let (scheme, address) = match raw.split_once("://") {
            Some(("http", address)) => ("http", address),
            Some(("https", address)) => ("https", address),
            Some((scheme, _)) => {
                return Err(invalid(&format!("scheme {scheme:?} is not http or https")));
            }
            None if tls_by_default => ("https", raw),
            None => ("http", raw),
        };
        let address = address.trim_end_matches('/');
        if address.is_empty() {
            return Err(invalid("no host"));
        }
        if address.contains('/') {
            return Err(invalid("a client URL has no path"));
        }
        let has_port = match address.rsplit_once(':') {
            Some((host, port)) => {
                !host.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
            }
            None => false,
        };
        if !has_port {
            return Err(invalid("expected host:port"));
        }
        Ok(Endpoint {
            uri: format!("{scheme}://{address}"),
        })
    }

    /// Splits a comma-separated `--endpoints` value.
    pub fn parse_list(raw: &[String], tls_by_default: bool) -> Result<Vec<Endpoint>> {
        let endpoints: Vec<Endpoint> = raw
            .iter()
            .flat_map(|item| item.split(','))
            .filter(|item| !item.trim().is_empty())
            .map(|item| Endpoint::parse(item, tls_by_default))
            .collect::<Result<_>>()?;
        if endpoints.is_empty() {
            return Err(Error::InvalidOption(
                "--endpoints names no endpoint".to_owned(),
            ));
        }
        Ok(endpoints)
    }

    /// The normalised URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Whether the connection is TLS.
    pub fn tls(&self) -> bool {
        self.uri.starts_with("https://")
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)
    }
}

/// The client's TLS files, named as etcdctl names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// --cacert: the CA that signed the server certificates.
    pub cacert: Option<PathBuf>,
    /// --cert: the client certificate, for servers that require client certificates.
    pub cert: Option<PathBuf>,
    /// --key: the client certificate's key.
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    /// Whether any TLS file was given (then bare endpoints use TLS).
    pub fn any(&self) -> bool {
        self.cacert.is_some() || self.cert.is_some() || self.key.is_some()
    }

    /// Reads the files into a tonic TLS configuration, or `None` if no TLS file was given.
    pub fn client_config(&self) -> Result<Option<ClientTlsConfig>> {
        let Some(cacert) = &self.cacert else {
            return Ok(None);
        };
        let mut config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(cacert, "CA certificate")?));
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            config = config.identity(Identity::from_pem(
                read(cert, "client certificate")?,
                read(key, "client key")?,
            ));
        }
        Ok(Some(config))
    }
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::ReadTls {
        what,
        path: path.to_owned(),
        source,
    })
}

/// Opens one HTTP/2 connection to `endpoint`. Each call makes a separate connection, which is what
/// --conns counts.
pub async fn connect(
    endpoint: &Endpoint,
    tls: Option<&ClientTlsConfig>,
    request_timeout: Duration,
) -> Result<Channel> {
    let invalid = |source| Error::InvalidEndpoint {
        endpoint: endpoint.to_string(),
        source,
    };
    let mut transport = tonic::transport::Endpoint::from_shared(endpoint.uri().to_owned())
        .map_err(invalid)?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(request_timeout)
        .tcp_nodelay(true);
    if endpoint.tls() {
        let tls = tls.ok_or_else(|| {
            Error::InvalidOption(format!(
                "{endpoint} is a TLS endpoint: --cacert is needed to trust its certificate"
            ))
        })?;
        transport = transport.tls_config(tls.clone()).map_err(invalid)?;
    }
    transport.connect().await.map_err(|source| Error::Connect {
        endpoint: endpoint.to_string(),
        source,
    })
}

/// Finds the endpoint of the Raft leader from each endpoint's Maintenance.Status. If the leader is
/// none of the given endpoints, its first client URL comes from Cluster.MemberList.
pub async fn find_leader(
    endpoints: &[Endpoint],
    tls: Option<&ClientTlsConfig>,
    request_timeout: Duration,
) -> Result<Endpoint> {
    let mut last_error = None;
    // The first endpoint that names a leader, kept to ask for the member list if needed.
    let mut informant: Option<(&Endpoint, Channel, u64)> = None;
    for endpoint in endpoints {
        let status = async {
            let channel = connect(endpoint, tls, request_timeout).await?;
            let status = MaintenanceClient::new(channel.clone())
                .status(StatusRequest {})
                .await
                .map_err(|source| Error::Rpc {
                    call: "Maintenance.Status",
                    endpoint: endpoint.to_string(),
                    source,
                })?
                .into_inner();
            Ok::<_, Error>((channel, status))
        }
        .await;
        let (channel, status) = match status {
            Ok(answer) => answer,
            Err(error) => {
                last_error = Some(error);
                continue;
            }
        };
        if status.leader == 0 {
            last_error = Some(Error::NoLeader(format!("{endpoint} reports no leader")));
            continue;
        }
        if status.header.map(|header| header.member_id) == Some(status.leader) {
            return Ok(endpoint.clone());
        }
        informant.get_or_insert((endpoint, channel, status.leader));
    }
    let Some((endpoint, channel, leader_id)) = informant else {
        return Err(
            last_error.unwrap_or_else(|| Error::NoLeader("no endpoint answered".to_owned()))
        );
    };
    let members = ClusterClient::new(channel)
        .member_list(MemberListRequest {
            linearizable: false,
        })
        .await
        .map_err(|source| Error::Rpc {
            call: "Cluster.MemberList",
            endpoint: endpoint.to_string(),
            source,
        })?
        .into_inner()
        .members;
    let leader = members
        .iter()
        .find(|member| member.id == leader_id)
        .ok_or_else(|| {
            Error::NoLeader(format!("leader {leader_id:x} is not in the member list"))
        })?;
    let url = leader.client_ur_ls.first().ok_or_else(|| {
        Error::NoLeader(format!(
            "leader {} ({leader_id:x}) has no client URL",
            leader.name
        ))
    })?;
    Endpoint::parse(url, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_endpoints() {
        let cases = [
            ("127.0.0.1:2379", false, Some("http://127.0.0.1:2379")),
            ("127.0.0.1:2379", true, Some("https://127.0.0.1:2379")),
            ("http://10.0.0.1:2379/", true, Some("http://10.0.0.1:2379")),
            (
                "https://etcd.local:2379",
                false,
                Some("https://etcd.local:2379"),
            ),
            (" [::1]:2379 ", false, Some("http://[::1]:2379")),
            ("localhost", false, None),
            ("localhost:", false, None),
            (":2379", false, None),
            ("unix://socket:0", false, None),
            ("http://", false, None),
            ("http://host:2379/v3", false, None),
        ];
        for (raw, tls, expected) in cases {
            let parsed = Endpoint::parse(raw, tls).ok();
            assert_eq!(parsed.as_ref().map(Endpoint::uri), expected, "raw {raw:?}");
        }
    }

    #[test]
    fn splits_endpoint_lists() {
        let cases: [(&[&str], Option<usize>); 4] = [
            (&["a:1,b:2"], Some(2)),
            (&["a:1", "b:2,c:3"], Some(3)),
            (&["a:1,,"], Some(1)),
            (&[","], None),
        ];
        for (raw, expected) in cases {
            let raw: Vec<String> = raw.iter().map(|item| (*item).to_owned()).collect();
            assert_eq!(
                Endpoint::parse_list(&raw, false)
                    .ok()
                    .map(|list| list.len()),
                expected,
                "raw {raw:?}"
            );
        }
    }
}
