//! Decoding a request body as kube-apiserver does: the kind and apiVersion are checked against the
//! URL's resource, the body goes through the typed k8s-openapi struct (type errors become 400s
//! worded like Go's decoder), and fields the struct does not know are reported per
//! `fieldValidation`.

mod formats;
pub(crate) mod go_type;
mod prune;
mod type_error;

use serde_json::{Map, Value};

use super::kinds::{self, TypedKind};
use crate::resource::{self, ResourceInfo};
use crate::status::{ApiError, Cause};
use go_type::Seg;

pub(crate) use formats::{decode_base64, encode_base64};

/// The `fieldValidation` query parameter: what to do with unknown or duplicate fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and answer with a `Warning` header per field; the server's default.
    #[default]
    Warn,
    /// Reject the request; kubectl's default.
    Strict,
}

impl FieldValidation {
    /// Parses the query parameter; `options_kind` (`CreateOptions`, `UpdateOptions`,
    /// `PatchOptions`) names the options object in the 422 an unknown value gets.
    pub fn parse(value: Option<&str>, options_kind: &str) -> Result<Self, ApiError> {
        match value.unwrap_or("") {
            "" | "Warn" => Ok(Self::Warn),
            "Ignore" => Ok(Self::Ignore),
            "Strict" => Ok(Self::Strict),
            other => Err(ApiError::invalid(
                "meta.k8s.io",
                options_kind,
                "",
                vec![Cause::not_supported(
                    "fieldValidation",
                    &Value::String(other.to_string()),
                    &["", "Ignore", "Strict", "Warn"],
                )],
            )),
        }
    }
}

/// Go's reply when the body is not an object with string `apiVersion` and `kind`.
fn version_kind_error(what: &str) -> ApiError {
    ApiError::bad_request(format!(
        "couldn't get version/kind; json parse error: json: cannot unmarshal {what} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}"
    ))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A string member of the body's type meta; an empty string when absent.
fn type_meta<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a str, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(ApiError::bad_request(format!(
            "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go struct field .{key} of type string",
            json_kind(other)
        ))),
    }
}

fn version_of(api_version: &str) -> &str {
    api_version.rsplit('/').next().unwrap_or(api_version)
}

fn group_of(api_version: &str) -> &str {
    match api_version.rsplit_once('/') {
        Some((group, _)) => group,
        None => "",
    }
}

/// `Service in version "v1" cannot be handled as a Deployment: <why>`.
fn cannot_handle(kind: &str, api_version: &str, target: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version \"{}\" cannot be handled as a {target}: {why}",
        version_of(api_version)
    ))
}

/// The body's kind and version against the URL's resource, with kube's answers for a mismatch.
fn check_type_meta(info: &ResourceInfo, api_version: &str, kind: &str) -> Result<(), ApiError> {
    let expected = info.api_version();
    if api_version == expected && kind == info.kind {
        return Ok(());
    }
    if kind == info.kind && group_of(api_version) == info.group {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({expected})"
        )));
    }
    if resource::find_kind(api_version, kind).is_some() {
        let internal = |group: &str| {
            if group.is_empty() {
                "core".to_string()
            } else {
                group.split('.').next().unwrap_or(group).to_string()
            }
        };
        let why = format!(
            "converting ({}.{kind}) to ({}.{}): unknown conversion",
            version_of(api_version),
            internal(info.group),
            info.kind
        );
        return Err(cannot_handle(kind, api_version, info.kind, &why));
    }
    let why = format!(
        "no kind \"{kind}\" is registered for version \"{api_version}\" in scheme \"k8s.io/apimachinery/pkg/runtime/scheme.go:100\""
    );
    Err(cannot_handle(kind, api_version, info.kind, &why))
}

