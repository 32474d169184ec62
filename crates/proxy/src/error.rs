//! The proxy's errors. [`Error::Config`] and [`Error::NoRuntime`] reach a caller of
//! [`start`](crate::start) and are fatal; [`Error::Kube`] is met inside the running loops, which
//! log it and go on (watches retry with back-off).

/// Result with the proxy's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while starting or running the proxy.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The [`ProxyConfig`](crate::ProxyConfig) cannot work, e.g. an empty node name.
    #[error("invalid kube-proxy config: {0}")]
    Config(String),
    /// [`start`](crate::start) was called outside a Tokio runtime, which runs its tasks.
    #[error("kube-proxy must be started inside a Tokio runtime")]
    NoRuntime,
    /// An API call failed.
    #[error("API call failed: {0}")]
    Kube(#[from] kube::Error),
}
