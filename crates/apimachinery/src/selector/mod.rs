//! Label and field selectors: parsing and matching, as kube-apiserver applies them.

mod error;
mod field;
mod label;
mod label_parser;
mod selectable;
mod validation;

#[cfg(test)]
mod field_tests;
#[cfg(test)]
mod label_tests;

pub use error::SelectorError;
pub use field::{FieldOperator, FieldRequirement, FieldSelector};
pub use label::{LabelSelector, Operator, Requirement};
pub use validation::{label_key_errors, label_value_errors};

pub(crate) use validation::go_quote;