/// Decodes a create or update body for `info`'s resource.
///
/// Returns the normalised object (type meta filled in, unknown fields removed, quantities and
/// base64 in canonical form, Secret `stringData` folded into `data`) and the warnings to send.
pub fn decode(
    info: &ResourceInfo,
    body: &Value,
    strictness: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    let Value::Object(map) = body else {
        return Err(version_kind_error(json_kind(body)));
    };
    let mut api_version = type_meta(map, "apiVersion")?.to_string();
    let mut kind = type_meta(map, "kind")?.to_string();
    if kind.is_empty() {
        kind = info.kind.to_string();
    }
    if api_version.is_empty() {
        api_version = info.api_version();
    }
    check_type_meta(info, &api_version, &kind)?;

    let mut input = body.clone();
    input["apiVersion"] = Value::String(api_version.clone());
    input["kind"] = Value::String(kind.clone());
    let Some(typed) = kinds::find(info.group, info.kind) else {
        return Ok((input, Vec::new()));
    };
    let raw_top: &[&str] = if info.kind == "ControllerRevision" {
        &["data"]
    } else {
        &[]
    };
    prune::strip_nulls(&mut input, raw_top);
    canonical_base64(info, &mut input)
        .map_err(|why| cannot_handle(&kind, &api_version, info.kind, &why))?;

    let text = serde_json::to_string(&input).map_err(ApiError::internal)?;
    let mut output = (typed.roundtrip)(&text).map_err(|err| {
        let why = type_error::describe(&err, &text, &typed.schema(), info.kind, &input);
        cannot_handle(&kind, &api_version, info.kind, &why)
    })?;
    canonical_quantities(typed, &mut output)
        .map_err(|why| cannot_handle(&kind, &api_version, info.kind, why))?;

    let mut unknown = Vec::new();
    let mut object = prune::reconcile(&input, output, &mut Vec::new(), &mut unknown);
    let warnings = match strictness {
        FieldValidation::Strict if !unknown.is_empty() => {
            let listed: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect();
            let why = format!("strict decoding error: {}", listed.join(", "));
            return Err(cannot_handle(&kind, &api_version, info.kind, &why));
        }
        FieldValidation::Warn => unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect(),
        _ => Vec::new(),
    };
    if info.group.is_empty() && info.kind == "Secret" {
        fold_string_data(&mut object);
    }
    Ok((object, warnings))
}

/// Rewrites base64 members in canonical padded form after checking them as Go would, so the
/// typed decode (which is stricter about trailing bits) accepts what Kubernetes accepts.
fn canonical_base64(info: &ResourceInfo, obj: &mut Value) -> Result<(), String> {
    let field = match (info.group, info.kind) {
        ("", "Secret") => "data",
        ("", "ConfigMap") => "binaryData",
        _ => return Ok(()),
    };
    let Some(Value::Object(data)) = obj.get_mut(field) else {
        return Ok(());
    };
    for value in data.values_mut() {
        if let Value::String(s) = value {
            let bytes =
                decode_base64(s).map_err(|at| format!("illegal base64 data at input byte {at}"))?;
            *s = encode_base64(&bytes);
        }
    }
    Ok(())
}

/// Rejects malformed resource quantities anywhere in the object, as Kubernetes' decoder does,
/// and rewrites the others in the canonical form Kubernetes stores.
fn canonical_quantities(typed: &TypedKind, output: &mut Value) -> Result<(), &'static str> {
    let schema = typed.schema();
    let mut failure = None;
    let mut rewrites: Vec<(String, String)> = Vec::new();
    go_type::for_each_quantity(
        &schema,
        &schema,
        output,
        &mut Vec::new(),
        &mut |path: &[Seg], value: &Value| {
            let Value::String(s) = value else {
                return;
            };
            if let Err(why) = formats::check_quantity(s) {
                failure.get_or_insert(why);
            } else if let Some(canonical) = formats::canonical_quantity(s)
                && canonical != *s
            {
                rewrites.push((json_pointer(path), canonical));
            }
        },
    );
    if let Some(why) = failure {
        return Err(why);
    }
    for (pointer, canonical) in rewrites {
        if let Some(slot) = output.pointer_mut(&pointer) {
            *slot = Value::String(canonical);
        }
    }
    Ok(())
}

/// An RFC 6901 pointer for a decoded path.
fn json_pointer(path: &[Seg]) -> String {
    path.iter()
        .map(|seg| match seg {
            Seg::Key(k) => format!("/{}", k.replace('~', "~0").replace('/', "~1")),
            Seg::Index(i) => format!("/{i}"),
        })
        .collect()
}

/// Kubernetes merges `stringData` into `data` (base64-encoded) when it converts a Secret, so
/// `stringData` is never stored.
fn fold_string_data(secret: &mut Value) {
    let Some(Value::Object(strings)) = secret.as_object_mut().and_then(|m| m.remove("stringData"))
    else {
        return;
    };
    let data = secret
        .as_object_mut()
        .map(|m| m.entry("data").or_insert_with(|| Value::Object(Map::new())));
    if let Some(Value::Object(data)) = data {
        for (k, v) in strings {
            if let Value::String(s) = v {
                data.insert(k, Value::String(encode_base64(s.as_bytes())));
            }
        }
    }
}
