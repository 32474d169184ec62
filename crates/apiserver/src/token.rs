//! ServiceAccount tokens: signed JWTs, as kube-apiserver issues and verifies them.
//!
//! A token is a compact JWS signed with RS256 (RSA key) or ES256 (P-256 key). Its header carries
//! `alg` and `kid`, the key ID Kubernetes derives from the public key (base64url of the SHA-256 of
//! its DER SubjectPublicKeyInfo). Its payload has the registered claims `iss`, `sub`, `aud`,
//! `exp`, `iat`, `nbf`, `jti` and the private `kubernetes.io` claim naming the namespace, the
//! ServiceAccount and what the token is bound to (pod, node).
//!
//! Verification here checks signature, issuer, audience and time. Whether the ServiceAccount,
//! pod or node a token names still exists with the same UID needs the store, so the caller does
//! that with the returned claims.
//!
//! Bootstrap tokens (`<id>.<secret>`, checked against a `bootstrap-token-<id>` Secret) live in the
//! `bootstrap` submodule and are re-exported here.

mod bootstrap;
mod keys;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use ring::rand::{SecureRandom as _, SystemRandom};
use serde_json::{Map, Value, json};

use crate::user::UserInfo;

pub use self::bootstrap::{
    BOOTSTRAP_TOKEN_SECRET_TYPE, bootstrap_user, bootstrap_user_from_secret, parse_bootstrap_token,
};
use self::keys::{PublicKey, SigningKey};

/// The clock skew kube-apiserver tolerates on `exp`, `nbf` and `iat` (go-jose's default leeway).
const LEEWAY_SECONDS: u64 = 60;

/// Why a key could not be loaded or a token could not be issued or accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// A key file holds no usable key, or a key of an unsupported type or size.
    #[error("invalid key: {0}")]
    Key(String),
    /// Signing failed (the system random source failed).
    #[error("signing token: {0}")]
    Sign(String),
    /// The token is not a compact JWS with JSON header and claims.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// No configured key verifies the signature.
    #[error("invalid signature: {0}")]
    Signature(String),
    /// The token was issued by someone this verifier does not trust; another authenticator may
    /// know the issuer.
    #[error("token issuer {0:?} is invalid")]
    Issuer(String),
    /// The token is meant for other audiences.
    #[error("token audiences {token:?} is invalid for the target audiences {wanted:?}")]
    Audience {
        token: Vec<String>,
        wanted: Vec<String>,
    },
    #[error("service account token has expired")]
    Expired,
    #[error("service account token is not valid yet")]
    NotYetValid,
    #[error("service account token is issued in the future")]
    IssuedInTheFuture,
    /// The claims lack what a ServiceAccount token must carry.
    #[error("service account token claims are invalid: {0}")]
    Claims(String),
    /// A bootstrap token does not match a usable bootstrap token Secret.
    #[error("bootstrap token is invalid: {0}")]
    Bootstrap(String),
}

/// What a ServiceAccount token says: Kubernetes' registered and private claims.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAccountClaims {
    /// `iss`; [`TokenIssuer::issue`] always writes its own issuer here.
    pub issuer: String,
    /// `sub`: `system:serviceaccount:<namespace>:<name>`.
    pub subject: String,
    /// `aud`.
    pub audiences: Vec<String>,
    /// `iat`, `nbf` and `exp`, in Unix seconds.
    pub issued_at: u64,
    pub not_before: u64,
    pub expires_at: u64,
    pub namespace: String,
    pub service_account_name: String,
    pub service_account_uid: String,
    /// The pod the token is bound to, as (name, uid).
    pub pod: Option<(String, String)>,
    /// The node the token is bound to, or the node of the bound pod, as (name, uid).
    pub node: Option<(String, String)>,
}

impl ServiceAccountClaims {
    /// Claims for ServiceAccount `namespace/name`, valid from `now` for `ttl_seconds`.
    pub fn new(
        namespace: &str,
        name: &str,
        uid: &str,
        audiences: Vec<String>,
        now_unix: u64,
        ttl_seconds: u64,
    ) -> Self {
        ServiceAccountClaims {
            subject: service_account_username(namespace, name),
            audiences,
            issued_at: now_unix,
            not_before: now_unix,
            expires_at: now_unix + ttl_seconds,
            namespace: namespace.to_string(),
            service_account_name: name.to_string(),
            service_account_uid: uid.to_string(),
            ..ServiceAccountClaims::default()
        }
    }

