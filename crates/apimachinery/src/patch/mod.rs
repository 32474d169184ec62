//! JSON patch, JSON merge patch and strategic merge patch: the three patch types kube-apiserver
//! accepts, applied to an object's JSON.

mod error;
mod go_value;
mod json_patch;
mod list_order;
mod merge_patch;
mod strategic;
mod strategy;

#[cfg(test)]
mod json_patch_tests;
#[cfg(test)]
mod merge_patch_tests;
#[cfg(test)]
mod strategic_tests;

pub use error::PatchError;
pub use json_patch::json_patch;
pub use merge_patch::merge_patch;
pub use strategic::strategic_merge;
pub use strategy::{MergeStrategy, merge_strategy};
