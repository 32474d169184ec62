//! The load generator's errors: bad options are told apart from a target that cannot be reached.

use std::path::PathBuf;

/// Result with the bench crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop a benchmark before it measures anything. Failed requests during a run are not
/// errors of this kind: they are counted in the report, because they are part of the measurement.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An option is missing, malformed or contradicts another one. The message names the option.
    #[error("{0}")]
    InvalidOption(String),
    /// A TLS file named by --cacert, --cert or --key cannot be read.
    #[error("cannot read {what} {}", path.display())]
    ReadTls {
        /// Which file it is ("CA certificate", "client certificate", "client key").
        what: &'static str,
        /// The path as given.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// An endpoint is not a URI the gRPC transport accepts, or its TLS settings are rejected.
    #[error("invalid endpoint {endpoint}")]
    InvalidEndpoint {
        /// The endpoint as normalised from --endpoints.
        endpoint: String,
        /// What the transport rejected.
        #[source]
        source: tonic::transport::Error,
    },
    /// The TCP, TLS or HTTP/2 connection to an endpoint failed. Retrying may help once the target
    /// is up.
    #[error("cannot connect to {endpoint}")]
    Connect {
        /// The endpoint that did not answer.
        endpoint: String,
        /// The transport's reason.
        #[source]
        source: tonic::transport::Error,
    },
    /// A set-up or clean-up call (not a measured request) failed.
    #[error("{call} on {endpoint} failed")]
    Rpc {
        /// The call, such as "Maintenance.Status".
        call: &'static str,
        /// The endpoint it was sent to.
        endpoint: String,
        /// The gRPC status the server (or the transport) returned.
        #[source]
        source: tonic::Status,
    },
    /// --target-leader was given but no endpoint knows of a leader, or the leader has no client URL.
    #[error("cannot find the leader: {0}")]
    NoLeader(String),
    /// The check-perf preset deletes its prefix afterwards, so it refuses to start on keys it did
    /// not write.
    #[error(
        "prefix {prefix:?} already has keys; delete them first (etcdctl del --prefix {prefix})"
    )]
    PrefixNotEmpty {
        /// The preset's key prefix.
        prefix: String,
    },
    /// A request loop panicked; this is a bug in the load generator.
    #[error("a client loop failed")]
    Worker(#[source] tokio::task::JoinError),
}

/// An error and its causes on one line, as `anyhow`'s `{:#}` prints them.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    with_causes(error.to_string(), error.source())
}

/// A failed request's status in one line: its code, its message, and the transport's causes,
/// which say more than "transport error" alone.
pub(crate) fn status_line(status: &tonic::Status) -> String {
    with_causes(
        format!("{:?}: {}", status.code(), status.message()),
        std::error::Error::source(status),
    )
}

fn with_causes(mut text: String, mut source: Option<&(dyn std::error::Error + 'static)>) -> String {
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Transport errors often repeat their cause's text; saying it once is enough.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
