//! The kubelet's errors. Those from [`start`](crate::start) (files, TLS, ports, settings) are fatal: the
//! configuration must change. Those from talking to the API server are retried by the loops that
//! meet them, and only logged.

use std::path::PathBuf;

/// Result with the kubelet's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while starting the kubelet or while it talks to the API server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A certificate or key file could not be read.
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A certificate, key or CA file does not hold what TLS needs.
    #[error("TLS: {0}")]
    Tls(String),
    /// A setting of the configuration is invalid (a malformed pod CIDR...).
    #[error("kubelet configuration: {0}")]
    Config(String),
    /// A listener could not be bound (the port is taken, or the address is not local).
    #[error("binding {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// The API server refused or failed a request. Retryable: the loops try again later.
    #[error("{what}: {source}")]
    Api {
        /// What the kubelet was doing, e.g. `creating Node n1`.
        what: String,
        #[source]
        source: Box<kube::Error>,
    },
    /// The API server did not answer in time. Retryable.
    #[error("{0}: the API server did not answer in time")]
    Timeout(String),
}

impl Error {
    /// Wraps an API client error with what the kubelet was doing.
    pub(crate) fn api(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let what = what.into();
        move |source| Error::Api {
            what,
            source: Box::new(source),
        }
    }

    /// True for errors the loops retry: the API server may answer next time.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Api { .. } | Error::Timeout(_))
    }

    /// The HTTP status the API server answered with, if it answered with a Status.
    pub(crate) fn code(&self) -> Option<u16> {
        match self {
            Error::Api { source, .. } => match source.as_ref() {
                kube::Error::Api(status) => Some(status.code),
                _ => None,
            },
            _ => None,
        }
    }
}
