//! Negotiation against the requests kubectl 1.32 sends, and the refusals of everything else.

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    map
}

/// The headers kubectl 1.32's WebSocket dialer sends (the key is RFC 6455's example).
const KUBECTL_WEBSOCKET: &[(&str, &str)] = &[
    ("Connection", "Upgrade"),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Version", "13"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Protocol", "SPDY/3.1+portforward.k8s.io"),
];

/// The headers of kubectl's SPDY fallback.
const KUBECTL_SPDY: &[(&str, &str)] = &[
    ("X-Stream-Protocol-Version", "portforward.k8s.io"),
    ("Connection", "Upgrade"),
    ("Upgrade", "SPDY/3.1"),
];

fn with(base: &[(&str, &str)], changes: &[(&str, Option<&str>)]) -> HeaderMap {
    let mut map = headers(base);
    for (name, value) in changes {
        map.remove(*name);
        if let Some(value) = value {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
    }
    map
}

fn status(negotiation: &Negotiation) -> Option<StatusCode> {
    match negotiation {
        Negotiation::Refuse { status, .. } => Some(*status),
        _ => None,
    }
}

#[test]
fn kubectls_requests_upgrade() {
    assert_eq!(
        negotiate(Version::HTTP_11, &headers(KUBECTL_WEBSOCKET)),
        Negotiation::WebSocket {
            accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_string(),
            protocol: "SPDY/3.1+portforward.k8s.io".to_string(),
        }
    );
    assert_eq!(
        negotiate(Version::HTTP_11, &headers(KUBECTL_SPDY)),
        Negotiation::Spdy
    );
    // Lists of protocols and tokens, in any case.
    let listed = headers(&[
        (
            "X-Stream-Protocol-Version",
            "v9.example, portforward.k8s.io",
        ),
        ("Connection", "keep-alive, upgrade"),
        ("Upgrade", "spdy/3.1"),
    ]);
    assert_eq!(negotiate(Version::HTTP_11, &listed), Negotiation::Spdy);
    let several = with(
        KUBECTL_WEBSOCKET,
        &[(
            "Sec-WebSocket-Protocol",
            Some("v5.channel.k8s.io, SPDY/3.1+portforward.k8s.io"),
        )],
    );
    assert!(matches!(
        negotiate(Version::HTTP_11, &several),
        Negotiation::WebSocket { .. }
    ));
}

#[test]
fn refusals() {
    let cases: Vec<(&str, Version, HeaderMap, StatusCode)> = vec![
        (
            "no protocol",
            Version::HTTP_11,
            with(KUBECTL_SPDY, &[("X-Stream-Protocol-Version", None)]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown protocol",
            Version::HTTP_11,
            with(
                KUBECTL_SPDY,
                &[("X-Stream-Protocol-Version", Some("v4.channel.k8s.io"))],
            ),
            StatusCode::FORBIDDEN,
        ),
        (
            "no upgrade",
            Version::HTTP_11,
            with(KUBECTL_SPDY, &[("Upgrade", None)]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "upgrade to something else",
            Version::HTTP_11,
            with(KUBECTL_SPDY, &[("Upgrade", Some("h2c"))]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "HTTP/2",
            Version::HTTP_2,
            headers(KUBECTL_SPDY),
            StatusCode::BAD_REQUEST,
        ),
        (
            "websocket without subprotocols",
            Version::HTTP_11,
            with(KUBECTL_WEBSOCKET, &[("Sec-WebSocket-Protocol", None)]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "websocket tunneling another protocol",
            Version::HTTP_11,
            with(
                KUBECTL_WEBSOCKET,
                &[("Sec-WebSocket-Protocol", Some("SPDY/3.1+v4.channel.k8s.io"))],
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "websocket channels",
            Version::HTTP_11,
            with(
                KUBECTL_WEBSOCKET,
                &[("Sec-WebSocket-Protocol", Some("portforward.k8s.io"))],
            ),
            StatusCode::NOT_IMPLEMENTED,
        ),
        (
            "websocket version 8",
            Version::HTTP_11,
            with(KUBECTL_WEBSOCKET, &[("Sec-WebSocket-Version", Some("8"))]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "websocket without key",
            Version::HTTP_11,
            with(KUBECTL_WEBSOCKET, &[("Sec-WebSocket-Key", None)]),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (name, version, headers, expected) in cases {
        assert_eq!(
            status(&negotiate(version, &headers)),
            Some(expected),
            "{name}"
        );
    }
}

#[test]
fn protocol_mismatch_names_what_the_server_accepts() {
    let headers = with(KUBECTL_SPDY, &[("X-Stream-Protocol-Version", Some("a, b"))]);
    assert_eq!(
        negotiate(Version::HTTP_11, &headers),
        Negotiation::Refuse {
            status: StatusCode::FORBIDDEN,
            message: "unable to upgrade: unable to negotiate protocol: client supports [a b], server accepts [portforward.k8s.io]".to_string(),
            accepted: Some("portforward.k8s.io"),
        }
    );
}
