//! The ways a selector can be refused; each message is the one kube-apiserver puts in its 400 reply.

use super::validation::go_quote;

/// Why a label or field selector was refused. `Display` gives the exact text kube-apiserver
/// answers with, so the server can wrap it in a `BadRequest` Status unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A label selector that does not parse, or whose keys or values are not valid label keys and
    /// values. The text is kube's, for example
    /// `unable to parse requirement: found '', expected: identifier`.
    #[error("{0}")]
    InvalidLabelSelector(String),
    /// A `matchExpressions` operator other than `In`, `NotIn`, `Exists` and `DoesNotExist`.
    #[error("{} is not a valid label selector operator", go_quote(.0))]
    UnknownOperator(String),
    /// A field selector term with none of `=`, `==` and `!=` in it.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    InvalidFieldTerm { selector: String, term: String },
    /// A backslash in a field selector value followed by anything but `\`, `,` or `=`.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscape(String),
    /// A `,` or `=` inside a field selector value that was not escaped. kube prints the
    /// character's code point, not the character.
    #[error("invalid field selector: unescaped character in value: {}", u32::from(*.0))]
    UnescapedCharacter(char),
    /// A field the resource does not let clients select on, worded as the core group and most
    /// others word it.
    #[error("field label not supported: {0}")]
    FieldLabelNotSupported(String),
    /// A field the resource does not let clients select on, worded as batch/v1 Jobs word it.
    #[error("field label {} not supported for {kind}", go_quote(field))]
    FieldLabelNotSupportedFor { field: String, kind: &'static str },
    /// A field selector on a resource that offers only `metadata.name` and `metadata.namespace`.
    #[error(
        "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
        go_quote(.0)
    )]
    UnknownField(String),
}
