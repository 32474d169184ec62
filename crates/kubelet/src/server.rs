//! The kubelet API on port 10250 (HTTPS, client certificates required) and the plain health
//! port 10248. Served today: `/healthz`, `/pods` and `/containerLogs` for the static pods; the
//! other kubelet endpoints (exec, attach, port-forward, stats...) answer 501 until they are built.

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
use crate::mirror::{NAMESPACE, Run, StaticPod};

/// A response body: a whole answer or a log stream.
pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Kubelet API paths that exist in a real kubelet but are not built here yet.
const NOT_BUILT: [&str; 14] = [
    "exec",
    "attach",
    "portForward",
    "run",
    "configz",
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

/// Where a request path leads.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    Healthz,
    Pods,
    ContainerLogs {
        namespace: &'a str,
        pod: &'a str,
        container: &'a str,
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
        ["containerLogs", namespace, pod, container]
            if !namespace.is_empty() && !pod.is_empty() && !container.is_empty() =>
        {
            Route::ContainerLogs {
                namespace,
                pod,
                container,
            }
        }
        [first, ..] if NOT_BUILT.contains(first) => Route::NotImplemented,
        _ => Route::NotFound,
    }
}

/// What the kubelet API serves from: the node's static pods in this run.
pub(crate) struct KubeletApi {
    pub node_ip: Ipv4Addr,
    pub pods: Arc<[StaticPod]>,
    pub run: Run,
}

impl KubeletApi {
    /// Answers one request on the kubelet API.
    pub async fn handle<B>(self: Arc<Self>, request: Request<B>) -> Response<Body> {
        let get = request.method() == Method::GET;
        match route(request.uri().path()) {
            Route::Healthz if get => text(StatusCode::OK, "ok"),
            Route::Pods if get => self.pods(),
            Route::ContainerLogs {
                namespace,
                pod,
                container,
            } if get => {
                let query = request.uri().query().unwrap_or("");
                self.container_logs(namespace, pod, container, query)
            }
            Route::Healthz | Route::Pods | Route::ContainerLogs { .. } => {
                text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed")
            }
            Route::NotImplemented => text(StatusCode::NOT_IMPLEMENTED, "not implemented"),
            Route::NotFound => text(StatusCode::NOT_FOUND, "404 page not found"),
        }
    }

    /// The pods this kubelet runs, as a PodList.
    fn pods(&self) -> Response<Body> {
        let items: Vec<_> = self
            .pods
            .iter()
            .map(|pod| pod.running(self.node_ip, &self.run))
            .collect();
        let list = json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items});
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .body(full(list.to_string()))
            .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
    }

    /// The log of a static pod's container, streamed from its role's log file.
    fn container_logs(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        query: &str,
    ) -> Response<Body> {
        let Some(found) = self
            .pods
            .iter()
            .find(|p| namespace == NAMESPACE && p.name == pod)
        else {
            return text(
                StatusCode::NOT_FOUND,
                &format!("pod \"{pod}\" does not exist\n"),
            );
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

#[cfg(test)]
mod tests;
