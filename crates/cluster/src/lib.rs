//! hakube's cluster lifecycle: profiles on disk (`profile`), the process driver (`driver`),
//! the node process that hosts a node's roles (`node`), bootstrap and join (`token`,
//! `node::join`), the lifecycle verbs (`lifecycle`), and how a profile looks from outside
//! (`observe`, with the pure verdict in `status`).

pub mod clients;
pub mod driver;
pub mod error;
pub mod etcd;
pub mod health;
pub mod kubeconfig;
pub mod lifecycle;
pub mod names;
pub mod node;
pub mod observe;
pub mod ports;
pub mod preflight;
pub mod profile;
pub mod progress;
pub mod status;
pub mod token;

pub use error::{Error, Result};
pub use profile::{Home, Profile, ProfileConfig};
