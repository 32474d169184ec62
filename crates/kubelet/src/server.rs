//! The kubelet API on port 10250 (HTTPS, client certificates required) and the plain health
//! port 10248. Served: `/healthz`, `/pods` (the static pods and the pods this kubelet runs),
//! `/configz`, `/containerLogs` (the static pods' role logs, and the containers' logs), and the
//! streams `/exec`, `/attach` (`stream`) and `/portForward` (`portforward`); the other kubelet
//! endpoints (stats, metrics...) answer 501 until they are built.

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::error::{Error, Result};
use crate::logs::{self, LogOptions};
use crate::mirror::{Run, StaticPod};
use crate::registry::PodRegistry;

/// A response body: a whole answer or a log stream.
pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Kubelet API paths that exist in a real kubelet but are not built here yet.
const NOT_BUILT: [&str; 10] = [
    "run",
    "stats",
    "metrics",
    "spec",
    "runningpods",
    "logs",
    "debug",
    "checkpoint",
    "cri",
    "containerLogs",
];

/// The streaming endpoints; a path of theirs that names no container is not served.
const STREAMS: [&str; 3] = ["exec", "attach", "portForward"];

/// Where a request path leads.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    Healthz,
    Pods,
    Configz,
    ContainerLogs {
        namespace: &'a str,
        pod: &'a str,
        container: &'a str,
    },
    /// `/exec/{ns}/{pod}/{container}` (or with the pod's uid before the container).
    Exec {
        namespace: &'a str,
        pod: &'a str,
        container: &'a str,
    },
    Attach {
        namespace: &'a str,
        pod: &'a str,
        container: &'a str,
    },
    /// `/portForward/{ns}/{pod}` (or with the pod's uid after it).
    PortForward {
        namespace: &'a str,
        pod: &'a str,
    },
    /// A kubelet endpoint still to be built.
    NotImplemented,
    NotFound,
}

/// Routes a path. `/containerLogs` without exactly namespace, pod and container is one of the
/// endpoints this kubelet does not serve.
pub(crate) fn route(path: &str) -> Route<'_> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["healthz"] => Route::Healthz,
        ["pods"] | ["pods", ""] => Route::Pods,
        ["configz"] => Route::Configz,
        ["containerLogs", namespace, pod, container]
            if !namespace.is_empty() && !pod.is_empty() && !container.is_empty() =>
        {
            Route::ContainerLogs {
                namespace,
                pod,
                container,
            }
        }
        ["exec" | "attach", namespace, pod, container]
        | ["exec" | "attach", namespace, pod, _, container]
            if !namespace.is_empty() && !pod.is_empty() && !container.is_empty() =>
        {
            if segments[0] == "exec" {
                Route::Exec {
                    namespace,
                    pod,
                    container,
                }
            } else {
                Route::Attach {
                    namespace,
                    pod,
                    container,
                }
            }
        }
        ["portForward", namespace, pod] | ["portForward", namespace, pod, _]
            if !namespace.is_empty() && !pod.is_empty() =>
        {
            Route::PortForward { namespace, pod }
        }
        [first, ..] if NOT_BUILT.contains(first) || STREAMS.contains(first) => {
            Route::NotImplemented
        }
        _ => Route::NotFound,
    }
}

/// What the kubelet API serves from: the node's static pods in this run, the pods it runs, and
/// its configuration.
pub(crate) struct KubeletApi {
    pub node_ip: Ipv4Addr,
    pub pods: Arc<[StaticPod]>,
    pub run: Run,
    pub registry: Arc<PodRegistry>,
    /// The `/configz` document.
    pub configz: serde_json::Value,
    /// Where commands run in a static pod's container start.
    pub state_dir: std::path::PathBuf,
}

