//! `pods/{name}/log`: the container's log, fetched from its node's kubelet
//! (`/containerLogs/<ns>/<pod>/<container>`) and streamed back as kube-apiserver does.

use std::net::{IpAddr, SocketAddr};

use apimachinery::{ApiError, Cause, resource};
use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, Empty};
use serde_json::{Value, json};

use super::objects::fetch;
use super::{Body, Call};
use crate::kubelet_client::{self, KubeletLocation};
use crate::request::ResourceRequest;

/// The kubelet port when a Node does not publish one (`status.daemonEndpoints`).
const DEFAULT_KUBELET_PORT: u16 = 10250;

/// The `PodLogOptions` of a log request, from its query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub container: Option<String>,
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    pub since_seconds: Option<i64>,
    /// RFC 3339, in UTC and whole seconds, as kube-apiserver passes it on.
    pub since_time: Option<String>,
    pub tail_lines: Option<i64>,
    pub limit_bytes: Option<i64>,
}

/// A boolean query parameter as kube-apiserver reads it: present and not `false` or `0` is true.
fn flag(value: &str) -> bool {
    !matches!(value.to_ascii_lowercase().as_str(), "false" | "0")
}

fn integer(name: &str, value: &str) -> Result<i64, ApiError> {
    value.parse().map_err(|_| {
        ApiError::bad_request(format!("{name}: invalid value {value:?}: not an integer"))
    })
}

impl LogOptions {
    /// Reads the options; a value of the wrong type is a 400.
    pub fn parse(query: &str) -> Result<LogOptions, ApiError> {
        let mut options = LogOptions::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "container" if !value.is_empty() => options.container = Some(value.into_owned()),
                "follow" => options.follow = flag(&value),
                "previous" => options.previous = flag(&value),
                "timestamps" => options.timestamps = flag(&value),
                "sinceSeconds" => options.since_seconds = Some(integer(&key, &value)?),
                "tailLines" => options.tail_lines = Some(integer(&key, &value)?),
                "limitBytes" => options.limit_bytes = Some(integer(&key, &value)?),
                "sinceTime" => {
                    let time: jiff::Timestamp = value.parse().map_err(|_| {
                        ApiError::bad_request(format!(
                            "sinceTime: invalid value {value:?}: not an RFC 3339 time"
                        ))
                    })?;
                    let whole = jiff::Timestamp::from_second(time.as_second())
                        .expect("whole seconds of a valid time are valid");
                    options.since_time = Some(whole.to_string());
                }
                _ => {}
            }
        }
        Ok(options)
    }

    /// kube-apiserver's checks of `PodLogOptions`: 422 naming every bad field.
    pub fn validate(&self, pod: &str) -> Result<(), ApiError> {
        let mut causes = Vec::new();
        if let Some(lines) = self.tail_lines.filter(|n| *n < 0) {
            causes.push(Cause::invalid(
                "tailLines",
                &json!(lines),
                "must be greater than or equal to 0",
            ));
        }
        if let Some(bytes) = self.limit_bytes.filter(|n| *n < 1) {
            causes.push(Cause::invalid(
                "limitBytes",
                &json!(bytes),
                "must be greater than 0",
            ));
        }
        match (self.since_seconds, &self.since_time) {
            (Some(_), Some(_)) => causes.push(Cause::forbidden(
                "",
                "at most one of `sinceTime` or `sinceSeconds` may be specified",
            )),
            (Some(seconds), None) if seconds < 1 => causes.push(Cause::invalid(
                "sinceSeconds",
                &json!(seconds),
                "must be greater than 0",
            )),
            _ => {}
        }
        if causes.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid("", "PodLogOptions", pod, causes))
        }
    }

    /// The kubelet's query: the options that are set, keys sorted (as Go encodes them).
    pub fn kubelet_query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let number = |n: Option<i64>| n.map(|n| n.to_string());
        let pairs = [
            ("follow", self.follow.then(|| "true".to_string())),
            ("limitBytes", number(self.limit_bytes)),
            ("previous", self.previous.then(|| "true".to_string())),
            ("sinceSeconds", number(self.since_seconds)),
            ("sinceTime", self.since_time.clone()),
            ("tailLines", number(self.tail_lines)),
            ("timestamps", self.timestamps.then(|| "true".to_string())),
        ];
        for (key, value) in pairs {
            if let Some(value) = value {
                query.append_pair(key, &value);
            }
        }
        query.finish()
    }
}

