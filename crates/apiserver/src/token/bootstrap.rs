//! Bootstrap tokens: `<id>.<secret>` bearer tokens checked against `bootstrap-token-<id>` Secrets
//! in kube-system, as kube-apiserver's bootstrap token authenticator does.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

use super::TokenError;
use crate::user::UserInfo;

/// The Secret type a bootstrap token Secret must have.
pub const BOOTSTRAP_TOKEN_SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";

const KEY_ID: &str = "token-id";
const KEY_SECRET: &str = "token-secret";
const KEY_EXPIRATION: &str = "expiration";
const KEY_USAGE_AUTHENTICATION: &str = "usage-bootstrap-authentication";
const KEY_EXTRA_GROUPS: &str = "auth-extra-groups";
const DEFAULT_GROUP: &str = "system:bootstrappers";
const USER_PREFIX: &str = "system:bootstrap:";

/// Splits a token of the form `[a-z0-9]{6}.[a-z0-9]{16}` into (id, secret).
pub fn parse_bootstrap_token(token: &str) -> Option<(String, String)> {
    let (id, secret) = token.split_once('.')?;
    let valid = |part: &str, len: usize| {
        part.len() == len
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    (valid(id, 6) && valid(secret, 16)).then(|| (id.to_string(), secret.to_string()))
}

/// The user a bootstrap token authenticates, from the decoded `data` of Secret
/// `kube-system/bootstrap-token-<id>`: `system:bootstrap:<id>` in `system:bootstrappers` and the
/// Secret's `auth-extra-groups`, sorted and without duplicates.
///
/// The caller checks the Secret's type is [`BOOTSTRAP_TOKEN_SECRET_TYPE`] and that it is not
/// being deleted, or uses [`bootstrap_user_from_secret`], which does. `system:authenticated` is
/// added by the authentication chain, not here.
pub fn bootstrap_user(
    secret_data: &BTreeMap<String, Vec<u8>>,
    id: &str,
    secret: &str,
    now_unix: u64,
) -> Result<UserInfo, TokenError> {
    let get = |key: &str| {
        secret_data
            .get(key)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };
    let fail = |why: String| {
        Err(TokenError::Bootstrap(format!(
            "bootstrap-token-{id}: {why}"
        )))
    };
    if !constant_time_eq(get(KEY_SECRET).as_bytes(), secret.as_bytes()) {
        return fail(format!("has invalid value for key {KEY_SECRET}"));
    }
    if get(KEY_ID) != id {
        return fail(format!("has invalid value for key {KEY_ID}"));
    }
    let expiration = get(KEY_EXPIRATION);
    if !expiration.is_empty() {
        match parse_rfc3339(&expiration) {
            None => return fail(format!("has unparseable expiration time {expiration:?}")),
            Some(expires) if i128::from(now_unix) >= i128::from(expires) => {
                return fail(format!("expired at {expiration}"));
            }
            Some(_) => {}
        }
    }
    if get(KEY_USAGE_AUTHENTICATION) != "true" {
        return fail(format!("not marked {KEY_USAGE_AUTHENTICATION}=true"));
    }
    let mut groups = vec![DEFAULT_GROUP.to_string()];
    let extra = get(KEY_EXTRA_GROUPS);
    if !extra.is_empty() {
        for group in extra.split(',') {
            if !valid_bootstrap_group(group) {
                return fail(format!(
                    "has invalid value for key {KEY_EXTRA_GROUPS}: bootstrap group {group:?} is invalid (must match \\Asystem:bootstrappers:[a-z0-9:-]{{0,255}}[a-z0-9]\\z)"
                ));
            }
            groups.push(group.to_string());
        }
    }
    groups.sort();
    groups.dedup();
    Ok(UserInfo {
        name: format!("{USER_PREFIX}{id}"),
        groups,
        ..UserInfo::default()
    })
}

/// [`bootstrap_user`] for a Secret object as stored (JSON, `data` base64-encoded): also checks its
/// name, type and that it is not being deleted.
pub fn bootstrap_user_from_secret(
    secret_object: &Value,
    id: &str,
    secret: &str,
    now_unix: u64,
) -> Result<UserInfo, TokenError> {
    let name = secret_object["metadata"]["name"]
        .as_str()
        .unwrap_or_default();
    let fail = |why: &str| Err(TokenError::Bootstrap(format!("secret {name:?}: {why}")));
    if name != format!("bootstrap-token-{id}") {
        return fail("is not the bootstrap token secret for this token ID");
    }
    if !secret_object["metadata"]["deletionTimestamp"].is_null() {
        return fail("is deleted and awaiting removal");
    }
    if secret_object["type"].as_str() != Some(BOOTSTRAP_TOKEN_SECRET_TYPE) {
        return fail(&format!(
            "has invalid type, expected {BOOTSTRAP_TOKEN_SECRET_TYPE}"
        ));
    }
    let Some(data) = secret_object["data"].as_object() else {
        return fail("has no data");
    };
    let mut decoded = BTreeMap::new();
    for (key, value) in data {
        let bytes = value
            .as_str()
            .and_then(|text| base64::engine::general_purpose::STANDARD.decode(text).ok());
        let Some(bytes) = bytes else {
            return fail(&format!("data key {key:?} is not base64"));
        };
        decoded.insert(key.clone(), bytes);
    }
    bootstrap_user(&decoded, id, secret, now_unix)
}

fn valid_bootstrap_group(group: &str) -> bool {
    let Some(rest) = group.strip_prefix("system:bootstrappers:") else {
        return false;
    };
    let Some(last) = rest.bytes().last() else {
        return false;
    };
    rest.len() <= 256
        && (last.is_ascii_lowercase() || last.is_ascii_digit())
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-')
}

/// Compares without stopping at the first difference, so timing does not leak the secret.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Unix seconds of an RFC 3339 time such as `2024-05-01T12:00:00Z` or
/// `2024-05-01T14:00:00.5+02:00`; `None` when it is not one.
pub(super) fn parse_rfc3339(text: &str) -> Option<i64> {
    text.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}
