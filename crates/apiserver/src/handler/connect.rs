//! kube-apiserver's "connect" subresources: `pods/exec`, `pods/attach` and `pods/portforward`
//! (an HTTP upgrade, WebSocket or SPDY, proxied to the pod's kubelet and then spliced byte for
//! byte) and `nodes/proxy` (any request proxied to the node's kubelet API).
//!
//! Where a request goes (the kubelet URL, the headers passed on) and how failures read are
//! decided by pure functions; [`pod_stream`] and [`node_proxy`] do the lookups and the IO.
//!
//! Authorization: the request passed RBAC with the verb of its method (`get` for a WebSocket's
//! GET, `create` for SPDY's POST). A GET upgrade of exec, attach or port-forward must also be
//! allowed to `create`: kube-apiserver 1.32 and 1.33 check only `get` there and add this check
//! behind the AuthorizePodWebsocketUpgradeCreatePermission gate (on by default from 1.35), so a
//! user cannot get a shell with read-only rights. Kubernetes' default roles grant both verbs.

use std::net::SocketAddr;

use apimachinery::{ApiError, resource};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::logs::{choose_container, kubelet_address};
use super::objects::fetch;
use super::{Body, Call};
use crate::kubelet_client::{self, KubeletClient, KubeletError, KubeletLocation};
use crate::rbac::{self, Attributes, Decision};
use crate::request::ResourceRequest;

/// One of the pod subresources that stream over an upgraded connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Exec,
    Attach,
    PortForward,
}

impl Stream {
    pub fn of(subresource: &str) -> Option<Stream> {
        match subresource {
            "exec" => Some(Stream::Exec),
            "attach" => Some(Stream::Attach),
            "portforward" => Some(Stream::PortForward),
            _ => None,
        }
    }

    /// The kubelet API path segment.
    fn kubelet_path(self) -> &'static str {
        match self {
            Stream::Exec => "exec",
            Stream::Attach => "attach",
            Stream::PortForward => "portForward",
        }
    }
}

/// `PodExecOptions`, `PodAttachOptions` or `PodPortForwardOptions`, from the query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    pub container: Option<String>,
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
    pub ports: Vec<u16>,
}

/// Go's `strconv.ParseBool`, which decodes boolean query parameters.
fn parse_bool(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "{name}: invalid value {value:?}: not a boolean"
        ))),
    }
}

impl ConnectOptions {
    /// Reads the options of `stream`; exec needs a command, exec and attach a stream.
    pub fn parse(stream: Stream, query: &str) -> Result<ConnectOptions, ApiError> {
        let mut options = ConnectOptions::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "container" if !value.is_empty() => options.container = Some(value.into_owned()),
                "command" => options.command.push(value.into_owned()),
                "stdin" => options.stdin = parse_bool(&key, &value)?,
                "stdout" => options.stdout = parse_bool(&key, &value)?,
                "stderr" => options.stderr = parse_bool(&key, &value)?,
                "tty" => options.tty = parse_bool(&key, &value)?,
                "ports" => {
                    for port in value.split(',').filter(|p| !p.is_empty()) {
                        let port = port.trim().parse::<u16>().ok().filter(|p| *p > 0);
                        options.ports.push(port.ok_or_else(|| {
                            ApiError::bad_request(format!(
                                "ports: invalid value {value:?}: must be between 1 and 65535"
                            ))
                        })?);
                    }
                }
                _ => {}
            }
        }
        if stream == Stream::Exec && options.command.is_empty() {
            return Err(ApiError::bad_request("you must specify at least 1 command"));
        }
        if stream != Stream::PortForward && !(options.stdin || options.stdout || options.stderr) {
            return Err(ApiError::bad_request(
                "you must specify at least 1 of stdin, stdout, stderr",
            ));
        }
        Ok(options)
    }

    /// The kubelet's query, in kube-apiserver's parameter names (`input`, `output`, `error`,
    /// `tty` as `1`, `command` repeated, `port` repeated), keys sorted as Go encodes them.
    fn kubelet_query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for command in &self.command {
            query.append_pair("command", command);
        }
        for (key, set) in [
            ("error", self.stderr),
            ("input", self.stdin),
            ("output", self.stdout),
        ] {
            if set {
                query.append_pair(key, "1");
            }
        }
        for port in &self.ports {
            query.append_pair("port", &port.to_string());
        }
        if self.tty {
            query.append_pair("tty", "1");
        }
        query.finish()
    }
}

