//! The API server's HTTPS client to kubelets: it shows `--kubelet-client-certificate`, trusts
//! only kubelet serving certificates that chain to `--kubelet-certificate-authority` (and name
//! the node's IP), streams a kubelet's answer back unbuffered, and turns a kubelet that cannot
//! be reached or refuses into the Status kube-apiserver answers with. Besides logs it sends
//! the upgrade requests of exec, attach and port-forward (the caller splices the upgraded
//! connections) and the requests of `nodes/proxy`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use apimachinery::ApiError;
use apimachinery::status::Subject;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, Method, Request, Response, header};
use http_body_util::{BodyExt, BodyStream, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::config::ApiServerConfig;
use crate::error::{Error, Result};
use crate::handler::Body;
use crate::tls;

/// How long reaching a kubelet (TCP and TLS) may take before the request fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a failing kubelet's answer is quoted in the error (kube-apiserver's limit).
const MAX_ERROR_BODY: usize = 50_000;

/// Where one kubelet request goes: the kubelet's address and the path with its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeletLocation {
    pub address: SocketAddr,
    pub path_and_query: String,
}

impl KubeletLocation {
    /// The URL as kube-apiserver names it in its errors.
    pub fn url(&self) -> String {
        format!("https://{}{}", self.address, self.path_and_query)
    }
}

/// Why a kubelet gave no answer at all.
#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    /// The TCP connection failed; the text reads like Go's dialer, which kubectl users know.
    #[error("dial tcp {address}: {reason}")]
    Dial { address: SocketAddr, reason: String },
    /// The TLS handshake failed, most often because the serving certificate is not trusted.
    #[error("tls: {0}")]
    Tls(String),
    /// The HTTP exchange failed after the connection was made.
    #[error("{0}")]
    Http(#[source] hyper::Error),
    /// The path and query built for the kubelet is not a valid request target.
    #[error("invalid kubelet location {0}")]
    Location(String),
}

/// A client for every kubelet, built once from the flags.
#[derive(Clone)]
pub struct KubeletClient {
    connector: TlsConnector,
}

impl std::fmt::Debug for KubeletClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubeletClient")
    }
}

/// The flags a kubelet client needs that the configuration lacks, in kube-apiserver's names.
pub fn missing_flags(config: &ApiServerConfig) -> Vec<&'static str> {
    [
        (
            "--kubelet-client-certificate",
            config.kubelet_client_certificate.is_some(),
        ),
        ("--kubelet-client-key", config.kubelet_client_key.is_some()),
        (
            "--kubelet-certificate-authority",
            config.kubelet_certificate_authority.is_some(),
        ),
    ]
    .into_iter()
    .filter(|(_, set)| !set)
    .map(|(flag, _)| flag)
    .collect()
}

