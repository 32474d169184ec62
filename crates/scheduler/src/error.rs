//! The scheduler's errors.

/// A `Result` with the scheduler's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong starting the scheduler or talking to the API server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot work (an empty identity or scheduler name); fatal.
    #[error("invalid scheduler configuration: {0}")]
    Config(String),
    /// The leader election could not start; fatal.
    #[error("cannot campaign for the kube-scheduler lease")]
    Leader(#[source] leader::Error),
    /// An API request failed; the scheduler retries these.
    #[error("{what}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
}

impl Error {
    pub(crate) fn api(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let what = what.into();
        move |source| Error::Api { what, source }
    }

    /// The HTTP status code of a failed API request, if it got that far.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Error::Api {
                source: kube::Error::Api(status),
                ..
            } => Some(status.code),
            _ => None,
        }
    }
}

/// An error and its causes, joined with `: `, for log lines.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
