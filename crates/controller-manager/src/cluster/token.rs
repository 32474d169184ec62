//! The tokens controller ("serviceaccount-token"): Secrets of type
//! `kubernetes.io/service-account-token` naming a ServiceAccount (annotation
//! `kubernetes.io/service-account.name`) get `token`, `ca.crt` and `namespace`; Secrets whose
//! ServiceAccount is gone are deleted.
//!
//! Unlike kube, which signs never-expiring legacy tokens itself with the ServiceAccount key,
//! the token here comes from the TokenRequest API, with the longest lifetime the API server
//! grants (48 h); the controller requests a fresh one when a fifth of the lifetime is left. Such a
//! token stays valid until it expires even if the Secret is deleted. Like kube's, this controller
//! acts with the manager's own identity.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, DeleteParams, PostParams, Preconditions};

use super::{SyncError, SyncResult, TARGET};
use crate::cache::{Cache, Change};
use crate::context::Context;
use crate::queue::{ObjectKey, Queue};

const TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
const NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
const UID_ANNOTATION: &str = "kubernetes.io/service-account.uid";
/// The lifetime asked for; the API server caps TokenRequests at 48 h.
const LIFETIME: Duration = Duration::from_secs(48 * 3600);

/// What to do with one token Secret.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Decision {
    /// Not a token Secret for a ServiceAccount, or already complete and fresh.
    Nothing,
    /// Its ServiceAccount is gone (or was replaced): the Secret goes.
    Delete,
    /// Fill in (or refresh) the token, CA and namespace.
    Populate,
}

/// The ServiceAccount a token Secret names, if it is one.
pub(super) fn account_of(secret: &Secret) -> Option<&str> {
    if secret.type_.as_deref() != Some(TOKEN_TYPE) {
        return None;
    }
    secret
        .metadata
        .annotations
        .as_ref()?
        .get(NAME_ANNOTATION)
        .map(String::as_str)
        .filter(|n| !n.is_empty())
}

/// The decision for `secret`, given its ServiceAccount (`None`: it does not exist), the CA to
/// publish, and the token's expiry (`None`: unknown) at `now` (Unix seconds).
pub(super) fn decide(
    secret: &Secret,
    account: Option<&ServiceAccount>,
    ca: &str,
    expires: Option<i64>,
    now: i64,
) -> Decision {
    if account_of(secret).is_none() {
        return Decision::Nothing;
    }
    let Some(account) = account else {
        return Decision::Delete;
    };
    let named_uid = secret
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(UID_ANNOTATION))
        .filter(|u| !u.is_empty());
    if named_uid.is_some_and(|uid| Some(uid) != account.metadata.uid.as_ref()) {
        return Decision::Delete;
    }
    let data = secret.data.clone().unwrap_or_default();
    let has = |key: &str, want: Option<&[u8]>| {
        data.get(key)
            .is_some_and(|v| !v.0.is_empty() && want.is_none_or(|w| v.0 == w))
    };
    let namespace = secret.metadata.namespace.clone().unwrap_or_default();
    let complete = has("token", None)
        && has("namespace", Some(namespace.as_bytes()))
        && (ca.is_empty() || has("ca.crt", Some(ca.as_bytes())))
        && named_uid.is_some();
    let refresh_at = expires.map(|exp| exp - (LIFETIME.as_secs() as i64) / 5);
    if !complete || refresh_at.is_none_or(|at| now >= at) {
        Decision::Populate
    } else {
        Decision::Nothing
    }
}

/// The `exp` claim of a JWT (Unix seconds), read without verifying it: only to know when to
/// ask for a new one.
pub(super) fn expiry(token: &[u8]) -> Option<i64> {
    let token = std::str::from_utf8(token).ok()?;
    let payload = token.split('.').nth(1)?;
    let json = base64url(payload)?;
    serde_json::from_slice::<serde_json::Value>(&json).ok()?["exp"].as_i64()
}

/// Decodes unpadded base64url.
fn base64url(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes: Vec<u8> = text.bytes().filter(|b| *b != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= value(*c)? << (18 - 6 * i);
        }
        let produced = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return None,
        };
        out.extend_from_slice(&acc.to_be_bytes()[1..=produced]);
    }
    Some(out)
}

