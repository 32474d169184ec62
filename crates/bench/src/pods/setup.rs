//! Before and after the measurement: the run's namespace, a dry run that waits until the server
//! takes pods there, and deleting what the run created.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use kube::core::Status;
use tokio::time::Instant;

use super::manifest::RunPods;
use super::{Stop, stopped};
use crate::api::connection::{Connection, describe};
use crate::api::report::Target;
use crate::api::setup::delete_labelled;
use crate::api::{Error, Result};

/// How long one set-up call may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the clean-up may take.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a fresh namespace gets to receive its default ServiceAccount, which Kubernetes'
/// admission requires of every pod and its controller creates shortly after the namespace.
const SERVICE_ACCOUNT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the dry run is repeated while the ServiceAccount is missing.
const SERVICE_ACCOUNT_POLL: Duration = Duration::from_millis(100);

/// Sends a pod with dryRun until the server would take it: this fails early, before anything is
/// timed, when the user may not create pods or the manifest is refused, and waits out a fresh
/// namespace that has no default ServiceAccount yet (API servers without that admission check,
/// such as hakube's, take the pod at once).
pub(super) async fn admit(
    connection: &Connection,
    api: &Api<Pod>,
    run: &RunPods,
    stop: &mut Stop,
) -> Result<()> {
    let probe = run.pod(run.probe_name());
    let params = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let namespace = api.namespace().unwrap_or_default().to_owned();
    let deadline = Instant::now() + SERVICE_ACCOUNT_TIMEOUT;
    loop {
        let error = match timed(api.create(&params, &probe)).await {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        let waits = matches!(&error, kube::Error::Api(status) if lacks_service_account(status));
        if !waits {
            return Err(connection
                .setup_error(format!("create pods in namespace {namespace}"), &error)
                .await);
        }
        if Instant::now() >= deadline {
            return Err(Error::Setup {
                action: format!(
                    "create pods in namespace {namespace}: its default ServiceAccount did not \
                     appear within {}s",
                    SERVICE_ACCOUNT_TIMEOUT.as_secs()
                ),
                reason: describe(&error),
            });
        }
        tokio::select! {
            () = tokio::time::sleep(SERVICE_ACCOUNT_POLL) => {}
            () = stopped(stop) => return Err(Error::Interrupted),
        }
    }
}

/// Whether a refused pod was refused only because its namespace has no ServiceAccount yet.
/// Kubernetes says so in a 403 whose message names the service account, as in "error looking up
/// service account ns/default: serviceaccount \"default\" not found" (older servers: "service
/// account ns/default was not found, retry after the service account is created").
fn lacks_service_account(status: &Status) -> bool {
    let message = status.message.to_ascii_lowercase();
    status.code == 403
        && (message.contains("service account") || message.contains("serviceaccount"))
        && message.contains("not found")
}

/// Deletes what the run created: its pods, and its namespace if it created one. Returns a
/// sentence for the report's warnings if something is left behind.
pub(super) async fn clean_up(
    connection: &Connection,
    target: &Target,
    run: &RunPods,
    concurrency: usize,
) -> Option<String> {
    let api: Api<Pod> = Api::namespaced(connection.client.clone(), &target.namespace);
    // The pods go first, even from a namespace about to be deleted, so that their processes stop
    // at once rather than when the namespace controller gets to them.
    let pods = tokio::time::timeout(
        CLEANUP_TIMEOUT,
        delete_labelled(&api, &run.selector(), concurrency),
    )
    .await
    .unwrap_or_else(|_| Err(format!("not done within {}s", CLEANUP_TIMEOUT.as_secs())));
    if target.namespace_created {
        let namespaces: Api<Namespace> = Api::all(connection.client.clone());
        return timed(namespaces.delete(&target.namespace, &DeleteParams::default()))
            .await
            .err()
            .map(|error| {
                format!(
                    "namespace {} was not deleted: {}",
                    target.namespace,
                    describe(&error)
                )
            });
    }
    pods.err().map(|reason| {
        format!(
            "not every pod labelled {} in namespace {} was deleted: {reason}",
            run.selector(),
            target.namespace
        )
    })
}

/// Runs a set-up call with [`SETUP_TIMEOUT`]. A timeout becomes a transport error, as a
/// connection timeout would, so that callers handle one error type.
pub(super) async fn timed<T>(call: impl Future<Output = kube::Result<T>>) -> kube::Result<T> {
    tokio::time::timeout(SETUP_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(kube::Error::Service(Box::new(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {}s", SETUP_TIMEOUT.as_secs()),
            ))))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_a_missing_service_account_from_other_refusals() {
        let status = |code: u16, message: &str| Status {
            code,
            message: message.to_owned(),
            ..Status::default()
        };
        let cases = [
            (
                status(
                    403,
                    "pods \"bench-x7k2q-probe\" is forbidden: error looking up service account \
                     bench-pods-x7k2q/default: serviceaccount \"default\" not found",
                ),
                true,
            ),
            (
                status(
                    403,
                    "Pod \"p\" is forbidden: service account ns/default was not found, retry \
                     after the service account is created",
                ),
                true,
            ),
            (
                status(
                    403,
                    "pods is forbidden: User \"alice\" cannot create resource \"pods\" in API \
                     group \"\" in the namespace \"ns\"",
                ),
                false,
            ),
            (
                status(
                    403,
                    "pods is forbidden: User \"system:serviceaccount:ns:ci\" cannot create \
                     resource \"pods\"",
                ),
                false,
            ),
            (status(404, "serviceaccount \"default\" not found"), false),
            (status(422, "Pod \"p\" is invalid"), false),
        ];
        for (status, expected) in cases {
            assert_eq!(
                lacks_service_account(&status),
                expected,
                "{}",
                status.message
            );
        }
    }
}
