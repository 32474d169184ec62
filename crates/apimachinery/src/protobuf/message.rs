//! Decodes one protobuf message into JSON by its table entry: scalars, repeated fields (packed or
//! not), maps, embedded messages, inlined structs, and zero values left out the way Go's JSON
//! leaves them out.

use serde_json::{Map, Number, Value};

use super::table::{self, Cardinality, Field, JsonName, Kind, ZeroPolicy};
use super::wire::{Reader, WireValue};
use super::{MAX_DEPTH, ProtobufError, Result, format, special};

/// Decodes the message `name` from `bytes`; `depth` counts the messages around it.
pub(crate) fn decode(name: &str, bytes: &[u8], depth: usize) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err(malformed(name, "messages nest too deeply"));
    }
    if let Some(value) = special::decode(name, bytes, depth)? {
        return Ok(value);
    }
    let message =
        table::message(name).ok_or_else(|| ProtobufError::UnknownMessage(name.to_string()))?;
    let mut object = Map::new();
    let mut reader = Reader::new(bytes);
    while let Some((number, value)) = reader.field().map_err(|r| malformed(name, r))? {
        let field = message
            .field(number)
            .ok_or_else(|| ProtobufError::UnknownField {
                message: name.to_string(),
                number,
            })?;
        let key = match field.json {
            JsonName::Property(key) => key,
            // A named list's one field is stored under an empty key and becomes the whole value
            // below; an inlined struct's properties are merged in whole.
            JsonName::Whole | JsonName::Inline => "",
            JsonName::Special => return Err(malformed(name, "a hand-built message in the table")),
        };
        match field.cardinality {
            Cardinality::Optional => {
                let decoded = scalar_or_message(name, field, value, depth)?;
                if field.json == JsonName::Inline {
                    let Value::Object(inlined) = decoded else {
                        return Err(malformed(name, "an inlined field is not an object"));
                    };
                    for (key, value) in inlined {
                        merge(&mut object, key, value);
                    }
                } else if is_unset(field.zero, &decoded) {
                    object.remove(key);
                } else {
                    merge(&mut object, key.to_string(), decoded);
                }
            }
            Cardinality::Repeated => {
                let items = object
                    .entry(key)
                    .or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(items) = items else {
                    return Err(malformed(name, "a repeated field's JSON is not a list"));
                };
                match value {
                    WireValue::Bytes(packed) if is_packable(field.kind) => {
                        let mut packed = Reader::new(packed);
                        while !packed.is_empty() {
                            let value = packed_value(field.kind, &mut packed)
                                .map_err(|r| malformed(name, r))?;
                            items.push(scalar_or_message(name, field, value, depth)?);
                        }
                    }
                    value => items.push(scalar_or_message(name, field, value, depth)?),
                }
            }
            Cardinality::Map => {
                let WireValue::Bytes(entry) = value else {
                    return Err(wrong_wire_type(name, field, value));
                };
                let (map_key, map_value) = map_entry(name, field, entry, depth)?;
                let entries = object
                    .entry(key)
                    .or_insert_with(|| Value::Object(Map::new()));
                let Value::Object(entries) = entries else {
                    return Err(malformed(name, "a map field's JSON is not an object"));
                };
                entries.insert(map_key, map_value);
            }
        }
    }
    if message.is_whole() {
        return Ok(object.remove("").unwrap_or(Value::Array(Vec::new())));
    }
    Ok(Value::Object(object))
}

/// Whether a decoded optional field is left out of the JSON.
fn is_unset(zero: ZeroPolicy, value: &Value) -> bool {
    match zero {
        ZeroPolicy::Omit => match value {
            Value::String(s) => s.is_empty(),
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::Bool(b) => !b,
            _ => false,
        },
        ZeroPolicy::OmitZero => match value {
            Value::Null => true,
            Value::Object(object) => object.is_empty(),
            _ => false,
        },
        ZeroPolicy::Keep | ZeroPolicy::NotApplicable => false,
    }
}

/// Sets a property, merging a field that appears twice the way protobuf merges: objects key by
/// key, lists appended, anything else replaced. (Go clients never repeat a field; other encoders
/// may.)
fn merge(object: &mut Map<String, Value>, key: String, value: Value) {
    match (object.get_mut(&key), value) {
        (Some(Value::Object(old)), Value::Object(new)) => {
            for (key, value) in new {
                merge(old, key, value);
            }
        }
        (Some(Value::Array(old)), Value::Array(new)) => old.extend(new),
        (_, value) => {
            object.insert(key, value);
        }
    }
}

