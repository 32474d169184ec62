//! The `kubernetes` Service's Endpoints and EndpointSlice, kept as kube-apiserver's lease
//! endpoint reconciler keeps them: every API server holds `/registry/masterleases/<its IP>` on an
//! etcd lease (TTL 15 s, renewed every 10 s), and every API server sets the Endpoints to exactly
//! the IPs that hold such a key. A dead server's lease lapses, so it leaves the Endpoints within
//! one TTL and one interval; a server that shuts down cleanly removes itself at once.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use apimachinery::{ApiError, ResourceInfo, resource, schema};
use etcd_api::etcdserverpb::{
    DeleteRangeRequest, LeaseGrantRequest, LeaseKeepAliveRequest, LeaseRevokeRequest, PutRequest,
    RangeRequest,
};
use serde_json::{Value, json};

use crate::etcd::Etcd;
use crate::server::ApiServer;
use crate::storage::{prefix_end, store_error};
use crate::strategy::{self, Stamp};

/// Where API servers keep their master leases (kube-apiserver's layout).
pub const MASTER_LEASES: &str = "/registry/masterleases/";
/// How long a master lease outlives its last renewal.
pub const LEASE_TTL_SECONDS: i64 = 15;
/// How often leases are renewed and the Endpoints reconciled (kube's EndpointInterval).
pub const INTERVAL: Duration = Duration::from_secs(10);
/// How soon a failed round is tried again (a store that is still starting, a lost race).
const RETRY: Duration = Duration::from_secs(1);
const SERVICE: &str = "kubernetes";
const NAMESPACE: &str = "default";
const SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";
const SERVICE_NAME: &str = "kubernetes.io/service-name";

/// This API server's part in the reconciliation: its address, and its lease while it holds one.
#[derive(Debug)]
pub struct EndpointReconciler {
    ip: IpAddr,
    port: u16,
    /// Held across a whole round, so a shutdown never interleaves with a round that would
    /// put the lease back.
    state: tokio::sync::Mutex<LeaseState>,
}

#[derive(Debug, Default)]
struct LeaseState {
    lease: Option<i64>,
    /// Set by `withdraw`: this server is going and must not come back into the Endpoints.
    withdrawn: bool,
}

/// The writes one reconcile round decided on: each object to store, or `None` to leave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub endpoints: Option<Value>,
    pub slice: Option<Value>,
}

/// The addresses to publish: the live IPs of the Service's family (IPv4), deduplicated and in
/// kube's order (sorted as text).
fn published(live: &[IpAddr]) -> Vec<String> {
    let mut ips: Vec<String> = live
        .iter()
        .filter(|ip| ip.is_ipv4())
        .map(IpAddr::to_string)
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// A port list as (name, port, protocol), so equal lists compare equal however they are spelled.
fn port_set(ports: &Value) -> Vec<(String, i64, String)> {
    let mut set: Vec<_> = ports
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_string(),
                p["port"].as_i64().unwrap_or_default(),
                p["protocol"].as_str().unwrap_or("TCP").to_string(),
            )
        })
        .collect();
    set.sort();
    set
}

fn sorted(mut ips: Vec<String>) -> Vec<String> {
    ips.sort();
    ips
}

/// Decides both writes from what is stored and which API servers hold a lease. With no live
/// lease at all nothing is written: the reader may be looking at a broken store, and an empty
/// `kubernetes` Endpoints would cut every in-cluster client off (kube-apiserver refuses too).
pub fn plan(endpoints: Option<&Value>, slice: Option<&Value>, live: &[IpAddr], port: u16) -> Plan {
    let ips = published(live);
    if ips.is_empty() {
        return Plan {
            endpoints: None,
            slice: None,
        };
    }
    Plan {
        endpoints: endpoints_update(endpoints, &ips, port),
        slice: slice_update(slice, &ips, port),
    }
}

fn skeleton() -> Value {
    json!({"metadata": {"name": SERVICE, "namespace": NAMESPACE}})
}

fn has_label(object: &Value, key: &str, value: &str) -> bool {
    object["metadata"]["labels"][key] == value
}

fn set_label(object: &mut Value, key: &str, value: &str) {
    if !object["metadata"]["labels"].is_object() {
        object["metadata"]["labels"] = json!({});
    }
    object["metadata"]["labels"][key] = json!(value);
}