impl KubeletClient {
    /// The client the flags describe; `None` when a flag is missing (kubelet subresources then
    /// answer 501 naming it). A certificate without its key, or files that do not load, are
    /// start-up errors.
    pub fn from_config(config: &ApiServerConfig) -> Result<Option<Self>> {
        let (cert, key, ca) = match (
            &config.kubelet_client_certificate,
            &config.kubelet_client_key,
            &config.kubelet_certificate_authority,
        ) {
            (Some(_), None, _) | (None, Some(_), _) => {
                return Err(Error::Config(
                    "--kubelet-client-certificate and --kubelet-client-key go together".into(),
                ));
            }
            (Some(cert), Some(key), Some(ca)) => (cert, key, ca),
            _ => return Ok(None),
        };
        let mut roots = rustls::RootCertStore::empty();
        for certificate in tls::certificates(ca)? {
            roots
                .add(certificate)
                .map_err(|e| Error::Tls(format!("--kubelet-certificate-authority: {e}")))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // No ALPN: kubelets speak HTTP/1.1 to a client that asks for nothing.
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(tls::certificates(cert)?, tls::private_key(key)?)
            .map_err(|e| {
                Error::Tls(format!(
                    "--kubelet-client-certificate/--kubelet-client-key: {e}"
                ))
            })?;
        Ok(Some(KubeletClient {
            connector: TlsConnector::from(Arc::new(client)),
        }))
    }

    /// GETs `location` from a kubelet and answers with its body as `text/plain`, streamed as it
    /// arrives (so a followed log runs until the client goes away). A kubelet that cannot be
    /// reached is a 500 naming the URL; one that answers non-2xx is turned into a Status by
    /// [`kubelet_refusal`], about `resource` `name`.
    pub async fn stream(
        &self,
        location: &KubeletLocation,
        resource: &str,
        name: &str,
    ) -> Result<Response<Body>, ApiError> {
        let unreachable = |err: KubeletError| {
            tracing::debug!(url = location.url(), error = %err, "kubelet request failed");
            // kube-apiserver passes the Go client's error through as a Status without a
            // reason, so kubectl prints `Error from server: Get "https://...": ...`.
            ApiError::new(500, "", format!("Get \"{}\": {err}", location.url()))
        };
        let response = self.get(location).await.map_err(unreachable)?;
        let code = response.status();
        if !code.is_success() {
            let body = read_prefix(response.into_body(), MAX_ERROR_BODY).await;
            return Err(kubelet_refusal(code.as_u16(), &body, resource, name));
        }
        let mut answer = Response::new(relay(response.into_body()));
        answer
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        Ok(answer)
    }

    /// Sends an upgrade request (exec, attach, port-forward) with the client's `method` and the
    /// `headers` that negotiate the upgrade. The answer is the kubelet's: a 101 whose connection
    /// `hyper::upgrade::on` hands over, or a refusal to pass back.
    pub async fn upgrade(
        &self,
        location: &KubeletLocation,
        method: Method,
        headers: HeaderMap,
    ) -> std::result::Result<Response<Incoming>, KubeletError> {
        self.send(location, method, headers, Bytes::new(), true)
            .await
    }

    /// Sends a `nodes/proxy` request as it came (method, headers, body) and returns the
    /// kubelet's answer, whatever its status.
    pub async fn proxy(
        &self,
        location: &KubeletLocation,
        method: Method,
        headers: HeaderMap,
        body: Bytes,
    ) -> std::result::Result<Response<Incoming>, KubeletError> {
        self.send(location, method, headers, body, false).await
    }

    /// One GET over a fresh HTTP/1.1 connection; the connection lives as long as the body.
    async fn get(
        &self,
        location: &KubeletLocation,
    ) -> std::result::Result<Response<Incoming>, KubeletError> {
        self.send(location, Method::GET, HeaderMap::new(), Bytes::new(), false)
            .await
    }

    /// One request over a fresh HTTP/1.1 connection, which lives as long as the answer's body
    /// (or, with `upgrades`, as the upgraded connection).
    async fn send(
        &self,
        location: &KubeletLocation,
        method: Method,
        headers: HeaderMap,
        body: Bytes,
        upgrades: bool,
    ) -> std::result::Result<Response<Incoming>, KubeletError> {
        let target: http::Uri = location
            .path_and_query
            .parse()
            .map_err(|e| KubeletError::Location(format!("{}: {e}", location.path_and_query)))?;
        let address = location.address;
        let dial = |reason: String| KubeletError::Dial { address, reason };
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
            .await
            .map_err(|_| dial("i/o timeout".into()))?
            .map_err(|e| dial(dial_reason(&e)))?;
        let _ = tcp.set_nodelay(true);
        // The kubelet's certificate must name its node's IP, the address we dialled.
        let server_name = ServerName::IpAddress(address.ip().into());
        let tls = tokio::time::timeout(CONNECT_TIMEOUT, self.connector.connect(server_name, tcp))
            .await
            .map_err(|_| KubeletError::Tls("handshake timeout".into()))?
            .map_err(|e| KubeletError::Tls(e.to_string()))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(KubeletError::Http)?;
        tokio::spawn(async move {
            let ended = if upgrades {
                connection.with_upgrades().await
            } else {
                connection.await
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "kubelet connection ended with an error");
            }
        });
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.uri_mut() = target;
        *request.headers_mut() = headers;
        let defaults = [
            (header::HOST, address.to_string()),
            (header::USER_AGENT, "hakube-apiserver".to_string()),
        ];
        for (name, value) in defaults {
            if !request.headers().contains_key(&name) {
                let value = HeaderValue::from_str(&value)
                    .expect("a SocketAddr and a plain name are valid header values");
                request.headers_mut().insert(name, value);
            }
        }
        sender
            .send_request(request)
            .await
            .map_err(KubeletError::Http)
    }
}

/// A kubelet's answer body, relayed as it arrives. A broken kubelet connection ends it: the
/// client sees the answer end early, as it would from kube-apiserver.
pub fn relay(body: Incoming) -> Body {
    let frames = BodyStream::new(body)
        .take_while(|frame| std::future::ready(frame.is_ok()))
        .filter_map(|frame| {
            let data = frame.ok().and_then(|f| f.into_data().ok());
            std::future::ready(data.map(|d| Ok::<_, std::convert::Infallible>(Frame::data(d))))
        });
    BodyExt::boxed(StreamBody::new(frames))
}

