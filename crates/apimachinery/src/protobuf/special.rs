//! The messages whose JSON form is not an object of their fields: times, durations, quantities,
//! int-or-strings, and embedded JSON documents. Their field numbers are fixed by apimachinery's
//! `generated.proto` and listed (with `-` for a JSON name) in `fields.txt`.

use serde_json::Value;

use super::message::{malformed, utf8};
use super::wire::{Reader, WireValue};
use super::{ProtobufError, Result, envelope, format};

pub(crate) const TIME: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.Time";
pub(crate) const MICRO_TIME: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime";
pub(crate) const DURATION: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.Duration";
pub(crate) const FIELDS_V1: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1";
pub(crate) const RAW_EXTENSION: &str = "k8s.io.apimachinery.pkg.runtime.RawExtension";
pub(crate) const UNKNOWN: &str = "k8s.io.apimachinery.pkg.runtime.Unknown";
pub(crate) const INT_OR_STRING: &str = "k8s.io.apimachinery.pkg.util.intstr.IntOrString";
pub(crate) const QUANTITY: &str = "k8s.io.apimachinery.pkg.api.resource.Quantity";
pub(crate) const QUANTITY_VALUE: &str = "k8s.io.apimachinery.pkg.api.resource.QuantityValue";

/// Go's zero time, 0001-01-01T00:00:00Z, in Unix seconds: JSON shows it as null.
const GO_ZERO_TIME: i64 = -62_135_596_800;

/// Every message decoded here; the table marks their fields `-`.
#[cfg(test)]
pub(crate) const SPECIAL: &[&str] = &[
    TIME,
    MICRO_TIME,
    DURATION,
    FIELDS_V1,
    RAW_EXTENSION,
    UNKNOWN,
    INT_OR_STRING,
    QUANTITY,
    QUANTITY_VALUE,
];

/// The JSON of `bytes` if `name` is decoded here, `None` if it is an ordinary message.
pub(crate) fn decode(name: &str, bytes: &[u8], depth: usize) -> Result<Option<Value>> {
    let value = match name {
        TIME | MICRO_TIME => {
            // Go writes a zero time as an empty message and shows it in JSON as null.
            if bytes.is_empty() {
                return Ok(Some(Value::Null));
            }
            let [seconds, nanos] = varints(name, bytes)?;
            let seconds = seconds as i64;
            // Time keeps whole seconds (Go drops the nanoseconds); MicroTime keeps microseconds.
            let micros = (name == MICRO_TIME).then(|| (nanos as i32).clamp(0, 999_999_999) / 1000);
            if seconds == GO_ZERO_TIME && micros.unwrap_or(0) == 0 {
                return Ok(Some(Value::Null));
            }
            let text = format::rfc3339(seconds, micros)
                .ok_or_else(|| malformed(name, "a time outside the years 0 to 9999"))?;
            Value::String(text)
        }
        DURATION => {
            let [nanos] = varints(name, bytes)?;
            Value::String(format::go_duration(nanos as i64))
        }
        INT_OR_STRING => int_or_string(bytes)?,
        QUANTITY | QUANTITY_VALUE => {
            // Go's zero Quantity prints as "0".
            let text = string_field(name, bytes)?.unwrap_or_default();
            Value::String(if text.is_empty() { "0".into() } else { text })
        }
        FIELDS_V1 | RAW_EXTENSION => embedded(name, bytes, depth)?,
        UNKNOWN => {
            return Err(malformed(
                name,
                "a runtime.Unknown inside an object; send the object as JSON",
            ));
        }
        _ => return Ok(None),
    };
    Ok(Some(value))
}

/// Reads a message of varint fields numbered 1..=N; absent fields are 0.
fn varints<const N: usize>(name: &str, bytes: &[u8]) -> Result<[u64; N]> {
    let mut values = [0; N];
    let mut reader = Reader::new(bytes);
    while let Some((number, value)) = reader.field().map_err(|r| malformed(name, r))? {
        let slot = (number as usize)
            .checked_sub(1)
            .and_then(|i| values.get_mut(i))
            .ok_or_else(|| unknown_field(name, number))?;
        let WireValue::Varint(v) = value else {
            return Err(wrong_wire_type(name, number, value, "varint"));
        };
        *slot = v;
    }
    Ok(values)
}

/// Reads a message whose only field, 1, is a string or bytes.
fn string_field(name: &str, bytes: &[u8]) -> Result<Option<String>> {
    bytes_field(name, bytes)?
        .map(|bytes| utf8(name, 1, bytes))
        .transpose()
}

fn bytes_field<'a>(name: &str, bytes: &'a [u8]) -> Result<Option<&'a [u8]>> {
    let mut found = None;
    let mut reader = Reader::new(bytes);
    while let Some((number, value)) = reader.field().map_err(|r| malformed(name, r))? {
        match (number, value) {
            (1, WireValue::Bytes(bytes)) => found = Some(bytes),
            (1, value) => return Err(wrong_wire_type(name, 1, value, "length-delimited")),
            _ => return Err(unknown_field(name, number)),
        }
    }
    Ok(found)
}

/// `type` (1: 0 for an int, 1 for a string), `intVal` (2) and `strVal` (3), as a JSON number or
/// string.
fn int_or_string(bytes: &[u8]) -> Result<Value> {
    let name = INT_OR_STRING;
    let (mut kind, mut int_val, mut str_val) = (0u64, 0u64, String::new());
    let mut reader = Reader::new(bytes);
    while let Some((number, value)) = reader.field().map_err(|r| malformed(name, r))? {
        match (number, value) {
            (1, WireValue::Varint(v)) => kind = v,
            (2, WireValue::Varint(v)) => int_val = v,
            (3, WireValue::Bytes(bytes)) => str_val = utf8(name, 3, bytes)?,
            (1 | 2, value) => return Err(wrong_wire_type(name, number, value, "varint")),
            (3, value) => return Err(wrong_wire_type(name, 3, value, "length-delimited")),
            _ => return Err(unknown_field(name, number)),
        }
    }
    match kind {
        0 => Ok(Value::from(int_val as i32)),
        1 => Ok(Value::String(str_val)),
        _ => Err(malformed(name, "type is neither 0 (int) nor 1 (string)")),
    }
}

/// A `RawExtension`'s or `FieldsV1`'s raw bytes (field 1): JSON as Go's JSON shows it, or, for a
/// RawExtension, possibly another protobuf object. Absent or empty bytes are `null`.
fn embedded(name: &str, bytes: &[u8], depth: usize) -> Result<Value> {
    let raw = bytes_field(name, bytes)?.unwrap_or_default();
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    if name == RAW_EXTENSION && raw.starts_with(envelope::MAGIC) {
        return envelope::decode(raw, depth + 1);
    }
    serde_json::from_slice(raw).map_err(|source| ProtobufError::EmbeddedJson {
        message: name.to_string(),
        source,
    })
}

fn unknown_field(name: &str, number: u32) -> ProtobufError {
    ProtobufError::UnknownField {
        message: name.to_string(),
        number,
    }
}

fn wrong_wire_type(
    name: &str,
    number: u32,
    found: WireValue<'_>,
    expected: &'static str,
) -> ProtobufError {
    ProtobufError::WrongWireType {
        message: name.to_string(),
        number,
        found: found.wire_type(),
        expected,
    }
}