/// The node a streaming request goes to, as kube-apiserver checks it: the container must be
/// the pod's (or the pod's only one), and the pod must be bound to a node.
pub fn stream_target(
    stream: Stream,
    pod: &Value,
    options: &ConnectOptions,
) -> Result<(String, Option<String>), ApiError> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let container = match stream {
        Stream::PortForward => None,
        Stream::Exec | Stream::Attach => Some(choose_container(pod, options.container.as_deref())?),
    };
    let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
    if node.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    Ok((node.to_string(), container))
}

/// The kubelet request of a streaming subresource.
pub fn stream_location(
    stream: Stream,
    address: SocketAddr,
    namespace: &str,
    pod: &str,
    container: Option<&str>,
    options: &ConnectOptions,
) -> KubeletLocation {
    let mut path_and_query = format!("/{}/{namespace}/{pod}", stream.kubelet_path());
    if let Some(container) = container {
        path_and_query.push('/');
        path_and_query.push_str(container);
    }
    let query = options.kubelet_query();
    if !query.is_empty() {
        path_and_query.push('?');
        path_and_query.push_str(&query);
    }
    KubeletLocation {
        address,
        path_and_query,
    }
}

/// Whether a request asks to upgrade its connection (`Connection: Upgrade` and an `Upgrade`).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    connection_upgrade && headers.contains_key(header::UPGRADE)
}

/// The headers of an upgrade that the kubelet needs to negotiate it, and nothing else (the
/// caller's credentials stay here).
pub fn upgrade_headers(headers: &HeaderMap) -> HeaderMap {
    const PASSED: [&str; 10] = [
        "connection",
        "upgrade",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
        "x-stream-protocol-version",
        "user-agent",
        "origin",
        "content-type",
    ];
    let mut passed = HeaderMap::new();
    for (name, value) in headers {
        if PASSED.contains(&name.as_str()) {
            passed.append(name.clone(), value.clone());
        }
    }
    passed
}

/// Hop-by-hop headers (RFC 9110), which a proxy never passes on.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// What of a request is not passed to a kubelet besides the hop-by-hop headers: the caller's
/// credentials stay with the API server (kube-apiserver drops them once it has authenticated),
/// and the host and length are the new request's own.
fn is_withheld(name: &HeaderName) -> bool {
    is_hop_by_hop(name) || matches!(name.as_str(), "authorization" | "host" | "content-length")
}

/// The headers of a `nodes/proxy` request passed to the kubelet.
pub fn proxy_headers(headers: &HeaderMap) -> HeaderMap {
    let mut passed = HeaderMap::new();
    for (name, value) in headers {
        if !is_withheld(name) {
            passed.append(name.clone(), value.clone());
        }
    }
    passed
}

/// A `nodes/<id>/proxy` target: the node and the port asked for. The id is `name`,
/// `name:port` or `scheme:name:port`, as kube-apiserver splits it.
pub fn node_and_port(id: &str) -> Result<(String, Option<u16>), ApiError> {
    let invalid = || ApiError::bad_request(format!("invalid request {id:?}"));
    let parts: Vec<&str> = id.split(':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [name] => ("", *name, ""),
        [name, port] => ("", *name, *port),
        [scheme, name, port] => (*scheme, *name, *port),
        _ => return Err(invalid()),
    };
    if name.is_empty() || !matches!(scheme, "" | "http" | "https") {
        return Err(invalid());
    }
    if scheme == "http" {
        return Err(ApiError::not_implemented(
            "nodes/proxy over plain http (only the kubelet's HTTPS port is proxied)",
        ));
    }
    let port = match port {
        "" => None,
        port => Some(port.parse::<u16>().map_err(|_| invalid())?),
    };
    Ok((name.to_string(), port))
}