/// How Go's dialer words a failed connect, which is what users of kube-apiserver see.
fn dial_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
        std::io::ErrorKind::HostUnreachable => "connect: no route to host".into(),
        std::io::ErrorKind::NetworkUnreachable => "connect: network is unreachable".into(),
        std::io::ErrorKind::TimedOut => "i/o timeout".into(),
        _ => format!("connect: {err}"),
    }
}

/// The first `limit` bytes of a body, as text; a body that breaks off gives what came.
async fn read_prefix(mut body: Incoming, limit: usize) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            _ => break,
        }
    }
    bytes.truncate(limit);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The Status kube-apiserver answers when a kubelet refuses with `code` and `body`: 500 and 400
/// carry the kubelet's words as they are; other codes keep the code and get the generic
/// wording of that code, naming the subresource and object.
pub fn kubelet_refusal(code: u16, body: &str, resource: &str, name: &str) -> ApiError {
    match code {
        500 => return ApiError::internal(body),
        400 => return ApiError::bad_request(body),
        _ => {}
    }
    let (reason, message) = match code {
        409 => ("Conflict", "the server reported a conflict".to_string()),
        404 => (
            "NotFound",
            "the server could not find the requested resource".to_string(),
        ),
        401 => (
            "Unauthorized",
            "the server has asked for the client to provide credentials".to_string(),
        ),
        // A kubelet's 403 explains who may not do what; keep its words.
        403 => ("Forbidden", body.to_string()),
        405 => (
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".to_string(),
        ),
        422 => (
            "Invalid",
            "the server rejected our request due to an error in our request".to_string(),
        ),
        504 => (
            "Timeout",
            "the server was unable to return a response in the time allotted, but may still be processing the request".to_string(),
        ),
        429 => (
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later"
                .to_string(),
        ),
        500.. => (
            "InternalError",
            format!("an error on the server ({body:?}) has prevented the request from succeeding"),
        ),
        _ => (
            "",
            format!("the server responded with the status code {code} but did not return more information"),
        ),
    };
    // The verb is empty in kube-apiserver's call, hence the space after the parenthesis.
    let mut err = ApiError::new(code, reason, format!("{message} ( {resource} {name})"));
    err.subject = Some(Box::new(Subject {
        group: String::new(),
        kind: resource.to_string(),
        name: name.to_string(),
    }));
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_like_kube_apiserver() {
        let cases: &[(u16, &str, u16, &str, &str)] = &[
            (
                400,
                "container \"web\" in pod \"p\" is waiting to start: ContainerCreating",
                400,
                "BadRequest",
                "container \"web\" in pod \"p\" is waiting to start: ContainerCreating",
            ),
            (
                500,
                "boom",
                500,
                "InternalError",
                "Internal error occurred: boom",
            ),
            (
                404,
                "404 page not found",
                404,
                "NotFound",
                "the server could not find the requested resource ( pods/log p)",
            ),
            (
                403,
                "Forbidden (user=x)",
                403,
                "Forbidden",
                "Forbidden (user=x) ( pods/log p)",
            ),
            (
                401,
                "Unauthorized",
                401,
                "Unauthorized",
                "the server has asked for the client to provide credentials ( pods/log p)",
            ),
            (
                503,
                "down",
                503,
                "InternalError",
                "an error on the server (\"down\") has prevented the request from succeeding ( pods/log p)",
            ),
            (
                418,
                "teapot",
                418,
                "",
                "the server responded with the status code 418 but did not return more information ( pods/log p)",
            ),
        ];
        for &(code, body, want_code, want_reason, want_message) in cases {
            let err = kubelet_refusal(code, body, "pods/log", "p");
            assert_eq!(
                (err.code, err.reason, err.message.as_str()),
                (want_code, want_reason, want_message),
                "{code}"
            );
        }
    }

    #[test]
    fn dial_errors_read_like_go() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err = KubeletError::Dial {
            address: "10.0.0.1:10250".parse().unwrap(),
            reason: dial_reason(&refused),
        };
        assert_eq!(
            err.to_string(),
            "dial tcp 10.0.0.1:10250: connect: connection refused"
        );
    }

    #[test]
    fn missing_flags_are_named() {
        let mut config = ApiServerConfig::new(Default::default(), "c".into(), "k".into());
        assert_eq!(missing_flags(&config).len(), 3);
        config.kubelet_client_certificate = Some("a".into());
        config.kubelet_client_key = Some("b".into());
        assert_eq!(
            missing_flags(&config),
            vec!["--kubelet-certificate-authority"]
        );
        assert!(KubeletClient::from_config(&config).unwrap().is_none());
        config.kubelet_client_key = None;
        assert!(KubeletClient::from_config(&config).is_err());
    }
}