struct Controller {
    client: kube::Client,
    ca: String,
    secrets: Cache<Secret>,
    accounts: Cache<ServiceAccount>,
    queue: Arc<Queue>,
}

/// Runs the controller with `client`, the manager's own identity.
pub(super) async fn run(ctx: Context, client: kube::Client) {
    let secrets = ctx.informer::<Secret>();
    let accounts = ctx.informer::<ServiceAccount>();
    let queue = Queue::new();
    let mut tasks = tokio::task::JoinSet::new();
    {
        let queue = queue.clone();
        super::on_change(&mut tasks, secrets.subscribe(), move |change| {
            if let Change::Applied { new, .. } = change
                && account_of(&new).is_some()
            {
                queue.add(ObjectKey::of(new.as_ref()));
            }
        });
    }
    {
        // A ServiceAccount deleted takes its token Secrets with it.
        let (queue, cache) = (queue.clone(), secrets.cache());
        super::on_change(&mut tasks, accounts.subscribe(), move |change| {
            if let Change::Deleted(account) = change {
                let namespace = account.metadata.namespace.clone().unwrap_or_default();
                for secret in cache.list(&namespace) {
                    if account_of(&secret) == account.metadata.name.as_deref() {
                        queue.add(ObjectKey::of(secret.as_ref()));
                    }
                }
            }
        });
    }
    tokio::select! {
        () = async { secrets.synced().await; accounts.synced().await } => {}
        () = ctx.stopped() => return,
    }
    let controller = Arc::new(Controller {
        client,
        ca: ctx.settings().root_ca_pem.clone(),
        secrets: secrets.cache(),
        accounts: accounts.cache(),
        queue: queue.clone(),
    });
    super::spawn_workers(
        &mut tasks,
        &queue,
        ctx.settings().concurrent_syncs,
        "serviceaccount-token",
        move |key| {
            let controller = controller.clone();
            async move { controller.sync(&key).await }
        },
    );
    super::run_until_stopped(&ctx, "serviceaccount-token", tasks).await;
}

