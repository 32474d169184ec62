//! The wire envelope: the magic bytes `k8s\0`, then a `runtime.Unknown` holding the object's
//! `apiVersion` and `kind` (field 1, a TypeMeta), its protobuf bytes (2), a content encoding (3)
//! and a content type (4).

use serde_json::{Map, Value};

use super::message::{self, utf8};
use super::wire::{Reader, WireValue};
use super::{ProtobufError, Result, table};

pub(crate) const MAGIC: &[u8] = b"k8s\0";

const UNKNOWN: &str = "k8s.io.apimachinery.pkg.runtime.Unknown";
const TYPE_META: &str = "k8s.io.apimachinery.pkg.runtime.TypeMeta";

/// The kinds apimachinery's meta package registers into every group-version: a DeleteOptions may
/// arrive as `v1`, `apps/v1` or `meta.k8s.io/v1`, and is always the same message.
const META_KINDS: &[&str] = &[
    "DeleteOptions",
    "CreateOptions",
    "UpdateOptions",
    "PatchOptions",
    "GetOptions",
    "ListOptions",
];

/// API groups whose protobuf package is not the group's first label.
const GROUP_PACKAGES: &[(&str, &str)] = &[
    ("", "core"),
    ("rbac.authorization.k8s.io", "rbac"),
    ("flowcontrol.apiserver.k8s.io", "flowcontrol"),
    ("internal.apiserver.k8s.io", "apiserverinternal"),
    ("storagemigration.k8s.io", "storagemigration"),
];

/// Decodes a whole body: `depth` counts the envelopes and messages around it (a `RawExtension`
/// may hold another protobuf object).
pub(crate) fn decode(body: &[u8], depth: usize) -> Result<Value> {
    let bytes = body
        .strip_prefix(MAGIC)
        .ok_or(ProtobufError::MissingMagic)?;
    let malformed = |reason| ProtobufError::Malformed {
        message: UNKNOWN.to_string(),
        reason,
    };
    let mut type_meta = (String::new(), String::new());
    let mut raw: &[u8] = &[];
    let mut content_encoding = String::new();
    let mut reader = Reader::new(bytes);
    while let Some((number, value)) = reader.field().map_err(malformed)? {
        match (number, value) {
            (1, WireValue::Bytes(bytes)) => type_meta = decode_type_meta(bytes)?,
            (2, WireValue::Bytes(bytes)) => raw = bytes,
            (3, WireValue::Bytes(bytes)) => content_encoding = utf8(UNKNOWN, 3, bytes)?,
            (4, WireValue::Bytes(_)) => {}
            (1..=4, value) => return Err(wrong_wire_type(UNKNOWN, number, value)),
            _ => {
                return Err(ProtobufError::UnknownField {
                    message: UNKNOWN.to_string(),
                    number,
                });
            }
        }
    }
    if !content_encoding.is_empty() {
        return Err(ProtobufError::ContentEncoding(content_encoding));
    }
    let (api_version, kind) = type_meta;
    let name = message_name(&api_version, &kind).ok_or_else(|| ProtobufError::UnknownKind {
        api_version: api_version.clone(),
        kind: kind.clone(),
    })?;
    let object = match message::decode(&name, raw, depth + 1)? {
        Value::Object(object) => object,
        _ => {
            return Err(ProtobufError::Malformed {
                message: name,
                reason: "the object is not a JSON object",
            });
        }
    };
    let mut json = Map::new();
    json.insert("apiVersion".into(), api_version.into());
    json.insert("kind".into(), kind.into());
    json.extend(object);
    Ok(Value::Object(json))
}

/// The protobuf message of a kind: `apps/v1` `Deployment` is `k8s.io.api.apps.v1.Deployment`.
/// `None` if the table does not describe it.
pub(crate) fn message_name(api_version: &str, kind: &str) -> Option<String> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    if group.is_empty() && version.is_empty() || kind.is_empty() {
        return None;
    }
    let name = if group == "meta.k8s.io" {
        format!("k8s.io.apimachinery.pkg.apis.meta.{version}.{kind}")
    } else if META_KINDS.contains(&kind) {
        format!("k8s.io.apimachinery.pkg.apis.meta.v1.{kind}")
    } else {
        let package = GROUP_PACKAGES
            .iter()
            .find(|(g, _)| *g == group)
            .map_or_else(|| group.split('.').next().unwrap_or(group), |(_, p)| p);
        format!("k8s.io.api.{package}.{version}.{kind}")
    };
    table::message(&name).map(|_| name)
}

fn decode_type_meta(bytes: &[u8]) -> Result<(String, String)> {
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut reader = Reader::new(bytes);
    let malformed = |reason| ProtobufError::Malformed {
        message: TYPE_META.to_string(),
        reason,
    };
    while let Some((number, value)) = reader.field().map_err(malformed)? {
        match (number, value) {
            (1, WireValue::Bytes(bytes)) => api_version = utf8(TYPE_META, 1, bytes)?,
            (2, WireValue::Bytes(bytes)) => kind = utf8(TYPE_META, 2, bytes)?,
            (1 | 2, value) => return Err(wrong_wire_type(TYPE_META, number, value)),
            _ => {
                return Err(ProtobufError::UnknownField {
                    message: TYPE_META.to_string(),
                    number,
                });
            }
        }
    }
    Ok((api_version, kind))
}

fn wrong_wire_type(message: &str, number: u32, value: WireValue<'_>) -> ProtobufError {
    ProtobufError::WrongWireType {
        message: message.to_string(),
        number,
        found: value.wire_type(),
        expected: "length-delimited",
    }
}