    /// The JWT payload; `jti` is the token's own ID, fresh for every token issued.
    fn to_payload(&self, jti: &str) -> Value {
        fn reference((name, uid): &(String, String)) -> Value {
            let mut map = Map::new();
            if !name.is_empty() {
                map.insert("name".into(), name.as_str().into());
            }
            if !uid.is_empty() {
                map.insert("uid".into(), uid.as_str().into());
            }
            Value::Object(map)
        }
        let mut private = Map::new();
        if !self.namespace.is_empty() {
            private.insert("namespace".into(), self.namespace.as_str().into());
        }
        if let Some(node) = &self.node {
            private.insert("node".into(), reference(node));
        }
        if let Some(pod) = &self.pod {
            private.insert("pod".into(), reference(pod));
        }
        private.insert(
            "serviceaccount".into(),
            reference(&(
                self.service_account_name.clone(),
                self.service_account_uid.clone(),
            )),
        );
        // Keys in the order go-jose writes them, which is sorted.
        let mut payload = Map::new();
        if !self.audiences.is_empty() {
            payload.insert("aud".into(), json!(self.audiences));
        }
        payload.insert("exp".into(), self.expires_at.into());
        payload.insert("iat".into(), self.issued_at.into());
        payload.insert("iss".into(), self.issuer.as_str().into());
        payload.insert("jti".into(), jti.into());
        payload.insert("kubernetes.io".into(), Value::Object(private));
        payload.insert("nbf".into(), self.not_before.into());
        payload.insert("sub".into(), self.subject.as_str().into());
        Value::Object(payload)
    }

    fn from_payload(payload: &Value) -> Result<Self, TokenError> {
        let text = |key: &str| payload[key].as_str().unwrap_or_default().to_string();
        let time = |key: &str| -> Result<u64, TokenError> {
            match &payload[key] {
                Value::Null => Ok(0),
                // NumericDate may carry a fraction; whole seconds are what matter here.
                value => value
                    .as_f64()
                    .filter(|t| *t >= 0.0)
                    .map(|t| t as u64)
                    .ok_or_else(|| TokenError::Malformed(format!("claim {key:?} is not a time"))),
            }
        };
        let audiences = match &payload["aud"] {
            Value::Null => Vec::new(),
            Value::String(one) => vec![one.clone()],
            Value::Array(many) => many
                .iter()
                .map(|a| a.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    TokenError::Malformed("claim \"aud\" is not a string list".into())
                })?,
            _ => {
                return Err(TokenError::Malformed(
                    "claim \"aud\" is not a string list".into(),
                ));
            }
        };
        let private = &payload["kubernetes.io"];
        let reference = |key: &str| -> Option<(String, String)> {
            let value = &private[key];
            value.is_object().then(|| {
                (
                    value["name"].as_str().unwrap_or_default().to_string(),
                    value["uid"].as_str().unwrap_or_default().to_string(),
                )
            })
        };
        let (service_account_name, service_account_uid) =
            reference("serviceaccount").unwrap_or_default();
        Ok(ServiceAccountClaims {
            issuer: text("iss"),
            subject: text("sub"),
            audiences,
            issued_at: time("iat")?,
            not_before: time("nbf")?,
            expires_at: time("exp")?,
            namespace: private["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            service_account_name,
            service_account_uid,
            pod: reference("pod"),
            node: reference("node"),
        })
    }
}

/// `system:serviceaccount:<namespace>:<name>`.
pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A random version-4 UUID, as Kubernetes puts in `jti`.
fn random_uuid() -> Result<String, TokenError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| TokenError::Sign("unable to read random bytes".into()))?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// Signs ServiceAccount tokens with one private key (kube-apiserver's
/// `--service-account-signing-key-file`) for one issuer (`--service-account-issuer`).
#[derive(Clone)]
pub struct TokenIssuer {
    key: Arc<SigningKey>,
    kid: String,
    issuer: String,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("issuer", &self.issuer)
            .field("alg", &self.key.algorithm().name())
            .field("kid", &self.kid)
            .finish()
    }
}

impl TokenIssuer {
    /// Reads the first private key in `pem`: RSA in PKCS#1 or PKCS#8, or ECDSA P-256 in SEC1 or PKCS#8.
    pub fn from_pem(pem: &[u8], issuer: &str) -> Result<Self, TokenError> {
        let key = keys::signing_key(pem)?;
        Ok(TokenIssuer {
            kid: key.public().kid,
            key: Arc::new(key),
            issuer: issuer.to_string(),
        })
    }

    /// The key ID put in every token's header.
    pub fn key_id(&self) -> &str {
        &self.kid
    }

    /// A signed token for `claims`, with this issuer's `iss` and a fresh random `jti`.
    pub fn issue(&self, claims: &ServiceAccountClaims) -> Result<String, TokenError> {
        let mut claims = claims.clone();
        claims.issuer = self.issuer.clone();
        let header = json!({ "alg": self.key.algorithm().name(), "kid": self.kid });
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_payload(&random_uuid()?).to_string().as_bytes())
        );
        let signature = self.key.sign(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", b64url(&signature)))
    }
}

/// Verifies ServiceAccount tokens (kube-apiserver's `--service-account-key-file`, `--service-account-issuer`
/// and `--api-audiences`).
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    keys: Vec<PublicKey>,
    issuers: Vec<String>,
    audiences: Vec<String>,
}

impl TokenVerifier {
    /// Public keys from PEM files holding public keys (`sa.pub`) or private keys (`sa.key`);
    /// tokens from any of `issuers`, for any of `audiences` (none: any audience).
    pub fn from_pems(
        pems: &[Vec<u8>],
        issuers: Vec<String>,
        audiences: Vec<String>,
    ) -> Result<Self, TokenError> {
        let mut keys = Vec::new();
        for pem in pems {
            keys.extend(keys::public_keys(pem)?);
        }
        if keys.is_empty() {
            return Err(TokenError::Key("no key files given".into()));
        }
        Ok(TokenVerifier {
            keys,
            issuers,
            audiences,
        })
    }