fn endpoints_update(current: Option<&Value>, ips: &[String], port: u16) -> Option<Value> {
    let ports = json!([{"name": "https", "port": port, "protocol": "TCP"}]);
    if let Some(current) = current {
        let subsets = current["subsets"].as_array().map_or(&[][..], Vec::as_slice);
        let settled = subsets.len() == 1
            && sorted(
                subsets[0]["addresses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a["ip"].as_str().map(String::from))
                    .collect(),
            ) == ips
            && port_set(&subsets[0]["ports"]) == port_set(&ports)
            && has_label(current, SKIP_MIRROR, "true");
        if settled {
            return None;
        }
    }
    let mut object = current.cloned().unwrap_or_else(skeleton);
    // The Endpoints are mirrored into slices by this server, not by the mirroring controller.
    set_label(&mut object, SKIP_MIRROR, "true");
    let addresses: Vec<Value> = ips.iter().map(|ip| json!({"ip": ip})).collect();
    object["subsets"] = json!([{"addresses": addresses, "ports": ports}]);
    Some(object)
}

fn slice_update(current: Option<&Value>, ips: &[String], port: u16) -> Option<Value> {
    let ports = json!([{"name": "https", "port": port, "protocol": "TCP"}]);
    if let Some(current) = current {
        let endpoints = current["endpoints"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        let all_ready = endpoints.iter().all(|e| e["conditions"]["ready"] == true);
        let settled = all_ready
            && sorted(
                endpoints
                    .iter()
                    .filter_map(|e| e["addresses"][0].as_str().map(String::from))
                    .collect(),
            ) == ips
            && endpoints.len() == ips.len()
            && current["addressType"] == "IPv4"
            && port_set(&current["ports"]) == port_set(&ports)
            && has_label(current, SERVICE_NAME, SERVICE);
        if settled {
            return None;
        }
    }
    let mut object = current.cloned().unwrap_or_else(skeleton);
    set_label(&mut object, SERVICE_NAME, SERVICE);
    object["addressType"] = json!("IPv4");
    object["endpoints"] = ips
        .iter()
        .map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}}))
        .collect();
    object["ports"] = ports;
    Some(object)
}

impl EndpointReconciler {
    pub fn new(ip: IpAddr, port: u16) -> Self {
        EndpointReconciler {
            ip,
            port,
            state: tokio::sync::Mutex::new(LeaseState::default()),
        }
    }

    /// This server's master lease key.
    pub fn key(&self) -> String {
        format!("{MASTER_LEASES}{}", self.ip)
    }

    /// One round: renew (or take) this server's lease, then reconcile. Does nothing once the
    /// server has withdrawn.
    pub async fn reconcile(&self, server: &ApiServer) -> Result<(), ApiError> {
        let mut state = self.state.lock().await;
        if state.withdrawn {
            return Ok(());
        }
        // The lease first, whatever happens after: then at least the other servers add us.
        self.renew(server, &mut state).await?;
        self.sync(server).await
    }

    /// Leaves the Endpoints on a clean shutdown: drops the master lease (and its key), then
    /// reconciles once so that no client is sent here any more.
    pub async fn withdraw(&self, server: &ApiServer) -> Result<(), ApiError> {
        let mut state = self.state.lock().await;
        state.withdrawn = true;
        let etcd = server.storage.etcd();
        if let Some(id) = state.lease.take() {
            // Revoking deletes the key too; the delete below covers a lease we no longer know.
            let _ = etcd
                .lease
                .clone()
                .lease_revoke(LeaseRevokeRequest { id })
                .await;
        }
        etcd.kv
            .clone()
            .delete_range(DeleteRangeRequest {
                key: self.key().into_bytes(),
                ..Default::default()
            })
            .await
            .map_err(store_error)?;
        self.sync(server).await
    }

