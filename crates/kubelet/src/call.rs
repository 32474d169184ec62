//! One API server call with a deadline: the kube client waits for an answer forever, and a loop
//! stuck on a dead connection would stop heartbeating without a word.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};

/// How long one API call may take. As long as the renew interval: past it, the next renewal is
/// due anyway.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs one API call, naming it in any error (`what` reads like "creating Node n1").
pub(crate) async fn call<T>(
    what: &str,
    request: impl Future<Output = kube::Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(CALL_TIMEOUT, request).await {
        Ok(answer) => answer.map_err(Error::api(what)),
        Err(_) => Err(Error::Timeout(what.to_string())),
    }
}
