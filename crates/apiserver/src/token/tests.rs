//! Tests for ServiceAccount JWTs and bootstrap tokens.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::json;

use super::bootstrap::parse_rfc3339;
use super::*;

const RSA_PKCS1: &[u8] = include_bytes!("testdata/rsa.pem");
const RSA_PKCS8: &[u8] = include_bytes!("testdata/rsa8.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("testdata/rsa.pub");
const EC_SEC1: &[u8] = include_bytes!("testdata/ec.pem");
const EC_PKCS8: &[u8] = include_bytes!("testdata/ec8.pem");
const EC_PUBLIC: &[u8] = include_bytes!("testdata/ec.pub");
const RSA_KID: &str = "s-T3ZpT3seLLNs_wrt5_AjprcwYvyJTjjHb1tOLYzGo";
const EC_KID: &str = "fY6AwS9wT3DMURniTLu3mohpkCOAr1cixEIjV-TF_OY";

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const NOW: u64 = 1_700_000_000;

/// Tokens signed by Python's `cryptography` with the test keys, in kube-apiserver's layout.
const PYTHON_RS256: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InMtVDNacFQzc2VMTE5zX3dydDVfQWpwcmN3WXZ5SlRqakhiMXRPTFl6R28ifQ.eyJhdWQiOlsiaHR0cHM6Ly9rdWJlcm5ldGVzLmRlZmF1bHQuc3ZjLmNsdXN0ZXIubG9jYWwiXSwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3MDAwMDAwMDAsImlzcyI6Imh0dHBzOi8va3ViZXJuZXRlcy5kZWZhdWx0LnN2Yy5jbHVzdGVyLmxvY2FsIiwianRpIjoiNmIxYzRhMmUtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAxIiwia3ViZXJuZXRlcy5pbyI6eyJuYW1lc3BhY2UiOiJkZWZhdWx0Iiwibm9kZSI6eyJuYW1lIjoibm9kZS0xIiwidWlkIjoibi11aWQifSwicG9kIjp7Im5hbWUiOiJ3ZWItMCIsInVpZCI6InAtdWlkIn0sInNlcnZpY2VhY2NvdW50Ijp7Im5hbWUiOiJkZWZhdWx0IiwidWlkIjoic2EtdWlkIn0sIndhcm5hZnRlciI6MTcwMDAwMzYwN30sIm5iZiI6MTcwMDAwMDAwMCwic3ViIjoic3lzdGVtOnNlcnZpY2VhY2NvdW50OmRlZmF1bHQ6ZGVmYXVsdCJ9.kensdYEU8CbKNsTqJJQEUG3iKvWVsToUndxupQVegNIoGKSpsj5rxr2vGIX1ASbWGetWpJIzEZO-MF9asFisyVBpD276YcY26zKaVYhL_FZRMETQ-rvmobLqMboXi8jApcFBnMTVGU1NTy-OLKGsonO7BJNdYfjHbjDI8ULw86hsIZAOoPcesE5hm-fB6sWJg32bID0qYIZyYsNBZO3Sm4yo5dpnwDx1QLGei_MbMfKYAFQes3aavKaosYfyLOaclFYRW9NDf7nx5-qUgIno2-YHJ3nPuruk16fjxAloI93sXGsD9yxPGDb8WziH0I9gD-5f4saSdJmA2E-OitRGWA";
const PYTHON_ES256: &str = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImZZNkF3Uzl3VDNETVVSbmlUTHUzbW9ocGtDT0FyMWNpeEVJalYtVEZfT1kifQ.eyJhdWQiOlsiaHR0cHM6Ly9rdWJlcm5ldGVzLmRlZmF1bHQuc3ZjLmNsdXN0ZXIubG9jYWwiXSwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3MDAwMDAwMDAsImlzcyI6Imh0dHBzOi8va3ViZXJuZXRlcy5kZWZhdWx0LnN2Yy5jbHVzdGVyLmxvY2FsIiwianRpIjoiNmIxYzRhMmUtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAxIiwia3ViZXJuZXRlcy5pbyI6eyJuYW1lc3BhY2UiOiJkZWZhdWx0Iiwibm9kZSI6eyJuYW1lIjoibm9kZS0xIiwidWlkIjoibi11aWQifSwicG9kIjp7Im5hbWUiOiJ3ZWItMCIsInVpZCI6InAtdWlkIn0sInNlcnZpY2VhY2NvdW50Ijp7Im5hbWUiOiJkZWZhdWx0IiwidWlkIjoic2EtdWlkIn0sIndhcm5hZnRlciI6MTcwMDAwMzYwN30sIm5iZiI6MTcwMDAwMDAwMCwic3ViIjoic3lzdGVtOnNlcnZpY2VhY2NvdW50OmRlZmF1bHQ6ZGVmYXVsdCJ9.MgLe3HuhwgHB0tej1xl4vL01pTJ_lCHQaBN-0aGITyOEzMjxX6qzh1otOgDISYK9oqGhk8DCvpkph_Bsk1FWjA";

fn verifier(pems: &[&[u8]], audiences: &[&str]) -> TokenVerifier {
    TokenVerifier::from_pems(
        &pems.iter().map(|p| p.to_vec()).collect::<Vec<_>>(),
        vec![ISSUER.to_string()],
        audiences.iter().map(|a| a.to_string()).collect(),
    )
    .unwrap()
}

fn claims() -> ServiceAccountClaims {
    ServiceAccountClaims {
        pod: Some(("web-0".into(), "p-uid".into())),
        node: Some(("node-1".into(), "n-uid".into())),
        ..ServiceAccountClaims::new(
            "default",
            "builder",
            "sa-uid",
            vec![ISSUER.to_string()],
            NOW,
            3600,
        )
    }
}

fn decode_part(token: &str, index: usize) -> serde_json::Value {
    let part = token.split('.').nth(index).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn key_ids_match_kubernetes_derivation_for_every_key_form() {
    let cases: [(&[u8], &str); 4] = [
        (RSA_PKCS1, RSA_KID),
        (RSA_PKCS8, RSA_KID),
        (EC_SEC1, EC_KID),
        (EC_PKCS8, EC_KID),
    ];
    for (pem, kid) in cases {
        let issuer = TokenIssuer::from_pem(pem, ISSUER).unwrap();
        assert_eq!(issuer.key_id(), kid);
    }
    for (pem, kid) in [(RSA_PUBLIC, RSA_KID), (EC_PUBLIC, EC_KID)] {
        let keys = keys::public_keys(pem).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid, kid);
    }
}

#[test]
fn issued_tokens_have_kubernetes_header_and_claims() {
    let issuer = TokenIssuer::from_pem(RSA_PKCS1, ISSUER).unwrap();
    let token = issuer
        .issue(&ServiceAccountClaims {
            issuer: "ignored".into(),
            ..claims()
        })
        .unwrap();
    assert_eq!(
        decode_part(&token, 0),
        json!({"alg": "RS256", "kid": RSA_KID})
    );
    let payload = decode_part(&token, 1);
    let jti = payload["jti"].as_str().unwrap().to_string();
    assert_eq!(jti.len(), 36);
    assert_eq!(&jti[14..15], "4", "a version-4 UUID: {jti}");
    assert_eq!(
        payload,
        json!({
            "aud": [ISSUER],
            "exp": NOW + 3600,
            "iat": NOW,
            "iss": ISSUER,
            "jti": jti,
            "kubernetes.io": {
                "namespace": "default",
                "node": {"name": "node-1", "uid": "n-uid"},
                "pod": {"name": "web-0", "uid": "p-uid"},
                "serviceaccount": {"name": "builder", "uid": "sa-uid"},
            },
            "nbf": NOW,
            "sub": "system:serviceaccount:default:builder",
        })
    );
}

#[test]
fn issue_then_verify_with_each_key_form() {
    // (signing key, verifying key files)
    let cases: [(&[u8], &[&[u8]]); 5] = [
        (RSA_PKCS1, &[RSA_PUBLIC]),
        (RSA_PKCS8, &[RSA_PKCS1]),
        (EC_SEC1, &[EC_PUBLIC]),
        (EC_PKCS8, &[EC_SEC1]),
        (EC_SEC1, &[RSA_PUBLIC, EC_PUBLIC]),
    ];
    for (signing, verifying) in cases {
        let token = TokenIssuer::from_pem(signing, ISSUER)
            .unwrap()
            .issue(&claims())
            .unwrap();
        let got = verifier(verifying, &[ISSUER])
            .verify(&token, NOW + 10)
            .unwrap();
        assert_eq!(
            got,
            ServiceAccountClaims {
                issuer: ISSUER.into(),
                ..claims()
            }
        );
    }
}

#[test]
fn verifies_tokens_signed_elsewhere() {
    for (token, key) in [(PYTHON_RS256, RSA_PUBLIC), (PYTHON_ES256, EC_PUBLIC)] {
        let got = verifier(&[key], &[ISSUER]).verify(token, NOW).unwrap();
        assert_eq!(got.subject, "system:serviceaccount:default:default");
        assert_eq!(got.expires_at, 4_102_444_800);
        let user = user_of(&got);
        assert_eq!(user.name, "system:serviceaccount:default:default");
        assert_eq!(user.uid, "sa-uid");
        assert_eq!(
            user.groups,
            ["system:serviceaccounts", "system:serviceaccounts:default"]
        );
        let extra: Vec<(&str, &str)> = user
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v[0].as_str()))
            .collect();
        assert_eq!(
            extra,
            [
                ("authentication.kubernetes.io/node-name", "node-1"),
                ("authentication.kubernetes.io/node-uid", "n-uid"),
                ("authentication.kubernetes.io/pod-name", "web-0"),
                ("authentication.kubernetes.io/pod-uid", "p-uid"),
            ]
        );
    }
}