    /// Keeps our lease alive, or takes a new one when it lapsed (a store outage longer than the
    /// TTL), and makes sure our key is on it.
    async fn renew(&self, server: &ApiServer, state: &mut LeaseState) -> Result<(), ApiError> {
        let etcd = server.storage.etcd();
        if let Some(id) = state.lease {
            // etcd answers an unknown lease with TTL 0, some stores with an error: either way
            // a new lease is taken (and a failed keep-alive's lease simply lapses).
            let alive = match keep_alive(etcd, id).await {
                Ok(ttl) => ttl > 0,
                Err(status) => {
                    tracing::debug!(lease = id, error = %status, "keeping the master lease alive failed");
                    false
                }
            };
            if !alive {
                state.lease = None;
            }
        }
        let id = match state.lease {
            Some(id) => id,
            None => {
                let granted = etcd
                    .lease
                    .clone()
                    .lease_grant(LeaseGrantRequest {
                        ttl: LEASE_TTL_SECONDS,
                        id: 0,
                    })
                    .await
                    .map_err(store_error)?
                    .into_inner();
                state.lease = Some(granted.id);
                granted.id
            }
        };
        let key = self.key();
        let stored = etcd
            .kv
            .clone()
            .range(RangeRequest {
                key: key.clone().into_bytes(),
                ..Default::default()
            })
            .await
            .map_err(store_error)?
            .into_inner();
        if stored.kvs.first().map(|kv| kv.lease) != Some(id) {
            // The value is an Endpoints naming the IP, as kube-apiserver stores its leases.
            let value = json!({
                "kind": "Endpoints",
                "apiVersion": "v1",
                "metadata": {"name": self.ip.to_string(), "creationTimestamp": null},
                "subsets": [{"addresses": [{"ip": self.ip.to_string()}]}],
            });
            etcd.kv
                .clone()
                .put(PutRequest {
                    key: key.into_bytes(),
                    value: value.to_string().into_bytes(),
                    lease: id,
                    ..Default::default()
                })
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }

    /// Sets the Endpoints and the EndpointSlice to the servers that hold a lease now.
    async fn sync(&self, server: &ApiServer) -> Result<(), ApiError> {
        let live = live_servers(server).await?;
        let endpoints = resource::find("", "v1", "endpoints").expect("endpoints are served");
        let slices = resource::find("discovery.k8s.io", "v1", "endpointslices")
            .expect("endpointslices are served");
        let port = self.port;
        settle(server, endpoints, &live, |current| {
            plan(current, None, &live, port).endpoints
        })
        .await?;
        settle(server, slices, &live, |current| {
            plan(None, current, &live, port).slice
        })
        .await
    }
}

/// One keep-alive of a lease: its remaining TTL (0 or less when it is gone).
async fn keep_alive(etcd: &Etcd, id: i64) -> Result<i64, tonic::Status> {
    let request = tokio_stream::once(LeaseKeepAliveRequest { id });
    let mut answers = etcd
        .lease
        .clone()
        .lease_keep_alive(request)
        .await?
        .into_inner();
    Ok(answers.message().await?.map_or(0, |answer| answer.ttl))
}

/// The IPs of every API server whose master lease is alive. Keys that do not end in an IP are
/// not ours to judge and are skipped.
async fn live_servers(server: &ApiServer) -> Result<Vec<IpAddr>, ApiError> {
    let response = server
        .storage
        .etcd()
        .kv
        .clone()
        .range(RangeRequest {
            key: MASTER_LEASES.as_bytes().to_vec(),
            range_end: prefix_end(MASTER_LEASES.as_bytes()),
            keys_only: true,
            ..Default::default()
        })
        .await
        .map_err(store_error)?
        .into_inner();
    Ok(response
        .kvs
        .iter()
        .filter_map(|kv| {
            std::str::from_utf8(&kv.key)
                .ok()?
                .strip_prefix(MASTER_LEASES)?
                .parse()
                .ok()
        })
        .collect())
}

/// Writes what `decide` wants for the `kubernetes` object of `info`, with the store's guarded
/// writes (create if absent, update at the read revision); a lost race decides again.
async fn settle(
    server: &ApiServer,
    info: &'static ResourceInfo,
    live: &[IpAddr],
    decide: impl Fn(Option<&Value>) -> Option<Value>,
) -> Result<(), ApiError> {
    let key = info.key(Some(NAMESPACE), SERVICE);
    for _ in 0..5 {
        let current = server.storage.get(info, &key).await?;
        let Some(mut wanted) = decide(current.as_ref()) else {
            return Ok(());
        };
        tracing::info!(
            resource = info.plural,
            addresses = %published(live).join(","),
            "resetting the kubernetes service's endpoints"
        );
        match current {
            None => {
                wanted["apiVersion"] = json!(info.api_version());
                wanted["kind"] = json!(info.kind);
                schema::apply_defaults(info, &mut wanted);
                strategy::prepare_create(info, &mut wanted, &Stamp::now());
                match server.storage.create(info, &key, &wanted).await {
                    Ok(_) => return Ok(()),
                    Err(err) if err.code == 409 => continue,
                    Err(err) => return Err(err),
                }
            }
            Some(current) => {
                let revision = current["metadata"]["resourceVersion"]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if server
                    .storage
                    .update(info, &key, &wanted, revision)
                    .await?
                    .is_some()
                {
                    return Ok(());
                }
            }
        }
    }
    Err(ApiError::stale(info.group, info.plural, SERVICE))
}

/// Every API server's loop: a round at start and every interval; a failed round is retried
/// sooner, since a server missing from the Endpoints gets no in-cluster traffic.
pub async fn run(server: Arc<ApiServer>) {
    let started = std::time::Instant::now();
    let interval = server.config.endpoint_reconcile_interval;
    loop {
        let wait = match server.endpoints.reconcile(&server).await {
            Ok(()) => interval,
            // A store started alongside needs a moment; only a longer wait is worth a warning.
            Err(err) if started.elapsed() < INTERVAL => {
                tracing::debug!(error = %err, "reconciling the kubernetes endpoints failed; retrying");
                RETRY.min(interval)
            }
            Err(err) => {
                tracing::warn!(error = %err, "reconciling the kubernetes endpoints failed; retrying");
                RETRY.min(interval)
            }
        };
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests;