    /// The claims of a token that is signed by a configured key, from a trusted issuer, for a
    /// configured audience, and valid at `now_unix` (with a minute of leeway).
    pub fn verify(&self, token: &str, now_unix: u64) -> Result<ServiceAccountClaims, TokenError> {
        let parts: Vec<&str> = token.trim().split('.').collect();
        let [header_b64, payload_b64, signature_b64] = parts[..] else {
            return Err(TokenError::Malformed(
                "a JWT has three dot-separated parts".into(),
            ));
        };
        let decode = |part: &str, what: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|e| TokenError::Malformed(format!("{what} is not base64url: {e}")))
        };
        let parse = |bytes: Vec<u8>, what: &str| {
            serde_json::from_slice::<Value>(&bytes)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| TokenError::Malformed(format!("{what} is not a JSON object")))
        };
        let header = parse(decode(header_b64, "header")?, "header")?;
        let payload = parse(decode(payload_b64, "payload")?, "payload")?;
        let signature = decode(signature_b64, "signature")?;

        // Like kube-apiserver, look at the (unverified) issuer first, so that tokens meant for
        // another authenticator are told apart from forged ones.
        let issuer = payload["iss"].as_str().unwrap_or_default();
        if !self.issuers.iter().any(|i| i == issuer) {
            return Err(TokenError::Issuer(issuer.to_string()));
        }
        let alg = header["alg"].as_str().unwrap_or_default();
        let kid = header["kid"].as_str().unwrap_or_default();
        let candidates: Vec<&PublicKey> = self
            .keys
            .iter()
            .filter(|key| kid.is_empty() || key.kid == kid)
            .collect();
        if candidates.is_empty() {
            return Err(TokenError::Signature(format!(
                "no keys found for key ID {kid:?}"
            )));
        }
        let signing_input = &token.trim()[..header_b64.len() + 1 + payload_b64.len()];
        let verified = candidates.iter().any(|key| {
            key.algorithm.name() == alg && key.verify(signing_input.as_bytes(), &signature)
        });
        if !verified {
            return Err(TokenError::Signature(format!(
                "no configured key verifies this {alg} signature"
            )));
        }

        let claims = ServiceAccountClaims::from_payload(&payload)?;
        if !self.audiences.is_empty()
            && !claims.audiences.is_empty()
            && !claims.audiences.iter().any(|a| self.audiences.contains(a))
        {
            return Err(TokenError::Audience {
                token: claims.audiences,
                wanted: self.audiences.clone(),
            });
        }
        if payload.get("nbf").is_some() && now_unix + LEEWAY_SECONDS < claims.not_before {
            return Err(TokenError::NotYetValid);
        }
        if payload.get("exp").is_some() && now_unix > claims.expires_at + LEEWAY_SECONDS {
            return Err(TokenError::Expired);
        }
        if payload.get("iat").is_some() && now_unix + LEEWAY_SECONDS < claims.issued_at {
            return Err(TokenError::IssuedInTheFuture);
        }
        if claims.namespace.is_empty() || claims.service_account_name.is_empty() {
            return Err(TokenError::Claims(
                "the kubernetes.io claim must name a namespace and a service account".into(),
            ));
        }
        Ok(claims)
    }
}

/// The user a verified token authenticates: `system:serviceaccount:<ns>:<name>` in groups
/// `system:serviceaccounts` and `system:serviceaccounts:<ns>`, with the bound pod and node as extra
/// attributes, exactly as kube-apiserver builds it.
///
/// `system:authenticated` is not added here: the authentication chain adds it to every user it
/// authenticates (client certificates and bootstrap tokens too), as kube-apiserver's
/// authenticated-group adder does.
pub fn user_of(claims: &ServiceAccountClaims) -> UserInfo {
    let mut extra = BTreeMap::new();
    if let Some((name, uid)) = &claims.pod
        && !name.is_empty()
        && !uid.is_empty()
    {
        extra.insert(
            "authentication.kubernetes.io/pod-name".to_string(),
            vec![name.clone()],
        );
        extra.insert(
            "authentication.kubernetes.io/pod-uid".to_string(),
            vec![uid.clone()],
        );
    }
    // The node UID is optional; it is set only with the node name.
    if let Some((name, uid)) = &claims.node
        && !name.is_empty()
    {
        extra.insert(
            "authentication.kubernetes.io/node-name".to_string(),
            vec![name.clone()],
        );
        if !uid.is_empty() {
            extra.insert(
                "authentication.kubernetes.io/node-uid".to_string(),
                vec![uid.clone()],
            );
        }
    }
    UserInfo {
        name: service_account_username(&claims.namespace, &claims.service_account_name),
        uid: claims.service_account_uid.clone(),
        groups: vec![
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{}", claims.namespace),
        ],
        extra,
    }
}