#[test]
fn rejects_bad_tokens() {
    let issuer = TokenIssuer::from_pem(RSA_PKCS1, ISSUER).unwrap();
    let good = issuer.issue(&claims()).unwrap();
    let other_issuer = TokenIssuer::from_pem(RSA_PKCS1, "https://elsewhere")
        .unwrap()
        .issue(&claims())
        .unwrap();
    let other_audience = issuer
        .issue(&ServiceAccountClaims {
            audiences: vec!["vault".into()],
            ..claims()
        })
        .unwrap();
    let no_service_account = issuer
        .issue(&ServiceAccountClaims {
            namespace: String::new(),
            ..claims()
        })
        .unwrap();
    let forged_by_ec = TokenIssuer::from_pem(EC_SEC1, ISSUER)
        .unwrap()
        .issue(&claims())
        .unwrap();
    // Change one character in the middle of the signature.
    let mut tampered = good.clone().into_bytes();
    let at = tampered.len() - 20;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    // Change the payload but keep the signature.
    let parts: Vec<&str> = good.split('.').collect();
    let mut payload = decode_part(&good, 1);
    payload["kubernetes.io"]["serviceaccount"]["name"] = json!("admin");
    let swapped = format!(
        "{}.{}.{}",
        parts[0],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    // Same token with `alg: none` and no signature.
    let unsigned = format!(
        "{}.{}.",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        parts[1]
    );
    let rsa = verifier(&[RSA_PUBLIC], &[ISSUER]);
    let cases: Vec<(&str, &str, u64, TokenError)> = vec![
        ("expired", &good, NOW + 3600 + 61, TokenError::Expired),
        ("not yet valid", &good, NOW - 61, TokenError::NotYetValid),
        (
            "wrong issuer",
            &other_issuer,
            NOW,
            TokenError::Issuer("https://elsewhere".into()),
        ),
        (
            "wrong audience",
            &other_audience,
            NOW,
            TokenError::Audience {
                token: vec!["vault".into()],
                wanted: vec![ISSUER.into()],
            },
        ),
        (
            "tampered signature",
            &tampered,
            NOW,
            TokenError::Signature("no configured key verifies this RS256 signature".into()),
        ),
        (
            "tampered payload",
            &swapped,
            NOW,
            TokenError::Signature("no configured key verifies this RS256 signature".into()),
        ),
        (
            "unknown key",
            &forged_by_ec,
            NOW,
            TokenError::Signature(format!("no keys found for key ID {EC_KID:?}")),
        ),
        (
            "alg none",
            &unsigned,
            NOW,
            TokenError::Signature("no configured key verifies this none signature".into()),
        ),
        (
            "no namespace",
            &no_service_account,
            NOW,
            TokenError::Claims(
                "the kubernetes.io claim must name a namespace and a service account".into(),
            ),
        ),
        (
            "not a JWT",
            "abc.def",
            NOW,
            TokenError::Malformed("a JWT has three dot-separated parts".into()),
        ),
    ];
    for (name, token, now, want) in cases {
        assert_eq!(rsa.verify(token, now), Err(want), "{name}");
    }
    // Within the minute of leeway a token is still good.
    assert!(rsa.verify(&good, NOW + 3600 + 59).is_ok());
    assert!(rsa.verify(&good, NOW - 59).is_ok());
    // A verifier without audiences accepts any audience.
    assert!(
        verifier(&[RSA_PUBLIC], &[])
            .verify(&other_audience, NOW)
            .is_ok()
    );
}

#[test]
fn bad_key_files_are_rejected() {
    let cases: [(&[u8], &str); 3] = [
        (b"", "no RSA or EC private key found in PEM data"),
        (RSA_PUBLIC, "no RSA or EC private key found in PEM data"),
        (
            b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            "RSA private key rejected",
        ),
    ];
    for (pem, want) in cases {
        let err = TokenIssuer::from_pem(pem, ISSUER).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    }
    let err = TokenVerifier::from_pems(&[b"not pem".to_vec()], vec![], vec![]).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not contain any valid RSA or ECDSA public keys")
    );
}

