//! The controller manager's errors.

/// What can go wrong starting the controller manager or getting a controller's credentials.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or failed a request; retryable.
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    /// A kube client could not be built from the configuration; fatal for that configuration.
    #[error("building a client: {0}")]
    Client(#[source] kube::Error),
    /// A token file could not be written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The TokenRequest was answered without a token.
    #[error("token request for {0} returned no token")]
    NoToken(String),
    /// A controller could not finish syncing an object (the message says why); it is retried.
    #[error("{0}")]
    Sync(String),
    /// Leader election could not start (bad timings).
    #[error("leader election: {0}")]
    Leader(#[source] leader::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether this is the API server's 409 Conflict: a stale read, retried at once.
    pub(crate) fn is_conflict(&self) -> bool {
        matches!(self, Error::Api { source: kube::Error::Api(status), .. } if status.code == 409)
    }

    pub(crate) fn api(what: impl Into<String>, source: kube::Error) -> Error {
        Error::Api {
            what: what.into(),
            source,
        }
    }
}
