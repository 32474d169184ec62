//! Objects in etcd, the way kube-apiserver keeps them: JSON under `/registry/...`, optimistic
//! concurrency with Txns on mod_revision, resourceVersion = etcd revision, paged lists with
//! continue tokens, watches from any uncompacted revision, and encryption at rest.

use std::sync::Arc;

use apimachinery::{ApiError, ResourceInfo};
use base64::Engine;
use etcd_api::etcdserverpb::{
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, TxnResponse,
    WatchCreateRequest, WatchProgressRequest, WatchRequest, compare, request_op, response_op,
    watch_request,
};
use etcd_api::mvccpb;
use futures::Stream;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::encryption::Encryption;
use crate::etcd::Etcd;

/// The store of every API object.
#[derive(Debug, Clone)]
pub struct Storage {
    etcd: Etcd,
    encryption: Arc<Encryption>,
}

/// How a list reads: page size, where to continue, and at which revision.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Most items to return; 0 means all.
    pub limit: i64,
    pub continue_token: Option<String>,
    /// Read at exactly this revision (`resourceVersionMatch=Exact`); otherwise the newest.
    pub revision: Option<i64>,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<Value>,
    pub revision: i64,
    pub continue_token: Option<String>,
    pub remaining: Option<i64>,
}

/// What a watch delivers.
#[derive(Debug, Clone)]
pub enum WatchItem {
    /// An object was written (`prev` is the object before, if any) or deleted (`object` is the
    /// last state, with the delete's revision as its resourceVersion).
    Put {
        object: Value,
        prev: Option<Value>,
    },
    Deleted {
        object: Value,
    },
    /// Everything up to this revision has been delivered.
    Progress(i64),
    /// The watch cannot go on: a compacted start revision or a store failure.
    Failed(ApiError),
}

/// A key whose revision must not have moved since it was read, and which the guarded write
/// bumps: writes that decide from shared state (which Service addresses are free) are
/// serialized this way, even across API servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    pub key: String,
    pub revision: i64,
}

/// Why a guarded create lost: someone else decided from the same state first.
pub const GUARD_MOVED: &str =
    "the state this write was decided from changed meanwhile; please try again";

/// The key range `[key, range_end)` holding every key that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// Maps an etcd error to the Status kube-apiserver answers with.
pub fn store_error(status: tonic::Status) -> ApiError {
    let message = status.message().to_string();
    if message.contains("required revision has been compacted") {
        return ApiError::gone(format!("too old resource version: {message}"));
    }
    if message.contains("request is too large") {
        return ApiError::too_large(1_572_864);
    }
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            ApiError::unavailable(format!("etcd is not reachable: {message}"))
        }
        _ => ApiError::internal(message),
    }
}

/// The continue token: kube's layout, base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key suffix>"}`.
fn encode_continue(revision: i64, start: &str) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": revision, "start": start});
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(i64, String), ApiError> {
    let bad = || {
        ApiError::bad_request("continue key is not valid: the continue token could not be decoded")
    };
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let revision = value["rv"].as_i64().ok_or_else(bad)?;
    let start = value["start"].as_str().ok_or_else(bad)?;
    if start.contains("..") || start.starts_with('/') {
        return Err(bad());
    }
    Ok((revision, start.to_string()))
}

impl Storage {
    pub fn new(etcd: Etcd, encryption: Arc<Encryption>) -> Self {
        Storage { etcd, encryption }
    }

    pub fn etcd(&self) -> &Etcd {
        &self.etcd
    }

