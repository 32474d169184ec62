//! `hakube bench pods`: pod start-up latency and scheduler throughput, measured as Kubernetes'
//! density and SLO tests define them, against any Kubernetes API server (hakube's or a real
//! cluster's) through a kubeconfig.
//!
//! A watch on the run's pods opens first; then a few creators create the pods (tiny requests,
//! no grace period) as fast as the server takes them. Each pod's start-up latency runs from its
//! create call returning to the watch first showing it Running with every container started; its
//! scheduling from the create returning to the watch first showing it bound. [`config`] resolves
//! the options, [`manifest`] writes the pods, [`status`] reads them, [`timeline`] books the
//! times, [`summary`] turns them into percentiles and rates, and [`report`] into a table or JSON:
//! all pure and tested inline. Only `setup` (namespace, dry run, clean-up) and `driver` (watch and
//! creators) touch the network.

pub mod config;
mod driver;
pub mod manifest;
pub mod report;
mod setup;
pub mod status;
pub mod summary;
pub mod timeline;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use tokio::sync::watch;

pub use crate::api::{Error, Result};
pub use config::{Config, Options};
pub use report::Report;

use crate::api::connection::Connection;
use crate::api::objects::RunObjects;
use crate::api::report::Target;
use manifest::RunPods;
use summary::Summary;

/// Tells the set-up and the wait that the run was stopped early; `true` once it has been.
type Stop = watch::Receiver<bool>;

/// Runs one benchmark until every pod has started or ended, the timeout passes, or `stop`
/// resolves, and reports; a stopped run reports what it measured so far. The run's pods (and its
/// namespace, if it created one) are deleted before it returns, also when it fails.
pub async fn run(
    config: &Config,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Report> {
    // The stop signal is shared by the set-up and the wait, so it goes into a channel.
    let (stop_sender, stop_receiver) = watch::channel(false);
    let forward = tokio::spawn(async move {
        stop.await;
        let _ = stop_sender.send(true);
    });
    let outcome = run_until(config, stop_receiver).await;
    forward.abort();
    outcome
}

async fn run_until(config: &Config, stop: Stop) -> Result<Report> {
    let connection =
        Connection::open(config.kubeconfig.as_deref(), config.context.as_deref()).await?;
    // The same kind of id as `bench api` runs', so the two never collide in one namespace.
    let id = RunObjects::random(&mut rand::rng()).id().to_owned();
    let run = RunPods::new(id, config.image.clone());
    let target = crate::api::setup::namespace(
        &connection,
        config.namespace.as_deref(),
        run.fresh_namespace(),
        run.labels(),
    )
    .await?;
    let measured = measure(config, &connection, &target, &run, stop).await;
    let leftover = setup::clean_up(&connection, &target, &run, config.concurrency).await;
    match (measured, leftover) {
        (Ok(measured), leftover) => {
            let summary = Summary::of(&measured.timeline);
            let mut report =
                Report::new(config, &target, &summary, measured.elapsed, measured.ending);
            report.warnings.extend(measured.warnings);
            report.warnings.extend(leftover);
            Ok(report)
        }
        (Err(error), None) => Err(error),
        (Err(error), Some(leftover)) => Err(Error::NotCleanedUp {
            error: Box::new(error),
            leftover,
        }),
    }
}

async fn measure(
    config: &Config,
    connection: &Connection,
    target: &Target,
    run: &RunPods,
    mut stop: Stop,
) -> Result<driver::Measured> {
    let api: Api<Pod> = Api::namespaced(connection.client.clone(), &target.namespace);
    setup::admit(connection, &api, run, &mut stop).await?;
    driver::drive(api, run.clone(), config, connection, stop).await
}

/// Resolves once the run is stopped (or its stop sender is gone).
async fn stopped(stop: &mut Stop) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