fn now_unix() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl Controller {
    async fn sync(&self, key: &ObjectKey) -> SyncResult {
        let Some(secret) = self.secrets.get(&key.namespace, &key.name) else {
            return Ok(());
        };
        let Some(name) = account_of(&secret).map(str::to_string) else {
            return Ok(());
        };
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &key.namespace);
        // The cache may not have a new ServiceAccount yet: ask before deleting anything.
        let account = match self.accounts.get(&key.namespace, &name) {
            Some(account) => Some(account.as_ref().clone()),
            None => accounts.get_opt(&name).await.map_err(|e| {
                SyncError::api(
                    format!("getting ServiceAccount {}/{name}", key.namespace),
                    e,
                )
            })?,
        };
        let token = secret.data.as_ref().and_then(|d| d.get("token"));
        let expires = token.and_then(|t| expiry(&t.0));
        let now = now_unix();
        match decide(&secret, account.as_ref(), &self.ca, expires, now) {
            Decision::Nothing => {
                if let Some(exp) = expires {
                    self.refresh_later(key, exp, now);
                }
                Ok(())
            }
            Decision::Delete => self.delete(key, &secret).await,
            Decision::Populate => {
                let account = account.expect("populate needs the account");
                self.populate(key, &secret, &account).await
            }
        }
    }

    fn refresh_later(&self, key: &ObjectKey, expires: i64, now: i64) {
        let at = expires - (LIFETIME.as_secs() as i64) / 5;
        let wait = Duration::from_secs((at - now).max(1) as u64);
        self.queue.add_after(key.clone(), wait);
    }

    async fn delete(&self, key: &ObjectKey, secret: &Secret) -> SyncResult {
        tracing::info!(target: TARGET, "deleting token secret {key}: its ServiceAccount is gone");
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &key.namespace);
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: secret.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&key.name, &params).await {
            Ok(_) => Ok(()),
            Err(e) if super::is_not_found(&e) || super::is_conflict(&e) => Ok(()),
            Err(e) => Err(SyncError::api(format!("deleting token secret {key}"), e)),
        }
    }

    async fn populate(
        &self,
        key: &ObjectKey,
        secret: &Secret,
        account: &ServiceAccount,
    ) -> SyncResult {
        let name = account.metadata.name.clone().unwrap_or_default();
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &key.namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec {
                expiration_seconds: Some(LIFETIME.as_secs() as i64),
                ..TokenRequestSpec::default()
            },
            ..TokenRequest::default()
        };
        let issued: TokenRequest = accounts
            .create_subresource("token", &name, &PostParams::default(), &request)
            .await
            .map_err(|e| {
                SyncError::api(
                    format!("requesting a token for {}/{name}", key.namespace),
                    e,
                )
            })?;
        let token = issued.status.map(|s| s.token).unwrap_or_default();
        if token.is_empty() {
            return Err(SyncError::NotYet(format!(
                "no token issued for {}/{name}",
                key.namespace
            )));
        }
        let mut updated = secret.clone();
        let data = updated.data.get_or_insert_with(BTreeMap::new);
        data.insert("token".into(), ByteString(token.clone().into_bytes()));
        data.insert(
            "namespace".into(),
            ByteString(key.namespace.clone().into_bytes()),
        );
        if !self.ca.is_empty() {
            data.insert("ca.crt".into(), ByteString(self.ca.clone().into_bytes()));
        }
        updated
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(
                UID_ANNOTATION.into(),
                account.metadata.uid.clone().unwrap_or_default(),
            );
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &key.namespace);
        match api
            .replace(&key.name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => {
                if let Some(exp) = expiry(token.as_bytes()) {
                    self.refresh_later(key, exp, now_unix());
                }
                Ok(())
            }
            Err(e) if super::is_not_found(&e) => Ok(()),
            Err(e) if super::is_conflict(&e) => Err(SyncError::NotYet(format!(
                "token secret {key} changed meanwhile"
            ))),
            Err(e) => Err(SyncError::api(format!("updating token secret {key}"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn secret(annotations: &[(&str, &str)], data: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some("build-robot-token".into()),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            type_: Some(TOKEN_TYPE.into()),
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        }
    }

    fn account(uid: &str) -> ServiceAccount {
        ServiceAccount {
            metadata: ObjectMeta {
                name: Some("build-robot".into()),
                namespace: Some("ns".into()),
                uid: Some(uid.into()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        }
    }

    #[test]
    fn decisions() {
        let named = [(NAME_ANNOTATION, "build-robot")];
        let full = [(NAME_ANNOTATION, "build-robot"), (UID_ANNOTATION, "u1")];
        let filled = [("token", "t"), ("namespace", "ns"), ("ca.crt", "CA")];
        let hour = 3600;
        let cases = [
            (
                "not a token secret",
                secret(&[], &[]),
                Some(account("u1")),
                None,
                Decision::Nothing,
            ),
            (
                "account gone",
                secret(&named, &[]),
                None,
                None,
                Decision::Delete,
            ),
            (
                "account replaced",
                secret(&full, &filled),
                Some(account("u2")),
                Some(48 * hour),
                Decision::Delete,
            ),
            (
                "empty",
                secret(&named, &[]),
                Some(account("u1")),
                None,
                Decision::Populate,
            ),
            (
                "complete and fresh",
                secret(&full, &filled),
                Some(account("u1")),
                Some(48 * hour),
                Decision::Nothing,
            ),
            (
                "expiring",
                secret(&full, &filled),
                Some(account("u1")),
                Some(9 * hour),
                Decision::Populate,
            ),
            (
                "another CA",
                secret(
                    &full,
                    &[("token", "t"), ("namespace", "ns"), ("ca.crt", "old")],
                ),
                Some(account("u1")),
                Some(48 * hour),
                Decision::Populate,
            ),
        ];
        for (name, secret, account, expires, expected) in cases {
            assert_eq!(
                decide(&secret, account.as_ref(), "CA", expires, 0),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn reads_the_expiry_of_a_jwt() {
        // {"alg":"none"} . {"exp":1700000000,"sub":"x"} . (no signature)
        let token = "eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDAsInN1YiI6IngifQ.";
        assert_eq!(expiry(token.as_bytes()), Some(1_700_000_000));
        assert_eq!(expiry(b"not-a-jwt"), None);
        assert_eq!(base64url("aGk"), Some(b"hi".to_vec()));
    }
}
