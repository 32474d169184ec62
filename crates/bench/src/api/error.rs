//! What stops an API benchmark before (or instead of) measuring, each with a one-line reason.
//!
//! kube's errors already print their causes inside their own message, so keeping them as
//! `#[source]` would print every cause twice on the command line; the variants hold the one-line
//! reason instead, worked out by [`super::connection::describe`].

/// Result with the API benchmark's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop an API benchmark. Failed requests during the run are not errors of this kind:
/// they are counted in the report, because they are part of the measurement.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kubeconfig is missing, unreadable, or lacks the context asked for. Fatal until the
    /// user points --kubeconfig or --context elsewhere.
    #[error("{0}")]
    Kubeconfig(String),
    /// The client cannot be built from the kubeconfig, e.g. a certificate in it is malformed.
    #[error("cannot use the kubeconfig's credentials for {server}: {reason}")]
    Client {
        /// The API server's URL.
        server: String,
        /// Why.
        reason: String,
    },
    /// The API server did not answer: connection refused, TLS failure, timeout. Retrying may
    /// help once it is up.
    #[error("cannot reach the API server at {server}: {reason}")]
    Unreachable {
        /// The API server's URL.
        server: String,
        /// The transport's reason.
        reason: String,
    },
    /// The server refused to let the user do what the benchmark needs.
    #[error("forbidden: {user} cannot {action}: {message}")]
    Forbidden {
        /// What the benchmark tried, such as `create namespaces`.
        action: String,
        /// Who the server says the user is, or the kubeconfig's user name if it would not say.
        user: String,
        /// The server's message.
        message: String,
    },
    /// The namespace given with --namespace does not exist.
    #[error(
        "namespace {0:?} does not exist; create it or leave out --namespace to use a fresh one"
    )]
    NamespaceNotFound(String),
    /// A set-up step (not a measured request) failed on the server.
    #[error("cannot {action}: {reason}")]
    Setup {
        /// What the benchmark tried, such as `create namespace bench-x7k2q`.
        action: String,
        /// The server's status, or the transport's reason.
        reason: String,
    },
    /// The run was stopped (Ctrl-C) while it was still setting up, so there is nothing to report.
    #[error("interrupted before the measurement began")]
    Interrupted,
    /// The run failed, and removing what it had created failed too.
    #[error("{error}; also, {leftover}")]
    NotCleanedUp {
        /// Why the run failed.
        error: Box<Error>,
        /// What was left behind, and why.
        leftover: String,
    },
    /// A client loop panicked; this is a bug in the load generator.
    #[error("a client loop failed")]
    Worker(#[source] tokio::task::JoinError),
}
