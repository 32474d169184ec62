//! Which protocol a port-forward request gets, decided from its headers alone.
//!
//! kubectl 1.32 first asks for a WebSocket with the subprotocol `SPDY/3.1+portforward.k8s.io`
//! (SPDY frames tunneled in binary messages) and, on any answer but 101, falls back to a plain
//! `Upgrade: SPDY/3.1` with `X-Stream-Protocol-Version: portforward.k8s.io`. Refusals use the
//! kubelet's and API server's wording, which kubectl prints.

use http::{HeaderMap, HeaderName, StatusCode, Version, header};

/// The port-forward protocol (`X-Stream-Protocol-Version`), the only one kubectl speaks.
pub(crate) const PORT_FORWARD_PROTOCOL: &str = "portforward.k8s.io";

/// The `Upgrade` token of SPDY.
pub(crate) const SPDY_UPGRADE: &str = "SPDY/3.1";

/// What prefixes a SPDY protocol to name it as a WebSocket subprotocol.
const TUNNELING_PREFIX: &str = "SPDY/3.1+";

/// The header a SPDY client lists its protocols in, and the server answers the chosen one in.
pub(crate) const STREAM_PROTOCOL_VERSION: HeaderName =
    HeaderName::from_static("x-stream-protocol-version");

/// The header a refusal lists the protocols the server accepts in.
pub(crate) const ACCEPTED_STREAM_PROTOCOL_VERSIONS: HeaderName =
    HeaderName::from_static("x-accepted-stream-protocol-versions");

/// How to answer a port-forward request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Negotiation {
    /// Switch to SPDY/3.1 on this connection.
    Spdy,
    /// Switch to a WebSocket tunneling SPDY/3.1.
    WebSocket {
        /// `Sec-WebSocket-Accept`.
        accept: String,
        /// `Sec-WebSocket-Protocol`: `SPDY/3.1+portforward.k8s.io`.
        protocol: String,
    },
    /// Answer with an error; kubectl falls back from a refused WebSocket to SPDY.
    Refuse {
        status: StatusCode,
        message: String,
        /// Sent as `X-Accepted-Stream-Protocol-Versions` when protocols did not match.
        accepted: Option<&'static str>,
    },
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Negotiation {
    Negotiation::Refuse {
        status,
        message: message.into(),
        accepted: None,
    }
}

/// Decides how to answer a request with these headers.
pub(crate) fn negotiate(version: Version, headers: &HeaderMap) -> Negotiation {
    let connection_upgrade = header_contains(headers, &header::CONNECTION, "upgrade");
    if connection_upgrade && header_contains(headers, &header::UPGRADE, "websocket") {
        return negotiate_websocket(version, headers);
    }

    // A SPDY client names the protocols it speaks; the first one this kubelet speaks wins.
    let offered = comma_separated(headers, &STREAM_PROTOCOL_VERSION);
    if offered.is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unable to upgrade: X-Stream-Protocol-Version is required",
        );
    }
    if !offered.iter().any(|p| p == PORT_FORWARD_PROTOCOL) {
        return Negotiation::Refuse {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "unable to upgrade: unable to negotiate protocol: client supports [{}], server accepts [{PORT_FORWARD_PROTOCOL}]",
                offered.join(" ")
            ),
            accepted: Some(PORT_FORWARD_PROTOCOL),
        };
    }
    if !connection_upgrade || !header_contains(headers, &header::UPGRADE, "spdy/3.1") {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unable to upgrade: missing upgrade headers in request",
        );
    }
    if version != Version::HTTP_11 {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unable to upgrade: upgrading a connection needs HTTP/1.1",
        );
    }
    Negotiation::Spdy
}

fn negotiate_websocket(version: Version, headers: &HeaderMap) -> Negotiation {
    if version != Version::HTTP_11 {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unable to upgrade: upgrading a connection needs HTTP/1.1",
        );
    }
    let version_ok = headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v.as_bytes() == b"13");
    if !version_ok {
        return refuse(
            StatusCode::BAD_REQUEST,
            "websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' header",
        );
    }
    let Some(key) = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|k| !k.is_empty())
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "websocket: not a websocket handshake: 'Sec-WebSocket-Key' header is missing or blank",
        );
    };
    let offered = comma_separated(headers, &header::SEC_WEBSOCKET_PROTOCOL);
    let tunneled = format!("{TUNNELING_PREFIX}{PORT_FORWARD_PROTOCOL}");
    if offered.contains(&tunneled) {
        return Negotiation::WebSocket {
            accept: tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes()),
            protocol: tunneled,
        };
    }
    if offered.iter().any(|p| p.starts_with(TUNNELING_PREFIX)) || offered.is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unable to upgrade: no tunneling spdy protocols provided",
        );
    }
    // The older WebSocket port-forward (one channel per port, ports in the query) is a
    // protocol of its own; kubectl never asks for it.
    refuse(
        StatusCode::NOT_IMPLEMENTED,
        format!(
            "not implemented: port-forward over WebSocket subprotocols [{}]; this kubelet speaks {tunneled} and SPDY/3.1",
            offered.join(" ")
        ),
    )
}

/// True if any value of the header, split at commas, equals `token` (without case).
fn header_contains(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .to_str()
            .unwrap_or("")
            .split(',')
            .any(|part| part.trim().eq_ignore_ascii_case(token))
    })
}

/// The comma-separated values of every instance of a header, trimmed, empty ones left out.
fn comma_separated(headers: &HeaderMap, name: &HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests;