#[test]
fn bootstrap_tokens_parse() {
    let cases = [
        (
            "abcdef.0123456789abcdef",
            Some(("abcdef", "0123456789abcdef")),
        ),
        ("abcdef.0123456789abcde", None),
        ("ABCDEF.0123456789abcdef", None),
        ("abcdef0123456789abcdef", None),
        ("abcde.f0123456789abcdef", None),
        ("abcdef.0123456789abcdef.x", None),
        ("", None),
    ];
    for (token, want) in cases {
        let want = want.map(|(a, b)| (a.to_string(), b.to_string()));
        assert_eq!(parse_bootstrap_token(token), want, "{token}");
    }
}

#[test]
fn bootstrap_tokens_authenticate_against_their_secret() {
    let base: BTreeMap<String, Vec<u8>> = [
        ("token-id", "abcdef"),
        ("token-secret", "0123456789abcdef"),
        ("usage-bootstrap-authentication", "true"),
        ("expiration", "2023-11-15T00:00:00Z"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
    .collect();
    let with = |key: &str, value: Option<&str>| {
        let mut data = base.clone();
        match value {
            Some(value) => data.insert(key.to_string(), value.as_bytes().to_vec()),
            None => data.remove(key),
        };
        data
    };
    type Data = BTreeMap<String, Vec<u8>>;
    /// The user's groups, or a piece of the error message.
    type Want<'a> = Result<Vec<&'a str>, &'a str>;
    // 2023-11-15T00:00:00Z is 1700006400, after NOW.
    let cases: Vec<(&str, Data, &str, Want)> = vec![
        (
            "plain",
            base.clone(),
            "0123456789abcdef",
            Ok(vec!["system:bootstrappers"]),
        ),
        (
            "the default group is not an extra group",
            with(
                "auth-extra-groups",
                Some(
                    "system:bootstrappers:worker,system:bootstrappers:kubeadm:default-node-token,system:bootstrappers",
                ),
            ),
            "0123456789abcdef",
            Err("bootstrap group \"system:bootstrappers\" is invalid"),
        ),
        (
            "extra groups, sorted and deduplicated",
            with(
                "auth-extra-groups",
                Some(
                    "system:bootstrappers:worker,system:bootstrappers:kubeadm:default-node-token,system:bootstrappers:worker",
                ),
            ),
            "0123456789abcdef",
            Ok(vec![
                "system:bootstrappers",
                "system:bootstrappers:kubeadm:default-node-token",
                "system:bootstrappers:worker",
            ]),
        ),
        (
            "wrong secret",
            base.clone(),
            "0123456789abcdee",
            Err("has invalid value for key token-secret"),
        ),
        (
            "wrong id",
            with("token-id", Some("zzzzzz")),
            "0123456789abcdef",
            Err("has invalid value for key token-id"),
        ),
        (
            "expired",
            with("expiration", Some("2023-11-14T22:13:20Z")),
            "0123456789abcdef",
            Err("expired at 2023-11-14T22:13:20Z"),
        ),
        (
            "unparseable expiration",
            with("expiration", Some("tomorrow")),
            "0123456789abcdef",
            Err("unparseable expiration time"),
        ),
        (
            "no expiration",
            with("expiration", None),
            "0123456789abcdef",
            Ok(vec!["system:bootstrappers"]),
        ),
        (
            "not for authentication",
            with("usage-bootstrap-authentication", Some("false")),
            "0123456789abcdef",
            Err("not marked usage-bootstrap-authentication=true"),
        ),
        (
            "bad extra group",
            with("auth-extra-groups", Some("system:masters")),
            "0123456789abcdef",
            Err("bootstrap group \"system:masters\" is invalid"),
        ),
    ];
    for (name, data, secret, want) in cases {
        let got = bootstrap_user(&data, "abcdef", secret, NOW);
        match (want, got) {
            (Ok(groups), Ok(user)) => {
                assert_eq!(user.name, "system:bootstrap:abcdef", "{name}");
                assert_eq!(user.groups, groups, "{name}");
            }
            (Err(text), Err(e)) => assert!(e.to_string().contains(text), "{name}: {e}"),
            (want, got) => panic!("{name}: want {want:?}, got {got:?}"),
        }
    }
}

#[test]
fn bootstrap_secret_objects_are_checked_whole() {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let secret = json!({
        "metadata": {"name": "bootstrap-token-abcdef", "namespace": "kube-system"},
        "type": "bootstrap.kubernetes.io/token",
        "data": {
            "token-id": b64("abcdef"),
            "token-secret": b64("0123456789abcdef"),
            "usage-bootstrap-authentication": b64("true"),
            "auth-extra-groups": b64("system:bootstrappers:kubeadm:default-node-token"),
        },
    });
    let user = bootstrap_user_from_secret(&secret, "abcdef", "0123456789abcdef", NOW).unwrap();
    assert_eq!(
        user.groups,
        [
            "system:bootstrappers",
            "system:bootstrappers:kubeadm:default-node-token"
        ]
    );
    let mut opaque = secret.clone();
    opaque["type"] = json!("Opaque");
    let mut deleting = secret.clone();
    deleting["metadata"]["deletionTimestamp"] = json!("2023-11-14T00:00:00Z");
    for (object, want) in [
        (
            opaque,
            "has invalid type, expected bootstrap.kubernetes.io/token",
        ),
        (deleting, "is deleted and awaiting removal"),
    ] {
        let err = bootstrap_user_from_secret(&object, "abcdef", "0123456789abcdef", NOW)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn rfc3339_times_parse_to_unix_seconds() {
    let cases = [
        ("1970-01-01T00:00:00Z", Some(0)),
        ("2023-11-14T22:13:20Z", Some(1_700_000_000)),
        ("2023-11-15T00:13:20+02:00", Some(1_700_000_000)),
        ("2023-11-14T22:13:20.999Z", Some(1_700_000_000)),
        ("2024-02-29T00:00:00Z", Some(1_709_164_800)),
        ("2023-02-29T00:00:00Z", None),
        ("2023-11-14T22:13:20", None),
        ("tomorrow", None),
    ];
    for (text, want) in cases {
        assert_eq!(parse_rfc3339(text), want, "{text}");
    }
}