    /// The object as stored: resourceVersion dropped (the revision is its version), encrypted
    /// when the resource is configured for it.
    fn encode(&self, info: &ResourceInfo, key: &str, object: &Value) -> Result<Vec<u8>, ApiError> {
        let mut object = object.clone();
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
        }
        let plain = serde_json::to_vec(&object).map_err(ApiError::internal)?;
        let resource = info.qualified_plural();
        if self.encryption.encrypts(&resource) {
            self.encryption
                .encrypt(&resource, key.as_bytes(), &plain)
                .map_err(|e| ApiError::internal(format!("encrypting {resource}: {e}")))
        } else {
            Ok(plain)
        }
    }

    /// A stored value as an object, with its resourceVersion, and whether it should be rewritten
    /// with the current encryption key.
    fn decode(
        &self,
        info: &ResourceInfo,
        kv: &mvccpb::KeyValue,
        revision: i64,
    ) -> Result<(Value, bool), ApiError> {
        let resource = info.qualified_plural();
        let (plain, stale) = self
            .encryption
            .decrypt(&resource, &kv.key, &kv.value)
            .map_err(|e| {
                ApiError::internal(format!(
                    "decrypting {}: {e}",
                    String::from_utf8_lossy(&kv.key)
                ))
            })?;
        let mut object: Value = serde_json::from_slice(&plain).map_err(|e| {
            ApiError::internal(format!(
                "object at {} is not JSON: {e}",
                String::from_utf8_lossy(&kv.key)
            ))
        })?;
        set_resource_version(&mut object, revision);
        Ok((object, stale))
    }

    /// Reads one object; `None` if it does not exist.
    pub async fn get(&self, info: &ResourceInfo, key: &str) -> Result<Option<Value>, ApiError> {
        let response = self
            .etcd
            .kv
            .clone()
            .range(RangeRequest {
                key: key.as_bytes().to_vec(),
                ..Default::default()
            })
            .await
            .map_err(store_error)?
            .into_inner();
        let Some(kv) = response.kvs.first() else {
            return Ok(None);
        };
        let (object, stale) = self.decode(info, kv, kv.mod_revision)?;
        if stale {
            self.rewrite(info, key, &object, kv.mod_revision).await;
        }
        Ok(Some(object))
    }

    /// Writes an object again under the current encryption key, if nobody changed it meanwhile.
    /// Best effort: a lost race means someone else already wrote it anew.
    async fn rewrite(&self, info: &ResourceInfo, key: &str, object: &Value, revision: i64) {
        if let Err(e) = self.update(info, key, object, revision).await {
            tracing::debug!(key, error = %e, "re-encrypting a stored value lost a race");
        }
    }

    /// Lists objects under `prefix` that pass `keep`, one page at a time.
    pub async fn list(
        &self,
        info: &ResourceInfo,
        prefix: &str,
        options: &ListOptions,
        keep: &(dyn Fn(&Value) -> bool + Sync),
    ) -> Result<ListPage, ApiError> {
        let (mut revision, mut start) = match &options.continue_token {
            Some(token) => {
                let (revision, start) = decode_continue(token)?;
                (revision, format!("{prefix}{start}"))
            }
            None => (options.revision.unwrap_or(0), prefix.to_string()),
        };
        let end = prefix_end(prefix.as_bytes());
        let mut items = Vec::new();
        let mut stale_values = Vec::new();
        loop {
            let want = if options.limit > 0 {
                options.limit - items.len() as i64
            } else {
                0
            };
            let response = self
                .etcd
                .kv
                .clone()
                .range(RangeRequest {
                    key: start.as_bytes().to_vec(),
                    range_end: end.clone(),
                    limit: want,
                    revision,
                    ..Default::default()
                })
                .await
                .map_err(|status| {
                    let err = store_error(status);
                    if err.code == 410 && options.continue_token.is_some() {
                        ApiError::gone("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
                    } else {
                        err
                    }
                })?
                .into_inner();
            if revision == 0 {
                revision = response.header.as_ref().map_or(0, |h| h.revision);
            }
            let mut last_key = None;
            for kv in &response.kvs {
                let (object, stale) = self.decode(info, kv, kv.mod_revision)?;
                if stale && options.revision.is_none() {
                    stale_values.push((
                        String::from_utf8_lossy(&kv.key).into_owned(),
                        object.clone(),
                        kv.mod_revision,
                    ));
                }
                if keep(&object) {
                    items.push(object);
                }
                last_key = Some(kv.key.clone());
            }
            let full = options.limit > 0 && items.len() as i64 >= options.limit;
            match last_key {
                Some(last) if response.more => {
                    let mut next = last;
                    next.push(0);
                    start = String::from_utf8_lossy(&next).into_owned();
                    if full {
                        let remaining = if items.len() as i64 == response.kvs.len() as i64 {
                            Some(response.count - response.kvs.len() as i64)
                        } else {
                            None
                        };
                        let token = encode_continue(revision, &start[prefix.len()..]);
                        self.rewrite_all(info, stale_values).await;
                        return Ok(ListPage {
                            items,
                            revision,
                            continue_token: Some(token),
                            remaining,
                        });
                    }
                }
                _ => {
                    self.rewrite_all(info, stale_values).await;
                    return Ok(ListPage {
                        items,
                        revision,
                        continue_token: None,
                        remaining: None,
                    });
                }
            }
        }
    }

    async fn rewrite_all(&self, info: &ResourceInfo, stale: Vec<(String, Value, i64)>) {
        for (key, object, revision) in stale {
            self.rewrite(info, &key, &object, revision).await;
        }
    }

    /// Reads a guard key's revision (0 while it does not exist), before reading the state that
    /// a guarded write decides on.
    pub async fn guard(&self, key: &str) -> Result<Guard, ApiError> {
        let response = self
            .etcd
            .kv
            .clone()
            .range(RangeRequest {
                key: key.as_bytes().to_vec(),
                keys_only: true,
                ..Default::default()
            })
            .await
            .map_err(store_error)?
            .into_inner();
        let revision = response.kvs.first().map_or(0, |kv| kv.mod_revision);
        Ok(Guard {
            key: key.to_string(),
            revision,
        })
    }

    /// Runs one Txn; with a guard, it also requires the guard unmoved and bumps it.
    async fn commit(
        &self,
        mut txn: TxnRequest,
        guard: Option<&Guard>,
    ) -> Result<TxnResponse, ApiError> {
        if let Some(guard) = guard {
            txn.compare
                .push(mod_revision_is(&guard.key, guard.revision));
            txn.success.push(put(&guard.key, Vec::new()));
        }
        Ok(self
            .etcd
            .kv
            .clone()
            .txn(txn)
            .await
            .map_err(store_error)?
            .into_inner())
    }

    /// Creates an object; AlreadyExists if the key is taken. Returns it with its resourceVersion.
    pub async fn create(
        &self,
        info: &ResourceInfo,
        key: &str,
        object: &Value,
    ) -> Result<Value, ApiError> {
        self.create_guarded(info, key, object, None).await
    }

    /// Creates an object if, besides its key being free, the guard has not moved; a moved guard
    /// is a 409 Conflict the caller may retry after deciding again.
    pub async fn create_guarded(
        &self,
        info: &ResourceInfo,
        key: &str,
        object: &Value,
        guard: Option<&Guard>,
    ) -> Result<Value, ApiError> {
        let value = self.encode(info, key, object)?;
        let txn = TxnRequest {
            compare: vec![Compare {
                result: compare::CompareResult::Equal as i32,
                target: compare::CompareTarget::Create as i32,
                key: key.as_bytes().to_vec(),
                target_union: Some(compare::TargetUnion::CreateRevision(0)),
                ..Default::default()
            }],
            success: vec![put(key, value)],
            failure: vec![],
        };
        let response = self.commit(txn, guard).await?;
        if !response.succeeded {
            let name = key.rsplit('/').next().unwrap_or_default();
            if guard.is_some() && self.get(info, key).await?.is_none() {
                return Err(ApiError::conflict(
                    info.group,
                    info.plural,
                    name,
                    GUARD_MOVED,
                ));
            }
            return Err(ApiError::already_exists(info.group, info.plural, name));
        }
        let mut object = object.clone();
        set_resource_version(&mut object, response.header.map_or(0, |h| h.revision));
        Ok(object)
    }

    /// Replaces an object if it is still at `revision`. `Ok(None)` means someone changed or
    /// deleted it first: the caller decides between Conflict and a retry.
    pub async fn update(
        &self,
        info: &ResourceInfo,
        key: &str,
        object: &Value,
        revision: i64,
    ) -> Result<Option<Value>, ApiError> {
        self.update_guarded(info, key, object, revision, None).await
    }

    /// `update`, also guarded: `Ok(None)` when the object or the guard moved.
    pub async fn update_guarded(
        &self,
        info: &ResourceInfo,
        key: &str,
        object: &Value,
        revision: i64,
        guard: Option<&Guard>,
    ) -> Result<Option<Value>, ApiError> {
        let value = self.encode(info, key, object)?;
        let txn = TxnRequest {
            compare: vec![mod_revision_is(key, revision)],
            success: vec![put(key, value)],
            failure: vec![],
        };
        let response = self.commit(txn, guard).await?;
        if !response.succeeded {
            return Ok(None);
        }
        let mut object = object.clone();
        set_resource_version(&mut object, response.header.map_or(0, |h| h.revision));
        Ok(Some(object))
    }

    /// Deletes an object if it is still at `revision`; `Ok(false)` if it changed first.
    pub async fn delete(&self, key: &str, revision: i64) -> Result<Option<i64>, ApiError> {
        let txn = TxnRequest {
            compare: vec![mod_revision_is(key, revision)],
            success: vec![RequestOp {
                request: Some(request_op::Request::RequestDeleteRange(
                    DeleteRangeRequest {
                        key: key.as_bytes().to_vec(),
                        ..Default::default()
                    },
                )),
            }],
            failure: vec![],
        };
        let response = self.commit(txn, None).await?;
        if !response.succeeded {
            return Ok(None);
        }
        let deleted = response.responses.iter().any(|r| {
            matches!(&r.response, Some(response_op::Response::ResponseDeleteRange(d)) if d.deleted > 0)
        });
        Ok(deleted.then(|| response.header.map_or(0, |h| h.revision)))
    }

    /// The store's current revision.
    pub async fn revision(&self) -> Result<i64, ApiError> {
        let response = self
            .etcd
            .kv
            .clone()
            .range(RangeRequest {
                key: b"/registry/health".to_vec(),
                count_only: true,
                ..Default::default()
            })
            .await
            .map_err(store_error)?
            .into_inner();
        Ok(response.header.map_or(0, |h| h.revision))
    }

    /// Watches every key under `prefix` from revision `from` (inclusive). Events come decoded;
    /// a `Progress` comes whenever the store confirms nothing more happened (asked for with
    /// `progress_every`), which the watch handler turns into bookmarks.
    pub async fn watch(
        &self,
        info: &'static ResourceInfo,
        prefix: &str,
        from: i64,
        progress_every: std::time::Duration,
    ) -> Result<impl Stream<Item = WatchItem> + use<>, ApiError> {
        let (requests, request_stream) = mpsc::channel::<WatchRequest>(4);
        let create = WatchRequest {
            request_union: Some(watch_request::RequestUnion::CreateRequest(
                WatchCreateRequest {
                    key: prefix.as_bytes().to_vec(),
                    range_end: prefix_end(prefix.as_bytes()),
                    start_revision: from,
                    prev_kv: true,
                    ..Default::default()
                },
            )),
        };
        requests
            .send(create)
            .await
            .map_err(|_| ApiError::internal("watch stream closed"))?;
        let mut responses = self
            .etcd
            .watch
            .clone()
            .watch(tokio_stream::wrappers::ReceiverStream::new(request_stream))
            .await
            .map_err(store_error)?
            .into_inner();
        let (items, item_stream) = mpsc::channel::<WatchItem>(256);
        let storage = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(progress_every);
            ticker.tick().await;
            loop {
                tokio::select! {
                    _ = items.closed() => return,
                    _ = ticker.tick() => {
                        let ask = WatchRequest {
                            request_union: Some(watch_request::RequestUnion::ProgressRequest(WatchProgressRequest {})),
                        };
                        if requests.send(ask).await.is_err() { return; }
                    }
                    message = responses.message() => {
                        let response = match message {
                            Ok(Some(response)) => response,
                            Ok(None) => {
                                let _ = items.send(WatchItem::Failed(ApiError::unavailable("the etcd watch ended"))).await;
                                return;
                            }
                            Err(status) => {
                                let _ = items.send(WatchItem::Failed(store_error(status))).await;
                                return;
                            }
                        };
                        if response.compact_revision > 0 {
                            let message = format!("too old resource version: {} ({})", from - 1, response.compact_revision);
                            let _ = items.send(WatchItem::Failed(ApiError::gone(message))).await;
                            return;
                        }
                        if response.canceled {
                            let reason = if response.cancel_reason.is_empty() { "the etcd watch was canceled".to_string() } else { response.cancel_reason };
                            let _ = items.send(WatchItem::Failed(ApiError::internal(reason))).await;
                            return;
                        }
                        if response.events.is_empty() {
                            if !response.created {
                                let revision = response.header.map_or(0, |h| h.revision);
                                if items.send(WatchItem::Progress(revision)).await.is_err() { return; }
                            }
                            continue;
                        }
                        for event in response.events {
                            let item = match storage.watch_item(info, event) {
                                Ok(item) => item,
                                Err(e) => WatchItem::Failed(e),
                            };
                            if items.send(item).await.is_err() { return; }
                        }
                    }
                }
            }
        });
        Ok(tokio_stream::wrappers::ReceiverStream::new(item_stream))
    }

    fn watch_item(&self, info: &ResourceInfo, event: mvccpb::Event) -> Result<WatchItem, ApiError> {
        let kv = event.kv.unwrap_or_default();
        let prev = match &event.prev_kv {
            Some(prev) => Some(self.decode(info, prev, prev.mod_revision)?.0),
            None => None,
        };
        if event.r#type == mvccpb::event::EventType::Delete as i32 {
            let Some(mut object) = prev else {
                return Err(ApiError::internal(format!(
                    "etcd sent a delete of {} without its previous value",
                    String::from_utf8_lossy(&kv.key)
                )));
            };
            set_resource_version(&mut object, kv.mod_revision);
            return Ok(WatchItem::Deleted { object });
        }
        let (object, _) = self.decode(info, &kv, kv.mod_revision)?;
        Ok(WatchItem::Put { object, prev })
    }
}

