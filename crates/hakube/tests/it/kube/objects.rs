//! One object at a time through kubectl: read as JSON (telling "not found" apart from other
//! failures), required to be gone, and raw POSTs to a subresource or collection with a body on
//! stdin (`kubectl create --raw`).

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use super::kubectl::Kubectl;
use crate::etcdctl::Output;

/// `kubectl get <what> -o json`, or `None` when the server says it is not found.
pub fn get_json(kubectl: &Kubectl, what: &[&str]) -> Result<Option<Value>> {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend(["-o", "json"]);
    let out = kubectl.run(&args)?;
    if out.success() {
        let object = serde_json::from_str(&out.stdout)
            .with_context(|| format!("kubectl {} printed no JSON: {out}", args.join(" ")))?;
        return Ok(Some(object));
    }
    ensure!(
        out.stderr.starts_with("Error from server (NotFound)"),
        "kubectl {} failed: {out}",
        args.join(" ")
    );
    Ok(None)
}

/// Like `get_json`, for an object that must exist.
pub fn must_get(kubectl: &Kubectl, what: &[&str]) -> Result<Value> {
    get_json(kubectl, what)?.with_context(|| format!("{} should exist", what.join(" ")))
}

/// Requires the server to say `what` is not found: a refused or finished deletion or creation
/// left nothing behind.
pub fn absent(kubectl: &Kubectl, what: &[&str]) -> Result<()> {
    if let Some(object) = get_json(kubectl, what)? {
        anyhow::bail!(
            "{} should not exist, but the server has: {:#}",
            what.join(" "),
            object["metadata"]
        );
    }
    Ok(())
}

/// `kubectl create --raw <uri> -f -` with `body` on stdin: a POST of exactly those bytes.
pub fn post_raw(kubectl: &Kubectl, uri: &str, body: &str) -> Result<Output> {
    kubectl.run_with_stdin(&["create", "--raw", uri, "-f", "-"], Some(body))
}
