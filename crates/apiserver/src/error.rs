//! The API server's own failures: bad configuration and start-up problems. Request errors are
//! `apimachinery::ApiError`s, answered as Kubernetes Status objects.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or file content is wrong; the message says which and how to fix it.
    #[error("{0}")]
    Config(String),
    /// A file named by a flag could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// TLS material was rejected.
    #[error("TLS: {0}")]
    Tls(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
