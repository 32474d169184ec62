//! Typed round-trips through k8s-openapi: decoding checks, unknown-field detection, defaulting and
//! validation, each worded as kube-apiserver 1.33 words it.
//!
//! The server calls these in order on every write: [`decode`] the body, [`apply_defaults`]
//! (and [`admit_pod`] for new Pods), then [`validate`], against the stored object on updates.
//! All of it is pure: names, times and UIDs come from the caller ([`generate_name`] takes its
//! random suffix as an argument).

// Every entry point answers with the crate's `ApiError`, which callers turn into a `Status`
// as is; boxing it here alone would only add noise.
#![allow(clippy::result_large_err)]

mod decode;
pub(crate) mod defaults;
mod kinds;
pub mod names;
mod validate;

#[cfg(test)]
mod tests;

pub use decode::{FieldValidation, decode};
pub use defaults::{admit_pod, apply_defaults};
pub use names::{
    generate_name, is_config_map_key, is_dns1035_label, is_dns1123_label, is_dns1123_subdomain,
    is_label_value, is_qualified_name, is_valid_path_segment_name, name_suffix,
};
pub use validate::validate;