fn put(key: &str, value: Vec<u8>) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: key.as_bytes().to_vec(),
            value,
            ..Default::default()
        })),
    }
}

fn mod_revision_is(key: &str, revision: i64) -> Compare {
    Compare {
        result: compare::CompareResult::Equal as i32,
        target: compare::CompareTarget::Mod as i32,
        key: key.as_bytes().to_vec(),
        target_union: Some(compare::TargetUnion::ModRevision(revision)),
        ..Default::default()
    }
}

/// Sets `metadata.resourceVersion` to the revision, as a string (Kubernetes' form).
pub fn set_resource_version(object: &mut Value, revision: i64) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert(
            "resourceVersion".into(),
            Value::String(revision.to_string()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"/registry/pods/"), b"/registry/pods0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }

    #[test]
    fn continue_tokens_round_trip_and_reject_junk() {
        let token = encode_continue(42, "web-2\u{0}");
        assert_eq!(
            decode_continue(&token).unwrap(),
            (42, "web-2\u{0}".to_string())
        );
        for junk in [
            "%%%",
            "e30=",
            &base64::engine::general_purpose::URL_SAFE.encode(r#"{"rv":1,"start":"../x"}"#),
        ] {
            assert_eq!(decode_continue(junk).unwrap_err().code, 400, "{junk}");
        }
    }
}
