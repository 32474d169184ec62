//! The lifecycle's errors: each says what is wrong and, where there is one, what to do.

use std::path::PathBuf;

/// What can go wrong while managing a profile or running a node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory of the profile could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A profile's config file is not what this version writes.
    #[error("{path} is not a valid profile config: {message}")]
    BadConfig { path: PathBuf, message: String },
    /// The user asked for something that cannot be done; the message says why and what to do.
    #[error("{0}")]
    Invalid(String),
    /// A preflight check failed: the message names the problem and the fix.
    #[error("{0}")]
    Preflight(String),
    /// The profile does not exist.
    #[error("profile {0:?} not found; run `hakube profile list` to see the profiles")]
    NoProfile(String),
    /// A node of the profile does not exist.
    #[error("node {node:?} not found in profile {profile:?}; run `hakube node list -p {profile}`")]
    NoNode { profile: String, node: String },
    /// The PKI could not be made or read.
    #[error(transparent)]
    Pki(#[from] pki::Error),
    /// A Kubernetes API call failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// An etcd call failed.
    #[error("store: {0}")]
    Etcd(String),
    /// A role of the node process failed to start.
    #[error("{role}: {message}")]
    Role { role: &'static str, message: String },
    /// Something did not happen in time.
    #[error("{0}")]
    Timeout(String),
}

impl Error {
    /// An IO error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
