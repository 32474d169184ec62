//! The election's errors. Only [`Error::Config`] reaches a caller (from [`start`](crate::start));
//! the others are met inside the loop, reported to the observer and retried.

/// Result with the election's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while starting or running an election.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The lease timings cannot give a safe election (see [`LeaseTimings`](crate::LeaseTimings)).
    #[error("invalid leader election config: {0}")]
    Config(String),
    /// A call to the API server failed; the loop retries on its next period.
    #[error("API call failed: {0}")]
    Kube(#[from] kube::Error),
    /// A call to the API server did not answer in time; retried like [`Error::Kube`].
    #[error("API call timed out")]
    Timeout,
}
