//! `hakube bench api`: a load generator for any Kubernetes API server (hakube's or a real
//! kube-apiserver), speaking to it through kube-rs with a kubeconfig, as client-go programs do.
//!
//! [`config`] turns options into a [`Config`]. [`run`] connects ([`connection`]), prepares a
//! namespace and pre-created ConfigMaps (`setup`), drives the request loops and watchers of
//! `worker`, removes what it created, and hands the measurements to [`report`]. The mix,
//! the objects, the event-delivery book ([`deliveries`]), the recorder and the report are pure
//! and tested inline; only `connection`, `setup` and `worker` touch the network.

pub mod config;
pub mod connection;
pub mod deliveries;
pub mod error;
pub mod mix;
pub mod objects;
pub mod recorder;
pub mod report;
pub(crate) mod setup;
mod worker;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use tokio::sync::watch;

pub use config::{Config, Options};
pub use error::{Error, Result};
pub use mix::{Mix, OpKind};
pub use report::Report;

use connection::Connection;
use objects::RunObjects;
use report::Target;

/// Tells the clients the run was stopped early; `true` once it has been.
type Stop = watch::Receiver<bool>;

/// Runs one benchmark until its request or time limit, or until `stop` resolves, and reports.
/// Whatever it created is deleted before it returns, also when it fails or is stopped.
pub async fn run(
    config: &Config,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Report> {
    // The stop signal is shared by the set-up and by every client, so it goes into a channel.
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
    let run = RunObjects::random(&mut rand::rng());
    let target = setup::namespace(
        &connection,
        config.namespace.as_deref(),
        run.fresh_namespace(),
        std::collections::BTreeMap::from([(objects::RUN_LABEL.to_owned(), run.id().to_owned())]),
    )
    .await?;
    let measured = measure(config, &connection, &target, &run, stop).await;
    let leftover = setup::clean_up(&connection, &target, &run, config.clients()).await;
    match (measured, leftover) {
        (Ok(measured), leftover) => {
            let mut report = Report::new(config, &target, &measured.recorder, measured.elapsed);
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
    run: &RunObjects,
    mut stop: Stop,
) -> Result<worker::Measured> {
    let api: Api<ConfigMap> = Api::namespaced(connection.client.clone(), &target.namespace);
    let start_version = tokio::select! {
        seeded = setup::seed(
            connection,
            &api,
            run,
            config.list_size,
            config.object_size,
            config.clients(),
        ) => seeded?,
        () = stopped(&mut stop) => return Err(Error::Interrupted),
    };
    let plan = worker::Plan {
        api,
        run: run.clone(),
        mix: config.mix,
        object_size: config.object_size,
        list_size: config.list_size,
        total: config.total,
        duration: config.duration,
        request_clients: config.request_clients,
        watchers: config.watchers,
        start_version,
    };
    worker::drive(plan, connection, stop).await
}

/// Resolves once the run is stopped (or its stop sender is gone).
async fn stopped(stop: &mut Stop) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