impl KubeletApi {
    /// Answers one request on the kubelet API.
    pub async fn handle<B>(self: Arc<Self>, request: Request<B>) -> Response<Body> {
        let get = request.method() == Method::GET;
        let stream = get || request.method() == Method::POST;
        let path = request.uri().path().to_string();
        match route(&path) {
            Route::Healthz if get => text(StatusCode::OK, "ok"),
            Route::Pods if get => self.pods(),
            Route::Configz if get => json_response(&self.configz),
            Route::ContainerLogs {
                namespace,
                pod,
                container,
            } if get => {
                let query = request.uri().query().unwrap_or("");
                self.container_logs(namespace, pod, container, query)
            }
            Route::Exec {
                namespace,
                pod,
                container,
            } if stream => match self.container_target(namespace, pod, Some(container)) {
                Some(target) => crate::stream::exec(request, target).await,
                None => self.no_container(namespace, pod, container),
            },
            Route::Attach {
                namespace,
                pod,
                container,
            } if stream => match self.container_target(namespace, pod, Some(container)) {
                Some(_) => crate::stream::attach(request).await,
                None => self.no_container(namespace, pod, container),
            },
            Route::PortForward { namespace, pod } if stream => match self.pod_ip(namespace, pod) {
                Some(ip) => {
                    crate::portforward::port_forward(request, ip, format!("{namespace}/{pod}"))
                        .await
                }
                None => text(
                    StatusCode::NOT_FOUND,
                    &format!("pod \"{pod}\" does not exist\n"),
                ),
            },
            Route::Healthz
            | Route::Pods
            | Route::Configz
            | Route::ContainerLogs { .. }
            | Route::Exec { .. }
            | Route::Attach { .. }
            | Route::PortForward { .. } => {
                text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed")
            }
            Route::NotImplemented => text(StatusCode::NOT_IMPLEMENTED, "not implemented"),
            Route::NotFound => text(StatusCode::NOT_FOUND, "404 page not found"),
        }
    }

    /// The pods this kubelet runs, static pods included, as a PodList.
    fn pods(&self) -> Response<Body> {
        let mut items: Vec<serde_json::Value> = self
            .pods
            .iter()
            .map(|pod| json!(pod.running(self.node_ip, &self.run)))
            .collect();
        items.extend(self.registry.pods().iter().map(|pod| json!(pod.as_ref())));
        json_response(
            &json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}),
        )
    }

    /// The log of a static pod's container, streamed from its role's log file.
    fn container_logs(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        query: &str,
    ) -> Response<Body> {
        let Some(found) = self.static_pod(namespace, pod) else {
            return self.pod_container_logs(namespace, pod, container, query);
        };
        if found.role != container {
            return text(
                StatusCode::NOT_FOUND,
                &format!("container \"{container}\" not found in pod \"{pod}\"\n"),
            );
        }
        let options = match LogOptions::from_query(query) {
            Ok(options) => options,
            Err(message) => return text(StatusCode::BAD_REQUEST, &message),
        };
        // A small channel: the pump reads ahead only a few chunks of a slow reader.
        let (tx, rx) = mpsc::channel::<Bytes>(8);
        tokio::spawn(logs::pump(found.log_file.clone(), options, tx));
        stream_response(rx)
    }
}

/// A streamed `text/plain` answer fed by `rx`.
fn stream_response(rx: mpsc::Receiver<Bytes>) -> Response<Body> {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let chunk = rx.recv().await?;
        Some((Ok::<_, Infallible>(Frame::data(chunk)), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(StreamBody::new(stream).boxed_unsync())
        .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
}

/// A JSON answer.
fn json_response(value: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(value.to_string()))
        .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
}

/// The health port answers `/healthz` only, in plain HTTP (the kubelet's `--healthz-port`).
pub(crate) async fn healthz<B>(request: Request<B>) -> Response<Body> {
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok"),
        _ => text(StatusCode::NOT_FOUND, "404 page not found"),
    }
}

fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).boxed_unsync()
}

fn text(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = Response::new(full(message.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Binds a listener; the error names the address.
pub(crate) async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr)> {
    let bind_error = |source| Error::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}

/// Serves connections (over TLS when an acceptor is given) with `handler` until `stop`, which
/// also ends the open connections, follows included.
pub(crate) async fn serve<H, F>(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    handler: H,
    mut stop: watch::Receiver<bool>,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(target: "kubelet", error = %e, "accepting a connection failed");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let handler = handler.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let answer = handler(request);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let result = match acceptor {
                Some(acceptor) => {
                    // A client without a certificate the CA signed fails here (TLS 1.2) or at
                    // its first read (TLS 1.3): no request of it is ever handled.
                    let tls = match acceptor.accept(stream).await {
                        Ok(tls) => tls,
                        Err(e) => {
                            tracing::debug!(target: "kubelet", %peer, error = %e, "TLS handshake failed");
                            return;
                        }
                    };
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                    tokio::select! {
                        result = connection => result,
                        _ = stop.changed() => Ok(()),
                    }
                }
                None => {
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        result = connection => result,
                        _ = stop.changed() => Ok(()),
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(target: "kubelet", %peer, error = %e, "connection ended with an error");
            }
        });
    }
}

mod pods;

#[cfg(test)]
mod pod_tests;
#[cfg(test)]
mod tests;