/// The path on the kubelet of a `nodes/<id>/proxy[/<path>]` request: what follows `proxy`.
pub fn proxy_path(request_path: &str, id: &str) -> String {
    let prefix = format!("/api/v1/nodes/{id}/proxy");
    match request_path.strip_prefix(&prefix) {
        Some("") | None => "/".to_string(),
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        Some(rest) => format!("/{rest}"),
    }
}

/// The Status for a kubelet that could not be reached for an upgrade: kube-apiserver's
/// wording, a 500 without a reason (`Error from server: error dialing backend: ...`).
pub fn dial_failure(err: &KubeletError) -> ApiError {
    ApiError::new(500, "", format!("error dialing backend: {err}"))
}

/// The Status for a kubelet that could not be reached for `nodes/proxy`.
pub fn proxy_failure(err: &KubeletError) -> ApiError {
    ApiError::unavailable(format!("error trying to reach service: {err}"))
}

fn kubelet_client(call: &Call, what: &str) -> Result<KubeletClient, ApiError> {
    call.server.kubelet.clone().ok_or_else(|| {
        let missing = kubelet_client::missing_flags(&call.server.config);
        ApiError::new(
            501,
            "NotImplemented",
            format!(
                "{what} needs a kubelet client: start the API server with {}",
                missing.join(", ")
            ),
        )
    })
}

async fn node_object(call: &Call, node: &str) -> Result<Value, ApiError> {
    let nodes = resource::find("", "v1", "nodes").expect("nodes are served");
    call.server
        .storage
        .get(nodes, &nodes.key(None, node))
        .await?
        .ok_or_else(|| ApiError::not_found("", "nodes", node))
}

/// The extra check of a WebSocket upgrade (GET) of exec, attach or port-forward: `create`.
fn authorize_create(call: &Call, request: &ResourceRequest) -> Result<(), ApiError> {
    let attributes = Attributes {
        user: &call.user,
        verb: "create",
        namespace: &request.namespace,
        api_group: request.info.group,
        resource: request.info.plural,
        subresource: &request.subresource,
        name: &request.name,
        resource_request: true,
        path: &call.path,
    };
    let policy = call.server.policy.read().expect("policy lock");
    match policy.authorize(&attributes) {
        Decision::Allow => Ok(()),
        Decision::Deny => Err(ApiError::forbidden(rbac::forbidden_message(&attributes))),
    }
}

/// `pods/{exec,attach,portforward}`: finds the pod's kubelet and proxies the upgrade to it.
pub async fn pod_stream(
    mut call: Call,
    request: &ResourceRequest,
) -> Result<Response<Body>, ApiError> {
    let stream = Stream::of(&request.subresource).ok_or_else(ApiError::no_route)?;
    if request.verb == "get" {
        authorize_create(&call, request)?;
    }
    let client_upgrade = match call.upgrade.take() {
        Some(upgrade) if is_upgrade(&call.headers) => upgrade,
        _ => return Err(ApiError::bad_request("Upgrade request required")),
    };
    let options = ConnectOptions::parse(stream, &call.raw_query)?;
    let pod_request = ResourceRequest {
        subresource: String::new(),
        verb: "get",
        ..request.clone()
    };
    let pod = fetch(&call, &pod_request).await?;
    let (node, container) = stream_target(stream, &pod, &options)?;
    let kubelet = kubelet_client(&call, &format!("pods/{}", request.subresource))?;
    let address = kubelet_address(&node_object(&call, &node).await?)
        .map_err(|e| ApiError::new(500, "", e))?;
    let location = stream_location(
        stream,
        address,
        &request.namespace,
        &request.name,
        container.as_deref(),
        &options,
    );
    let answer = kubelet
        .upgrade(
            &location,
            call.method.clone(),
            upgrade_headers(&call.headers),
        )
        .await
        .map_err(|e| {
            tracing::debug!(url = location.url(), error = %e, "kubelet upgrade failed");
            dial_failure(&e)
        })?;
    Ok(splice(answer, client_upgrade))
}

