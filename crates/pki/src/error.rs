//! The PKI's errors. None is worth retrying as is: each needs a fixed spec, a fixed file or a
//! different directory.

use std::path::PathBuf;

/// Result with the PKI's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while making, loading or extending a PKI.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec cannot describe a cluster: a bad or repeated node name, or no control-plane node.
    #[error("invalid PKI spec: {0}")]
    InvalidSpec(String),
    /// [`Pki::generate`](crate::Pki::generate) found a cluster CA in the directory already.
    /// Replacing it would orphan every certificate the running cluster trusts.
    #[error("{0} already exists; refusing to replace an existing CA")]
    AlreadyExists(PathBuf),
    /// A file the layout needs is not there.
    #[error("{0} is missing")]
    Missing(PathBuf),
    /// A file or directory could not be read, written or listed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// rcgen refused to make or read a key or a certificate.
    #[error("{what}: {source}")]
    Rcgen {
        /// Which key or certificate, e.g. `apiserver.crt`.
        what: String,
        #[source]
        source: rcgen::Error,
    },
    /// A file that should hold a PEM certificate does not.
    #[error("{path}: not a PEM certificate: {reason}")]
    BadCertificate { path: PathBuf, reason: String },
    /// A CA's private key does not belong to its certificate, so what it signs would not verify.
    #[error("{key} is not the key of {cert}")]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    /// The operating system's random source failed.
    #[error("the system random source failed")]
    Random,
}

impl Error {
    /// Wraps an IO error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// Wraps an rcgen error with the key or certificate it concerns.
    pub(crate) fn rcgen(what: impl Into<String>) -> impl FnOnce(rcgen::Error) -> Error {
        let what = what.into();
        move |source| Error::Rcgen { what, source }
    }
}