/// The JSON of one value of `field` (for a map, of the entry's value), by the field's kind.
fn scalar_or_message(
    message: &str,
    field: &Field,
    value: WireValue<'_>,
    depth: usize,
) -> Result<Value> {
    let json = match (field.kind, value) {
        (Kind::String, WireValue::Bytes(bytes)) => {
            Value::String(utf8(message, field.number, bytes)?)
        }
        (Kind::Bytes, WireValue::Bytes(bytes)) => Value::String(format::base64(bytes)),
        (Kind::Message, WireValue::Bytes(bytes)) => {
            let type_name = field
                .message
                .ok_or_else(|| malformed(message, "a message field without a type"))?;
            decode(type_name, bytes, depth + 1)?
        }
        (Kind::Bool, WireValue::Varint(v)) => Value::Bool(v != 0),
        // int32 and enum values are sign-extended to 64 bits on the wire; the cast keeps the low
        // 32, which is the value.
        (Kind::Int32 | Kind::Enum, WireValue::Varint(v)) => Value::from(v as i32),
        (Kind::Int64, WireValue::Varint(v)) => Value::from(v as i64),
        (Kind::Uint32, WireValue::Varint(v)) => Value::from(v as u32),
        (Kind::Uint64, WireValue::Varint(v)) => Value::from(v),
        (Kind::Double, WireValue::Fixed64(v)) => float(message, f64::from_bits(v))?,
        (Kind::Float, WireValue::Fixed32(v)) => float(message, f64::from(f32::from_bits(v)))?,
        (_, value) => return Err(wrong_wire_type(message, field, value)),
    };
    Ok(json)
}

fn float(message: &str, value: f64) -> Result<Value> {
    Number::from_f64(value)
        .map(Value::Number)
        .ok_or_else(|| malformed(message, "a float that JSON cannot hold (NaN or infinite)"))
}

/// Whether repeated values of this kind may be packed into one length-delimited field.
fn is_packable(kind: Kind) -> bool {
    !matches!(kind, Kind::String | Kind::Bytes | Kind::Message)
}

/// One value from inside a packed field.
fn packed_value<'a>(kind: Kind, reader: &mut Reader<'a>) -> Result<WireValue<'a>, &'static str> {
    Ok(match kind {
        Kind::Double => WireValue::Fixed64(reader.fixed64()?),
        Kind::Float => WireValue::Fixed32(reader.fixed32()?),
        _ => WireValue::Varint(reader.varint()?),
    })
}

/// A map entry: the key (field 1, a string) and the value (field 2), each defaulting to its zero.
fn map_entry(message: &str, field: &Field, entry: &[u8], depth: usize) -> Result<(String, Value)> {
    let mut key = String::new();
    let mut value = None;
    let mut reader = Reader::new(entry);
    while let Some((number, wire)) = reader.field().map_err(|r| malformed(message, r))? {
        match (number, wire) {
            (1, WireValue::Bytes(bytes)) => key = utf8(message, field.number, bytes)?,
            (1, wire) => return Err(wrong_wire_type(message, field, wire)),
            (2, wire) => {
                value = Some(scalar_or_message(message, field, wire, depth)?);
            }
            _ => {
                return Err(malformed(
                    message,
                    "a map entry with a field other than key and value",
                ));
            }
        }
    }
    let value = match value {
        Some(value) => value,
        None => zero_value(message, field, depth)?,
    };
    Ok((key, value))
}

/// The JSON of a map value the entry left out: its type's zero.
fn zero_value(message: &str, field: &Field, depth: usize) -> Result<Value> {
    Ok(match field.kind {
        Kind::String | Kind::Bytes => Value::String(String::new()),
        Kind::Bool => Value::Bool(false),
        Kind::Message => {
            let type_name = field
                .message
                .ok_or_else(|| malformed(message, "a message field without a type"))?;
            decode(type_name, &[], depth + 1)?
        }
        _ => Value::from(0),
    })
}

pub(crate) fn utf8(message: &str, number: u32, bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ProtobufError::InvalidUtf8 {
        message: message.to_string(),
        number,
    })
}

pub(crate) fn malformed(message: &str, reason: &'static str) -> ProtobufError {
    ProtobufError::Malformed {
        message: message.to_string(),
        reason,
    }
}

fn wrong_wire_type(message: &str, field: &Field, found: WireValue<'_>) -> ProtobufError {
    let expected = match field.kind {
        Kind::String | Kind::Bytes | Kind::Message => "length-delimited",
        Kind::Double => "fixed64",
        Kind::Float => "fixed32",
        _ if field.cardinality == Cardinality::Repeated => "varint or packed",
        _ => "varint",
    };
    ProtobufError::WrongWireType {
        message: message.to_string(),
        number: field.number,
        found: found.wire_type(),
        expected,
    }
}
