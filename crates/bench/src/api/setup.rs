//! Before and after the measurement: the run's namespace, the pre-created objects, and removing
//! whatever the run created.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};

use super::connection::{Connection, describe};
use super::error::{Error, Result};
use super::objects::{RunObjects, Set};
use super::report::Target;

/// How long one set-up call may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the whole clean-up may take: deleting tens of thousands of objects one by one, when
/// the server has no delete-collection, takes a while.
pub const CLEANUP_TIMEOUT: Duration = Duration::from_secs(120);

/// Creates the run's namespace (`fresh`, labelled `labels`), or checks that the one given
/// exists; `bench api` and `bench pods` both start here.
pub(crate) async fn namespace(
    connection: &Connection,
    given: Option<&str>,
    fresh: String,
    labels: BTreeMap<String, String>,
) -> Result<Target> {
    let namespaces: Api<Namespace> = Api::all(connection.client.clone());
    let target = |namespace: String, namespace_created| Target {
        server: connection.server.clone(),
        namespace,
        namespace_created,
    };
    match given {
        Some(name) => match timed(namespaces.get(name)).await {
            Ok(_) => Ok(target(name.to_owned(), false)),
            Err(kube::Error::Api(status)) if status.code == 404 => {
                Err(Error::NamespaceNotFound(name.to_owned()))
            }
            // A user may write objects in a namespace without being allowed to read the
            // namespace itself; the first create (or dry run) will tell if not.
            Err(kube::Error::Api(status)) if status.code == 403 => {
                Ok(target(name.to_owned(), false))
            }
            Err(error) => Err(connection
                .setup_error(format!("get namespace {name}"), &error)
                .await),
        },
        None => {
            let name = fresh;
            let namespace = Namespace {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    labels: Some(labels),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            };
            match timed(namespaces.create(&PostParams::default(), &namespace)).await {
                Ok(_) => Ok(target(name, true)),
                Err(error) => Err(connection
                    .setup_error(format!("create namespace {name}"), &error)
                    .await),
            }
        }
    }
}

/// Creates the objects that get, list and update use, `concurrency` at a time, and returns the
/// resource version the watchers start from, so that they do not receive these creates.
pub(super) async fn seed(
    connection: &Connection,
    api: &Api<ConfigMap>,
    run: &RunObjects,
    count: usize,
    object_size: usize,
    concurrency: usize,
) -> Result<String> {
    let created = futures::stream::iter(0..count)
        .map(|index| {
            let object = run.config_map(run.seed_name(index), Set::Seed, object_size, None);
            async move { timed(api.create(&PostParams::default(), &object)).await }
        })
        .buffer_unordered(concurrency.max(1))
        .try_for_each(|_| async { Ok(()) })
        .await;
    let namespace = api.namespace().unwrap_or_default();
    if let Err(error) = created {
        return Err(connection
            .setup_error(
                format!("create ConfigMaps in namespace {namespace}"),
                &error,
            )
            .await);
    }
    let params = ListParams::default().labels(&run.run_selector()).limit(1);
    match timed(api.list_metadata(&params)).await {
        Ok(list) => Ok(list.metadata.resource_version.unwrap_or_default()),
        Err(error) => Err(connection
            .setup_error(format!("list ConfigMaps in namespace {namespace}"), &error)
            .await),
    }
}

/// Deletes what the run created: its ConfigMaps, and its namespace if it created one. Returns a
/// sentence for the report's warnings if something is left behind.
pub(super) async fn clean_up(
    connection: &Connection,
    target: &Target,
    run: &RunObjects,
    concurrency: usize,
) -> Option<String> {
    let api: Api<ConfigMap> = Api::namespaced(connection.client.clone(), &target.namespace);
    let objects = tokio::time::timeout(
        CLEANUP_TIMEOUT,
        delete_labelled(&api, &run.run_selector(), concurrency),
    )
    .await
    .unwrap_or_else(|_| Err(format!("not done within {}s", CLEANUP_TIMEOUT.as_secs())));
    if target.namespace_created {
        // Deleting the namespace deletes what is in it, so the objects' outcome does not matter.
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
    objects.err().map(|reason| {
        format!(
            "not every ConfigMap labelled {} in namespace {} was deleted: {reason}",
            run.run_selector(),
            target.namespace
        )
    })
}

/// Deletes a run's objects (those labelled `selector`) in one delete-collection call, or one by
/// one where the server does not offer that; `bench api` and `bench pods` both clean up this way.
pub(crate) async fn delete_labelled<K>(
    api: &Api<K>,
    selector: &str,
    concurrency: usize,
) -> std::result::Result<(), String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let selector = ListParams::default().labels(selector);
    match timed(api.delete_collection(&DeleteParams::default(), &selector)).await {
        Ok(_) => return Ok(()),
        Err(kube::Error::Api(status)) if matches!(status.code, 404 | 405) => {}
        Err(error) => return Err(describe(&error)),
    }
    let names: Vec<String> = timed(api.list_metadata(&selector))
        .await
        .map_err(|error| describe(&error))?
        .items
        .into_iter()
        .filter_map(|object| object.metadata.name)
        .collect();
    futures::stream::iter(names)
        .map(|name| async move {
            match timed(api.delete(&name, &DeleteParams::default())).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
                Err(error) => Err(describe(&error)),
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_for_each(|()| async { Ok(()) })
        .await
}

/// Runs a set-up call with [`SETUP_TIMEOUT`]. A timeout becomes a transport error, as a
/// connection timeout would, so that callers handle one error type.
async fn timed<T>(call: impl Future<Output = kube::Result<T>>) -> kube::Result<T> {
    tokio::time::timeout(SETUP_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(kube::Error::Service(Box::new(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {}s", SETUP_TIMEOUT.as_secs()),
            ))))
        })
}
