//! OpenAPI v3 documents built from k8s-openapi schemas, for kubectl explain, apply and
//! `--validate`; plus a placeholder for OpenAPI v2.
//!
//! kubectl reads `/openapi/v3`, an index of `{"paths": {"apis/apps/v1": {"serverRelativeURL":
//! "/openapi/v3/apis/apps/v1?hash=..."}}}`, then fetches the document of the group-version it
//! needs. Each document is OpenAPI 3.0.0 with `paths` (operations tagged with
//! `x-kubernetes-group-version-kind` and `x-kubernetes-action`) and `components.schemas` (each
//! top-level kind tagged with a list of group-version-kinds). Documents are built once, on first
//! use, and never change while the process runs, so their hashes are stable.

mod kinds;
mod params;
mod patch_meta;
mod paths;
mod schemas;
#[cfg(test)]
mod tests;
mod v2;

use std::sync::{Arc, LazyLock};

use serde_json::{Map, Value, json};

pub use patch_meta::{PatchMeta, patch_meta};
pub use v2::{V2_PROTOBUF_CONTENT_TYPE, v2_placeholder};

use crate::resource::{self, RESOURCES};

/// The OpenAPI version the documents declare.
const OPENAPI_VERSION: &str = "3.0.0";

/// One group-version document, ready to serve.
#[derive(Debug)]
pub struct V3Document {
    /// The index key and URL tail: `api/v1`, `apis/apps/v1`.
    pub key: String,
    pub document: Arc<Value>,
    /// The document serialized once, to serve as `application/json`.
    pub json: Arc<[u8]>,
    /// Upper-case hex hash of `json`: the `hash` query parameter and the ETag.
    pub hash: String,
}

impl V3Document {
    /// The URL the index lists: `/openapi/v3/apis/apps/v1?hash=<hash>`.
    pub fn server_relative_url(&self) -> String {
        format!("/openapi/v3/{}?hash={}", self.key, self.hash)
    }
}

static DOCUMENTS: LazyLock<Vec<V3Document>> = LazyLock::new(build_all);

/// The `/openapi/v3` index: every served group-version with its document URL and hash.
pub fn v3_index() -> Value {
    let paths: Map<String, Value> = DOCUMENTS
        .iter()
        .map(|doc| {
            (
                doc.key.clone(),
                json!({"serverRelativeURL": doc.server_relative_url()}),
            )
        })
        .collect();
    json!({ "paths": paths })
}

/// The document for one group-version path key such as `api/v1` or `apis/apps/v1` (a leading
/// `/` is ignored); `None` if not served.
pub fn v3_document(gv_path: &str) -> Option<Arc<Value>> {
    v3_served(gv_path).map(|doc| doc.document.clone())
}

/// The served document for a path key, with its serialized bytes and hash.
pub fn v3_served(gv_path: &str) -> Option<&'static V3Document> {
    let key = gv_path.trim_start_matches('/');
    DOCUMENTS.iter().find(|doc| doc.key == key)
}

/// Every served document, in discovery order.
pub fn v3_documents() -> &'static [V3Document] {
    &DOCUMENTS
}

/// The component name of a kind's schema (`io.k8s.api.apps.v1.Deployment`, or
/// `io.k8s.api.apps.v1.DeploymentList` for `DeploymentList`); look it up with [`schema`].
pub fn schema_name(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    static NAMES: LazyLock<Vec<(&'static str, &'static str, String, String)>> =
        LazyLock::new(|| {
            let mut names = Vec::new();
            for k in kinds::KINDS {
                let name = (k.name)().into_owned();
                names.push((
                    k.group,
                    k.version,
                    format!("{}List", k.kind),
                    schemas::list_name(&name),
                ));
                names.push((k.group, k.version, k.kind.to_string(), name));
            }
            for (kind, name) in [
                ("Status", schemas::STATUS),
                ("DeleteOptions", schemas::DELETE_OPTIONS),
                ("APIResourceList", schemas::API_RESOURCE_LIST),
            ] {
                names.push(("", "v1", kind.to_string(), name.to_string()));
            }
            names
        });
    NAMES
        .iter()
        .find(|(g, v, k, _)| *g == group && *v == version && k == kind)
        .map(|(_, _, _, name)| name.as_str())
}

/// A component schema by name, from whichever served document holds it. `$ref`s inside point at
/// `#/components/schemas/<name>`, resolvable with this same function.
pub fn schema(name: &str) -> Option<&'static Value> {
    DOCUMENTS
        .iter()
        .find_map(|doc| doc.document.pointer("/components/schemas")?.get(name))
}

/// The served group-versions, in discovery order (core first).
fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut served = Vec::new();
    for r in RESOURCES {
        if !served.contains(&(r.group, r.version)) {
            served.push((r.group, r.version));
        }
    }
    served
}

fn build_all() -> Vec<V3Document> {
    let served = group_versions();
    served
        .iter()
        .map(|&(group, version)| {
            let document = build_document(group, version, &served);
            let json: Arc<[u8]> = serde_json::to_vec(&document)
                .expect("a JSON value always serializes")
                .into();
            V3Document {
                key: key(group, version),
                hash: format!("{:016X}", fnv1a(&json)),
                document: Arc::new(document),
                json,
            }
        })
        .collect()
}

/// `api/v1` for the core group, `apis/<group>/<version>` for the others.
fn key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn build_document(group: &str, version: &str, served: &[(&str, &str)]) -> Value {
    let resources: Vec<_> = resource::resources_of(group, version).collect();
    let mut needs = schemas::Needs {
        kinds: Vec::new(),
        lists: Vec::new(),
        served: served
            .iter()
            .copied()
            .filter(|gv| *gv != ("", "v1"))
            .collect(),
    };
    for r in &resources {
        let gvk = (r.group, r.version, r.kind);
        needs.kinds.push(gvk);
        if r.has_verb("list") {
            needs.lists.push(gvk);
        }
        for sub in r.subresources {
            let (g, v) = match sub.group_version {
                Some(gv) => gv.split_once('/').unwrap_or(("", gv)),
                None => (r.group, r.version),
            };
            if !needs.kinds.contains(&(g, v, sub.kind)) {
                needs.kinds.push((g, v, sub.kind));
            }
        }
    }
    json!({
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths::build(group, version, &resources),
        "components": {"schemas": schemas::build(&needs)},
    })
}

/// 64-bit FNV-1a: cheap and stable across builds and platforms, which is all a cache-busting
/// hash needs.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
