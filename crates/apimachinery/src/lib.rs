//! Kubernetes API machinery without IO: the resource registry, `Status` errors, label and field
//! selectors, patches, Table printers, discovery documents and OpenAPI. The API server calls these;
//! none of them touch a socket or a disk.

pub mod apply;
pub mod discovery;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod resource;
pub mod schema;
pub mod selector;
pub mod status;
pub mod table;

pub use resource::ResourceInfo;
pub use status::{ApiError, Cause};
