//! Watches: a stream of JSON watch events (`{"type":"ADDED","object":...}` per line) from any
//! uncompacted resourceVersion, filtered by selectors, with bookmarks on request and Tables for
//! `kubectl get -w`.

use std::time::{Duration, SystemTime};

use apimachinery::{ApiError, ResourceInfo, table};
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Response, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};

use super::Call;
use super::objects::{Selectors, prefix_of, with_type};
use super::response::{Body, Shape, shape};
use crate::request::ResourceRequest;
use crate::storage::{ListOptions, WatchItem};

/// How often the store is asked to confirm progress (which becomes a bookmark).
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// kube-apiserver ends watches after a random time between its minimum request timeout (30
/// minutes) and twice that, so clients re-list now and then; we use the minimum.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// How one stored change shows to a filtered watcher, as kube-apiserver decides it: an object
/// that starts matching is ADDED, one that stops matching is DELETED.
pub fn event_type(prev_matches: Option<bool>, now_matches: bool) -> Option<&'static str> {
    match (prev_matches, now_matches) {
        (None, true) => Some("ADDED"),
        (Some(false), true) => Some("ADDED"),
        (Some(true), true) => Some("MODIFIED"),
        (Some(true), false) => Some("DELETED"),
        (Some(false) | None, false) => None,
    }
}

struct Encoder {
    info: &'static ResourceInfo,
    shape: Shape,
    first_table: bool,
    include_object: String,
}

impl Encoder {
    fn event(&mut self, kind: &str, mut object: Value) -> Bytes {
        with_type(self.info, &mut object);
        let object = match self.shape {
            Shape::Object => object,
            Shape::PartialMetadata => super::response::partial_metadata(&object),
            Shape::Table => {
                let meta = json!({"resourceVersion": object["metadata"]["resourceVersion"]});
                let mut table = table::table(
                    self.info.group,
                    self.info.plural,
                    &[object],
                    meta,
                    &self.include_object,
                    SystemTime::now(),
                );
                // Only the first event carries the column definitions, as kube-apiserver sends them.
                if !self.first_table {
                    table["columnDefinitions"] = json!([]);
                }
                self.first_table = false;
                table
            }
        };
        line(&json!({"type": kind, "object": object}))
    }

    fn bookmark(&self, revision: i64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({"kind": self.info.kind, "apiVersion": self.info.api_version(), "metadata": metadata});
        line(&json!({"type": "BOOKMARK", "object": object}))
    }
}

fn line(value: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

fn error_line(err: &ApiError) -> Bytes {
    line(&json!({"type": "ERROR", "object": err.to_status()}))
}

pub async fn watch(call: Call, request: ResourceRequest) -> Result<Response<Body>, ApiError> {
    let info = request.info;
    let selectors = Selectors::parse(&call, info)?;
    let mut encoder = Encoder {
        info,
        shape: shape(&call.accept)?,
        first_table: true,
        include_object: if call.query.include_object.is_empty() {
            "Metadata".into()
        } else {
            call.query.include_object.clone()
        },
    };
    let prefix = if request.name.is_empty() {
        prefix_of(&request)
    } else {
        crate::handler::objects::key_of(&request)
    };
    let storage = call.server.storage.clone();
    // With no resourceVersion (or "0") a watch starts with the current state as ADDED events,
    // then follows changes from the revision of that list.
    let requested = call.query.revision()?.filter(|rv| *rv > 0);
    let mut initial = Vec::new();
    let start = match requested {
        Some(rv) => rv,
        None => {
            let page = storage
                .list(info, &prefix, &ListOptions::default(), &|object| {
                    selectors.matches(info, object)
                        && (request.name.is_empty()
                            || object["metadata"]["name"] == request.name.as_str())
                })
                .await?;
            for object in page.items {
                initial.push(encoder.event("ADDED", object));
            }
            page.revision
        }
    };
    let bookmarks = call.query.allow_watch_bookmarks;
    if requested.is_none() && call.query.send_initial_events && bookmarks {
        initial.push(encoder.bookmark(start, true));
    }
    let timeout = call
        .query
        .timeout_seconds
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    let items = storage
        .watch(info, &prefix, start + 1, PROGRESS_EVERY)
        .await?;
    let exact_name = request.name.clone();
    let events = items
        .take_until(tokio::time::sleep(timeout))
        .scan(false, move |failed, item| {
            if *failed {
                return futures::future::ready(None);
            }
            let matches = |object: &Value| {
                selectors.matches(info, object)
                    && (exact_name.is_empty() || object["metadata"]["name"] == exact_name.as_str())
            };
            let bytes = match item {
                WatchItem::Put { object, prev } => {
                    let prev_matches = prev.as_ref().map(&matches);
                    match event_type(prev_matches, matches(&object)) {
                        Some("DELETED") => {
                            // It left the selection: show its new state as the deletion.
                            Some(encoder.event("DELETED", object))
                        }
                        Some(kind) => Some(encoder.event(kind, object)),
                        None => None,
                    }
                }
                WatchItem::Deleted { object } => {
                    matches(&object).then(|| encoder.event("DELETED", object))
                }
                WatchItem::Progress(revision) => {
                    bookmarks.then(|| encoder.bookmark(revision, false))
                }
                WatchItem::Failed(err) => {
                    *failed = true;
                    Some(error_line(&err))
                }
            };
            futures::future::ready(Some(bytes))
        })
        .filter_map(futures::future::ready);
    let stream = futures::stream::iter(initial)
        .chain(events)
        .map(|bytes| Ok::<_, std::convert::Infallible>(Frame::data(bytes)));
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filtered_event_types() {
        let cases = [
            (None, true, Some("ADDED")),
            (None, false, None),
            (Some(false), true, Some("ADDED")),
            (Some(true), true, Some("MODIFIED")),
            (Some(true), false, Some("DELETED")),
            (Some(false), false, None),
        ];
        for (prev, now, expected) in cases {
            assert_eq!(event_type(prev, now), expected, "{prev:?} {now}");
        }
    }
}
