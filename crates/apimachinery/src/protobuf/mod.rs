//! Kubernetes protobuf request bodies, decoded into the JSON the rest of the server handles.
//!
//! kubectl's typed clients (`kubectl create namespace|deployment|token`, `kubectl auth can-i`,
//! `kubectl drain`...) send built-in objects as `application/vnd.kubernetes.protobuf`: the magic
//! bytes `k8s\0`, then a `runtime.Unknown` envelope naming the object's `apiVersion` and `kind`
//! and carrying its protobuf encoding. [`decode_object`] turns such a body into the object's JSON
//! form, field by field, from a table of field numbers and JSON names (`fields.txt`, written by
//! `scripts/gen-proto-fields`). Responses stay JSON, which every client accepts.
//!
//! Nothing is dropped silently: a field, message or kind the table does not know is an error
//! asking the client to send JSON.

mod envelope;
mod format;
#[cfg(test)]
mod kubectl_tests;
mod message;
mod special;
mod table;
#[cfg(test)]
mod table_tests;
#[cfg(test)]
mod tests;
mod wire;

use serde_json::Value;

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// How deep messages may nest (embedded objects included) before a body is refused; real objects
/// stay far below it, and the limit keeps a hostile body from exhausting the stack.
const MAX_DEPTH: usize = 100;

/// A protobuf body that could not be turned into JSON.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The body does not start with the magic bytes `k8s\0`.
    #[error("the protobuf body does not start with the Kubernetes magic bytes \"k8s\\x00\"")]
    MissingMagic,
    /// The bytes break the protobuf wire format: a truncated value, a bad wire type, nesting too
    /// deep, or a value the field's type cannot hold.
    #[error("malformed protobuf in {message}: {reason}")]
    Malformed {
        message: String,
        reason: &'static str,
    },
    /// The envelope names a kind hakube has no protobuf description of.
    #[error(
        "protobuf bodies of kind {kind} in {api_version} are not known to hakube; send the \
         object as JSON"
    )]
    UnknownKind { api_version: String, kind: String },
    /// A message type the table lacks (a field refers to it, but it is outside the packages the
    /// table covers).
    #[error("protobuf message {0} is not known to hakube; send the object as JSON")]
    UnknownMessage(String),
    /// A field number the message's table entry lacks: a newer client's field, most likely.
    #[error("protobuf field {number} of {message} is not known to hakube; send the object as JSON")]
    UnknownField { message: String, number: u32 },
    /// A field encoded with another wire type than its declared type uses.
    #[error(
        "protobuf field {number} of {message} has wire type {found}, but its type needs {expected}"
    )]
    WrongWireType {
        message: String,
        number: u32,
        found: &'static str,
        expected: &'static str,
    },
    /// A string field that is not UTF-8.
    #[error("protobuf field {number} of {message} is not valid UTF-8")]
    InvalidUtf8 { message: String, number: u32 },
    /// Embedded JSON (a `RawExtension` or `FieldsV1`) that does not parse.
    #[error("the embedded JSON in {message} is invalid: {source}")]
    EmbeddedJson {
        message: String,
        #[source]
        source: serde_json::Error,
    },
    /// An envelope whose `contentEncoding` is set; Kubernetes defines none.
    #[error("protobuf content encoding {0:?} is not supported")]
    ContentEncoding(String),
}

pub type Result<T, E = ProtobufError> = std::result::Result<T, E>;

/// Whether a `Content-Type` names Kubernetes protobuf (parameters such as `charset` ignored).
pub fn is_protobuf(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    media_type.eq_ignore_ascii_case(CONTENT_TYPE)
}

/// Decodes a Kubernetes protobuf body (magic, envelope, object) into the object's JSON, with
/// `apiVersion` and `kind` set from the envelope.
pub fn decode_object(body: &[u8]) -> Result<Value> {
    envelope::decode(body, 0)
}
