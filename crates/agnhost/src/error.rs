//! Why an agnhost subcommand could not run.

use std::net::SocketAddr;

/// An agnhost failure; each ends the process with a message and exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listener could not be opened (the port is taken, or below 1024 without the privilege).
    #[error("listening on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// Serving failed after it started (a UDP socket or the listener broke).
    #[error("serving on {addr}: {source}")]
    Serve {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The async runtime could not be built.
    #[error("starting the runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
