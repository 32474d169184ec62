//! The VIP agent's errors. Only [`Error::Config`], [`Error::CaFile`] and [`Error::BadCa`] reach a
//! caller (from [`start`](crate::start)); they are fatal until the config or the file is fixed.
//! The others are met inside the running loops, which log them and retry.

use std::path::PathBuf;

/// Result with the VIP agent's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while starting or running the agent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The lease timings cannot give a safe election (see [`LeaseTimings`](crate::LeaseTimings)).
    #[error("invalid VIP agent config: {0}")]
    Config(String),
    /// The CA file could not be read.
    #[error("{path}: {source}")]
    CaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The CA file holds no usable PEM certificate, or rustls refused one.
    #[error("{path}: not a usable PEM CA: {reason}")]
    BadCa { path: PathBuf, reason: String },
    /// rustls could not build a client configuration with the ring provider.
    #[error("TLS client configuration: {0}")]
    Tls(#[source] rustls::Error),
    /// A call to the local API server failed; the loops retry on their next period.
    #[error("API call failed: {0}")]
    Kube(#[from] kube::Error),
    /// A call to the local API server did not answer in time; retried like [`Error::Kube`].
    #[error("API call timed out")]
    Timeout,
}
