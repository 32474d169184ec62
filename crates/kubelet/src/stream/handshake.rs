//! The WebSocket upgrade of an exec or attach request: the subprotocol (`v5.channel.k8s.io`,
//! else `v4.channel.k8s.io`), the RFC 6455 checks, and the 101 answer.

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Version, header};
use http_body_util::{BodyExt, Empty};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::server::Body;

/// The channel protocol version 5: version 4 plus the close signal on channel 255.
pub(crate) const V5: &str = "v5.channel.k8s.io";
/// Version 4: channels 0-4 and the exit status as a metav1.Status on channel 3.
pub(crate) const V4: &str = "v4.channel.k8s.io";
/// The subprotocols served, in order of preference.
const SERVED: [&str; 2] = [V5, V4];

/// A negotiated channel protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    V4,
    V5,
}

/// An upgrade this kubelet accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Accepted {
    pub protocol: Protocol,
    /// `Sec-WebSocket-Accept`, derived from the client's key.
    pub accept: String,
}

/// Why an upgrade is refused: the status and the message the client sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

fn refuse(message: impl Into<String>) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        message: format!("unable to upgrade: {}", message.into()),
    }
}

/// Every comma-separated token of every instance of a header, trimmed.
fn tokens<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

/// Checks an upgrade request and picks the subprotocol. SPDY/3.1, which kubectl falls back to
/// when a WebSocket is refused, is not served for exec and attach.
pub(crate) fn negotiate(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Result<Accepted, Refusal> {
    let upgrades = tokens(headers, &header::UPGRADE);
    let connection_upgrade = tokens(headers, &header::CONNECTION)
        .iter()
        .any(|t| t.eq_ignore_ascii_case("upgrade"));
    let websocket = upgrades.iter().any(|u| u.eq_ignore_ascii_case("websocket"));
    if !connection_upgrade || !websocket {
        let spdy = upgrades.iter().any(|u| u.eq_ignore_ascii_case("SPDY/3.1"));
        return Err(refuse(if spdy {
            format!(
                "SPDY/3.1 is not served for exec and attach; use a WebSocket with a subprotocol of [{}]",
                SERVED.join(" ")
            )
        } else {
            "a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket) is required".into()
        }));
    }
    if *method != Method::GET || version != Version::HTTP_11 {
        return Err(refuse("a WebSocket upgrade must be an HTTP/1.1 GET"));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err(refuse("Sec-WebSocket-Version must be 13"));
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(refuse("Sec-WebSocket-Key is missing"));
    };
    let offered = tokens(headers, &header::SEC_WEBSOCKET_PROTOCOL);
    let protocol = match SERVED.iter().find(|p| offered.contains(p)) {
        Some(&V5) => Protocol::V5,
        Some(_) => Protocol::V4,
        None => {
            return Err(refuse(format!(
                "unable to negotiate protocol: client supports [{}], server supports [{}]",
                offered.join(" "),
                SERVED.join(" ")
            )));
        }
    };
    Ok(Accepted {
        protocol,
        accept: derive_accept_key(key.as_bytes()),
    })
}

/// The `101 Switching Protocols` answer to an accepted upgrade.
pub(crate) fn switching_protocols(accepted: &Accepted) -> Response<Body> {
    let name = match accepted.protocol {
        Protocol::V5 => V5,
        Protocol::V4 => V4,
    };
    let mut response = Response::new(Empty::new().map_err(|never| match never {}).boxed_unsync());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(name),
    );
    if let Ok(accept) = HeaderValue::from_str(&accepted.accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    const WEBSOCKET: [(&str, &str); 4] = [
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        // RFC 6455's example key.
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    fn with(extra: &[(&str, &str)]) -> HeaderMap {
        let mut pairs = WEBSOCKET.to_vec();
        pairs.extend_from_slice(extra);
        headers(&pairs)
    }

    #[test]
    fn subprotocols_are_negotiated() {
        let cases = [
            (
                with(&[("sec-websocket-protocol", "v5.channel.k8s.io")]),
                Protocol::V5,
            ),
            (
                with(&[(
                    "sec-websocket-protocol",
                    "v4.channel.k8s.io, v5.channel.k8s.io",
                )]),
                Protocol::V5,
            ),
            (
                with(&[
                    ("sec-websocket-protocol", "channel.k8s.io"),
                    ("sec-websocket-protocol", "v4.channel.k8s.io"),
                ]),
                Protocol::V4,
            ),
        ];
        for (headers, expected) in cases {
            let accepted = negotiate(&Method::GET, Version::HTTP_11, &headers).unwrap();
            assert_eq!(accepted.protocol, expected, "{headers:?}");
            assert_eq!(accepted.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        }
    }

    #[test]
    fn refusals_say_why() {
        let cases = [
            (
                with(&[("sec-websocket-protocol", "base64.channel.k8s.io")]),
                Method::GET,
                "unable to upgrade: unable to negotiate protocol: client supports [base64.channel.k8s.io], server supports [v5.channel.k8s.io v4.channel.k8s.io]",
            ),
            (
                headers(&[("connection", "Upgrade"), ("upgrade", "SPDY/3.1")]),
                Method::POST,
                "unable to upgrade: SPDY/3.1 is not served for exec and attach; use a WebSocket with a subprotocol of [v5.channel.k8s.io v4.channel.k8s.io]",
            ),
            (
                headers(&[]),
                Method::GET,
                "unable to upgrade: a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket) is required",
            ),
            (
                with(&[("sec-websocket-protocol", "v5.channel.k8s.io")]),
                Method::POST,
                "unable to upgrade: a WebSocket upgrade must be an HTTP/1.1 GET",
            ),
            (
                headers(&[
                    ("connection", "Upgrade"),
                    ("upgrade", "websocket"),
                    ("sec-websocket-version", "8"),
                ]),
                Method::GET,
                "unable to upgrade: Sec-WebSocket-Version must be 13",
            ),
        ];
        for (headers, method, expected) in cases {
            let refusal = negotiate(&method, Version::HTTP_11, &headers).unwrap_err();
            assert_eq!(refusal.status, StatusCode::BAD_REQUEST);
            assert_eq!(refusal.message, expected);
        }
    }

    #[test]
    fn the_answer_switches_protocols() {
        let accepted = Accepted {
            protocol: Protocol::V4,
            accept: "abc=".into(),
        };
        let response = switching_protocols(&accepted);
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let h = response.headers();
        assert_eq!(h[header::SEC_WEBSOCKET_PROTOCOL], V4);
        assert_eq!(h[header::SEC_WEBSOCKET_ACCEPT], "abc=");
        assert_eq!(h[header::UPGRADE], "websocket");
    }
}
