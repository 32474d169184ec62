//! `kubectl exec` and `kubectl attach` on the kubelet API (`/exec/{ns}/{pod}/{container}`,
//! `/attach/{ns}/{pod}/{container}`): the WebSocket channel protocol that kubectl 1.32 speaks,
//! `v5.channel.k8s.io` (preferred) or `v4.channel.k8s.io`.
//!
//! The API server proxies kubectl's upgrade request here unchanged except for the query, which
//! it rebuilds as kube-apiserver does (`command` repeated, `stdin`/`stdout`/`stderr`/`tty` as
//! `1`). The upgrade checks ([`handshake`]), the query ([`options`]), the channel messages and
//! Statuses ([`protocol`]) and the terminal's line editing ([`tty`]) are pure; [`session`] runs
//! the command and pumps the channels.
//!
//! How commands run in the process runtime: as host programs, with the container's environment
//! (plus `HOSTNAME`, and a default `PATH` if it has none) and working directory. There is no
//! UTS namespace, so a bare `hostname` is a builtin that prints the pod's name. There is no
//! pseudo-terminal either (opening one needs unsafe code): `-t` gets a line discipline in the
//! kubelet instead (see [`tty`]); resizes are ignored. SPDY/3.1, kubectl's fallback when a
//! WebSocket is refused, is not served: the refusal says so.
//!
//! Attach answers a NotImplemented Status: the runtime connects a container's stdin to nothing
//! and its stdout and stderr to its log file, so there is no live stream to attach to
//! (`kubectl logs -f` follows the output).
//!
//! Wiring, in `server.rs`: routes `/exec/{ns}/{pod}/{container}` and
//! `/attach/{ns}/{pod}/{container}` (GET, and POST so that SPDY gets its refusal), then
//!
//! ```text
//! Route::Exec { namespace, pod, container } => {
//!     match self.container_target(namespace, pod, Some(container)) {
//!         Some(target) => crate::stream::exec(request, target).await,
//!         // The kubelet's words for a container it does not run.
//!         None => text(StatusCode::NOT_FOUND, &format!("container not found ({container:?})")),
//!     }
//! }
//! Route::Attach { .. } => crate::stream::attach(request).await,
//! ```
//!
//! The connection must be served with upgrades (`serve_connection_with_upgrades`, as `serve`
//! does for the kubelet API).

mod handshake;
mod options;
mod protocol;
mod session;
mod tty;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::server::Body;
use crate::target::ContainerTarget;
use handshake::{Accepted, Refusal};
use options::StreamOptions;

/// A plain-text answer, as the kubelet gives its refusals.
fn text(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(format!("{message}\n")))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The checks every stream request passes before its upgrade: the WebSocket handshake, then
/// the options, then hyper's hand-over of the connection.
fn prepare<B>(
    request: &mut Request<B>,
    exec: bool,
) -> Result<(Accepted, StreamOptions, OnUpgrade), Refusal> {
    let accepted = handshake::negotiate(request.method(), request.version(), request.headers())?;
    let options = StreamOptions::from_query(request.uri().query().unwrap_or(""), exec).map_err(
        |message| Refusal {
            status: StatusCode::BAD_REQUEST,
            message,
        },
    )?;
    // Present only on an HTTP/1.1 connection served with upgrades.
    let upgrade = request
        .extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or_else(|| Refusal {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "unable to upgrade: unable to hijack response".into(),
        })?;
    Ok((accepted, options, upgrade))
}

/// Upgrades the connection in the background once the 101 is sent, and runs `session` on it.
fn upgrade_then<F, Fut>(accepted: &Accepted, upgrade: OnUpgrade, session: F) -> Response<Body>
where
    F: FnOnce(WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let io = match upgrade.await {
            Ok(upgraded) => TokioIo::new(upgraded),
            Err(e) => {
                tracing::debug!(target: "kubelet", error = %e, "stream upgrade failed");
                return;
            }
        };
        session(WebSocketStream::from_raw_socket(io, Role::Server, None).await).await;
    });
    handshake::switching_protocols(accepted)
}

/// Answers an exec request for `target`: 101 and the session in the background, or the
/// refusal (400 for a request that is not a usable WebSocket upgrade or lacks a command).
pub(crate) async fn exec<B>(mut request: Request<B>, target: ContainerTarget) -> Response<Body> {
    let (accepted, options, upgrade) = match prepare(&mut request, true) {
        Ok(prepared) => prepared,
        Err(refusal) => return text(refusal.status, &refusal.message),
    };
    let protocol = accepted.protocol;
    upgrade_then(&accepted, upgrade, move |socket| {
        session::exec(socket, protocol, options, target)
    })
}

/// Answers an attach request: after the upgrade, a NotImplemented Status on the error channel
/// (see the module's documentation for why).
pub(crate) async fn attach<B>(mut request: Request<B>) -> Response<Body> {
    let (accepted, _options, upgrade) = match prepare(&mut request, false) {
        Ok(prepared) => prepared,
        Err(refusal) => return text(refusal.status, &refusal.message),
    };
    upgrade_then(&accepted, upgrade, |mut socket| async move {
        let status = protocol::not_implemented(
            "attach is not implemented by hakube's process runtime: a container's stdin is not connected and its output goes to its log file; use kubectl logs -f to follow it",
        );
        session::finish(&mut socket, &status).await;
    })
}

#[cfg(test)]
mod tests;
