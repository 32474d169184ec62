//! `kubectl port-forward` on the kubelet API (`/portForward/{namespace}/{pod}`): the upgrade
//! handshake, then SPDY/3.1 with the portforward.k8s.io protocol, plain or tunneled in a
//! WebSocket, with each forwarded connection dialing the pod's IP over TCP.
//!
//! The API server proxies kubectl's upgrade request here unchanged, so this answers what
//! kubectl 1.32 asks: first a WebSocket with the subprotocol `SPDY/3.1+portforward.k8s.io`,
//! then, if that is refused, `Upgrade: SPDY/3.1` (see `negotiate`). Framing and header
//! compression ([`frame`], [`compression`], [`headers`]) and the protocol's rules ([`session`])
//! are pure; [`connection`] and [`forward`] do the I/O.
//!
//! Wiring, in `server.rs` (the route accepts GET, for the WebSocket, and POST, for SPDY, and an
//! optional trailing `/{uid}` segment like the kubelet's):
//!
//! ```text
//! Route::PortForward { namespace, pod } => {
//!     let pod_ip = /* the pod's IP on this node */;
//!     crate::portforward::port_forward(request, pod_ip, format!("{namespace}/{pod}")).await
//! }
//! ```

mod compression;
mod connection;
mod forward;
mod frame;
mod headers;
mod negotiate;
mod session;

use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::server::Body;
use forward::Target;
use negotiate::{
    ACCEPTED_STREAM_PROTOCOL_VERSIONS, Negotiation, PORT_FORWARD_PROTOCOL, SPDY_UPGRADE,
    STREAM_PROTOCOL_VERSION, negotiate,
};

/// Answers a port-forward request: 101 and a SPDY session in the background, or an error.
/// `pod_desc` names the pod in the messages a client sees, e.g. `default/web-0`. Any body type
/// will do: hyper hands the connection over through the request's extensions, and a request
/// without that hand-over (HTTP/2, or a server without upgrades) is refused.
#[allow(
    dead_code,
    reason = "server.rs routes /portForward here once wired; remove this then"
)]
pub(crate) async fn port_forward<B>(
    mut request: Request<B>,
    pod_ip: Ipv4Addr,
    pod_desc: String,
) -> Response<Body> {
    let negotiation = negotiate(request.version(), request.headers());
    if let Negotiation::Refuse {
        status,
        message,
        accepted,
    } = negotiation
    {
        let mut response = text(status, message);
        if let Some(accepted) = accepted {
            response.headers_mut().insert(
                ACCEPTED_STREAM_PROTOCOL_VERSIONS,
                HeaderValue::from_static(accepted),
            );
        }
        return response;
    }
    let Some(upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unable to upgrade: unable to hijack response".to_string(),
        );
    };
    let target = Arc::new(Target {
        ip: pod_ip,
        desc: pod_desc,
    });
    let headers = match &negotiation {
        Negotiation::WebSocket { accept, protocol } => vec![
            (header::UPGRADE, "websocket"),
            (header::SEC_WEBSOCKET_ACCEPT, accept.as_str()),
            (header::SEC_WEBSOCKET_PROTOCOL, protocol.as_str()),
        ],
        _ => vec![
            (header::UPGRADE, SPDY_UPGRADE),
            (STREAM_PROTOCOL_VERSION, PORT_FORWARD_PROTOCOL),
        ],
    };
    let response = switching(&headers);
    let tunnel = matches!(negotiation, Negotiation::WebSocket { .. });
    // The connection is handed over once the 101 is written, after this returns.
    tokio::spawn(async move {
        let io = match upgrade.await {
            Ok(upgraded) => TokioIo::new(upgraded),
            Err(e) => {
                tracing::debug!(target: "kubelet", error = %e, "port-forward upgrade failed");
                return;
            }
        };
        if tunnel {
            let websocket = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
            connection::serve_tunnel(websocket, target).await;
        } else {
            connection::serve_spdy(io, target).await;
        }
    });
    response
}

/// A 101 answer with `Connection: Upgrade` and the given headers.
fn switching(headers: &[(header::HeaderName, &str)]) -> Response<Body> {
    let mut response = Response::new(Empty::<Bytes>::new().boxed_unsync());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let map = response.headers_mut();
    map.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    for (name, value) in headers {
        match HeaderValue::from_str(value) {
            Ok(value) => {
                map.insert(name.clone(), value);
            }
            Err(_) => return text(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into()),
        }
    }
    response
}

fn text(status: StatusCode, message: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(message)).boxed_unsync());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests;