/// `nodes/{id}/proxy/{path}`: the request, as it came, to the node's kubelet API.
pub async fn node_proxy(
    mut call: Call,
    request: &ResourceRequest,
) -> Result<Response<Body>, ApiError> {
    let (node, port) = node_and_port(&request.name)?;
    let kubelet = kubelet_client(&call, "nodes/proxy")?;
    let address = kubelet_address(&node_object(&call, &node).await?)
        .map_err(|e| ApiError::new(500, "", e))?;
    if port.is_some_and(|p| p != address.port()) {
        return Err(ApiError::not_implemented(
            "nodes/proxy to a port other than the kubelet's",
        ));
    }
    let mut path_and_query = proxy_path(&call.path, &request.name);
    if !call.raw_query.is_empty() {
        path_and_query.push('?');
        path_and_query.push_str(&call.raw_query);
    }
    let location = KubeletLocation {
        address,
        path_and_query,
    };
    if is_upgrade(&call.headers)
        && let Some(client_upgrade) = call.upgrade.take()
    {
        let answer = kubelet
            .upgrade(
                &location,
                call.method.clone(),
                upgrade_headers(&call.headers),
            )
            .await
            .map_err(|e| proxy_failure(&e))?;
        return Ok(splice(answer, client_upgrade));
    }
    let answer = kubelet
        .proxy(
            &location,
            call.method.clone(),
            proxy_headers(&call.headers),
            call.body.clone(),
        )
        .await
        .map_err(|e| {
            tracing::debug!(url = location.url(), error = %e, "kubelet proxy failed");
            proxy_failure(&e)
        })?;
    Ok(pass_back(answer))
}

/// A kubelet's answer as it came: status, end-to-end headers (its length included) and the
/// body, streamed.
fn pass_back(answer: Response<Incoming>) -> Response<Body> {
    let (parts, body) = answer.into_parts();
    let mut response = Response::new(kubelet_client::relay(body));
    *response.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    response
}

/// Answers the client with the kubelet's answer. A 101 also joins the two upgraded connections
/// in the background, byte for byte, until either side closes; any other answer (a refusal)
/// goes back as it came, as kube-apiserver's upgrade proxy does.
fn splice(mut answer: Response<Incoming>, client: OnUpgrade) -> Response<Body> {
    if answer.status() != StatusCode::SWITCHING_PROTOCOLS {
        return pass_back(answer);
    }
    let kubelet = hyper::upgrade::on(&mut answer);
    let mut response = Response::new(Empty::new().map_err(|never| match never {}).boxed());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for (name, value) in answer.headers() {
        let negotiated = name == header::CONNECTION
            || name == header::UPGRADE
            || name.as_str().starts_with("sec-websocket-")
            || name.as_str() == "x-stream-protocol-version";
        if negotiated {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    if !response.headers().contains_key(header::CONNECTION) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    }
    tokio::spawn(async move {
        let (client, kubelet) = tokio::join!(client, kubelet);
        let (client, kubelet) = match (client, kubelet) {
            (Ok(client), Ok(kubelet)) => (client, kubelet),
            (client, kubelet) => {
                tracing::debug!(
                    client = client.is_ok(),
                    kubelet = kubelet.is_ok(),
                    "an upgraded connection was lost before the splice"
                );
                return;
            }
        };
        let (mut client, mut kubelet) = (TokioIo::new(client), TokioIo::new(kubelet));
        match tokio::io::copy_bidirectional(&mut client, &mut kubelet).await {
            Ok((up, down)) => tracing::debug!(up, down, "upgraded connection closed"),
            Err(e) => tracing::debug!(error = %e, "upgraded connection ended with an error"),
        }
    });
    response
}

#[cfg(test)]
mod tests;