/// Every container of a pod, in kube's order: init containers, containers, ephemeral ones.
fn container_names(pod: &Value) -> Vec<&str> {
    ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|list| pod["spec"][list].as_array().into_iter().flatten())
        .filter_map(|c| c["name"].as_str())
        .collect()
}

/// The container a log request means: the one named (which must exist), else the pod's only
/// container; otherwise a 400 with kube's wording.
pub fn choose_container(pod: &Value, wanted: Option<&str>) -> Result<String, ApiError> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    if let Some(wanted) = wanted {
        if container_names(pod).contains(&wanted) {
            return Ok(wanted.to_string());
        }
        return Err(ApiError::bad_request(format!(
            "container {wanted} is not valid for pod {name}"
        )));
    }
    let containers = pod["spec"]["containers"].as_array();
    match containers.map_or(0, Vec::len) {
        1 => Ok(containers.expect("one container")[0]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string()),
        0 => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {name}"
        ))),
        _ => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            container_names(pod).join(" ")
        ))),
    }
}

/// Where a Node's kubelet listens: its InternalIP (else ExternalIP) and the port it publishes.
/// The error is kube-apiserver's wording for a node without a usable address.
pub fn kubelet_address(node: &Value) -> Result<SocketAddr, String> {
    let addresses = node["status"]["addresses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let of_type = |kind: &str| {
        addresses
            .iter()
            .filter(|a| a["type"] == kind)
            .find_map(|a| a["address"].as_str()?.parse::<IpAddr>().ok())
    };
    let Some(ip) = of_type("InternalIP").or_else(|| of_type("ExternalIP")) else {
        let known: Vec<String> = addresses
            .iter()
            .map(|a| {
                format!(
                    "{{{} {}}}",
                    a["type"].as_str().unwrap_or_default(),
                    a["address"].as_str().unwrap_or_default()
                )
            })
            .collect();
        return Err(format!(
            "no preferred addresses found; known addresses: [{}]",
            known.join(" ")
        ));
    };
    let port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(DEFAULT_KUBELET_PORT);
    Ok(SocketAddr::new(ip, port))
}

/// The kubelet request for one container's log.
pub fn logs_location(
    address: SocketAddr,
    namespace: &str,
    pod: &str,
    container: &str,
    options: &LogOptions,
) -> KubeletLocation {
    let query = options.kubelet_query();
    let mut path_and_query = format!("/containerLogs/{namespace}/{pod}/{container}");
    if !query.is_empty() {
        path_and_query.push('?');
        path_and_query.push_str(&query);
    }
    KubeletLocation {
        address,
        path_and_query,
    }
}

pub async fn logs(call: &Call, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let options = LogOptions::parse(&call.raw_query)?;
    options.validate(&request.name)?;
    let pod_request = ResourceRequest {
        subresource: String::new(),
        ..request.clone()
    };
    let pod = fetch(call, &pod_request).await?;
    let container = choose_container(&pod, options.container.as_deref())?;
    let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
    if node.is_empty() {
        // A pod no node runs has no log yet; kube-apiserver answers with an empty 204.
        let mut response = Response::new(Empty::<Bytes>::new().boxed());
        *response.status_mut() = http::StatusCode::NO_CONTENT;
        return Ok(response);
    }
    let Some(kubelet) = &call.server.kubelet else {
        let missing = kubelet_client::missing_flags(&call.server.config);
        return Err(ApiError::new(
            501,
            "NotImplemented",
            format!(
                "pods/log needs a kubelet client: start the API server with {}",
                missing.join(", ")
            ),
        ));
    };
    let nodes = resource::find("", "v1", "nodes").expect("nodes are served");
    let node_object = call
        .server
        .storage
        .get(nodes, &nodes.key(None, node))
        .await?
        .ok_or_else(|| ApiError::not_found("", "nodes", node))?;
    // kube-apiserver reports a node it cannot reach as a plain error (500, no reason).
    let address = kubelet_address(&node_object).map_err(|e| ApiError::new(500, "", e))?;
    let location = logs_location(
        address,
        &request.namespace,
        &request.name,
        &container,
        &options,
    );
    kubelet.stream(&location, "pods/log", &request.name).await
}

#[cfg(test)]
mod tests;
