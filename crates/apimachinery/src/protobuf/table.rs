//! The protobuf field table: `fields.txt`, written by `scripts/gen-proto-fields`, parsed once into
//! a map from message name to the fields the decoder may meet.

use std::collections::HashMap;
use std::sync::LazyLock;

/// How a field's value (for a map, the entry's value) is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Bytes,
    Bool,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Double,
    Float,
    Enum,
    Message,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cardinality {
    Optional,
    Repeated,
    /// A `map<string, V>`: repeated entry messages with the key as field 1 and the value as 2.
    Map,
}

/// Where a field's value goes in the JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonName {
    /// A property of the object.
    Property(&'static str),
    /// An embedded Go struct (`json:",inline"`): its properties join the parent's.
    Inline,
    /// The message is a named Go list or map (`type ExtraValue []string`) and this, its only
    /// field, is its whole JSON value.
    Whole,
    /// The message is one whose JSON form the decoder builds by hand (a timestamp, a quantity).
    Special,
}

/// What a zero value on the wire means. gogo-protobuf writes every Go value field, zero or not,
/// so a zero may mean "unset" (and JSON leaves the field out) or may be meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZeroPolicy {
    /// A Go value field with `omitempty`: a zero value means unset.
    Omit,
    /// A Go pointer, or a field without `omitempty`: a zero value is meant.
    Keep,
    /// A message field with `omitzero`: left out when it decodes to `null` or `{}`.
    OmitZero,
    /// Repeated and map fields, and message fields JSON always shows.
    NotApplicable,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub number: u32,
    pub json: JsonName,
    pub kind: Kind,
    pub cardinality: Cardinality,
    /// The message type, for a message field (of a map's value, for a map).
    pub message: Option<&'static str>,
    pub zero: ZeroPolicy,
}

#[derive(Debug, Default)]
pub(crate) struct Message {
    pub fields: Vec<Field>,
}

impl Message {
    pub(crate) fn field(&self, number: u32) -> Option<&Field> {
        self.fields.iter().find(|f| f.number == number)
    }

    /// Whether the message is a named Go list or map, whose JSON value is its only field's.
    pub(crate) fn is_whole(&self) -> bool {
        matches!(self.fields.as_slice(), [field] if field.json == JsonName::Whole)
    }
}

const FIELDS: &str = include_str!("fields.txt");

static TABLE: LazyLock<HashMap<&'static str, Message>> = LazyLock::new(|| match parse(FIELDS) {
    Ok(table) => table,
    Err(line) => panic!("protobuf/fields.txt: cannot read line {line:?}"),
});

/// The fields of a message, by its full protobuf name (`k8s.io.api.core.v1.ServiceSpec`).
pub(crate) fn message(name: &str) -> Option<&'static Message> {
    TABLE.get(name)
}

/// Every message in the table.
#[cfg(test)]
pub(crate) fn messages() -> impl Iterator<Item = (&'static str, &'static Message)> {
    TABLE.iter().map(|(name, message)| (*name, message))
}

/// Parses the table; on failure, returns the line it could not read.
fn parse(text: &'static str) -> Result<HashMap<&'static str, Message>, &'static str> {
    let mut table: HashMap<&'static str, Message> = HashMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (message, field) = parse_line(line).ok_or(line)?;
        table.entry(message).or_default().fields.push(field);
    }
    Ok(table)
}

fn parse_line(line: &'static str) -> Option<(&'static str, Field)> {
    let [
        message,
        number,
        _prost_name,
        json,
        kind,
        cardinality,
        typ,
        zero,
    ] = line.split(' ').collect::<Vec<_>>().try_into().ok()?;
    let field = Field {
        number: number.parse().ok()?,
        json: match json {
            "^" => JsonName::Inline,
            "*" => JsonName::Whole,
            "-" => JsonName::Special,
            name => JsonName::Property(name),
        },
        kind: match kind {
            "string" => Kind::String,
            "bytes" => Kind::Bytes,
            "bool" => Kind::Bool,
            "int32" => Kind::Int32,
            "int64" => Kind::Int64,
            "uint32" => Kind::Uint32,
            "uint64" => Kind::Uint64,
            "double" => Kind::Double,
            "float" => Kind::Float,
            "enum" => Kind::Enum,
            "message" => Kind::Message,
            _ => return None,
        },
        cardinality: match cardinality {
            "optional" => Cardinality::Optional,
            "repeated" => Cardinality::Repeated,
            "map" => Cardinality::Map,
            _ => return None,
        },
        message: (typ != "-").then_some(typ),
        zero: match zero {
            "omit" => ZeroPolicy::Omit,
            "keep" => ZeroPolicy::Keep,
            "omitzero" => ZeroPolicy::OmitZero,
            "-" => ZeroPolicy::NotApplicable,
            _ => return None,
        },
    };
    Some((message, field))
}
