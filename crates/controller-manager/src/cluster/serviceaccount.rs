//! The ServiceAccount controller ("serviceaccount", acting as service-account-controller): every
//! active namespace has a `default` ServiceAccount; one deleted is made again.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

use super::{SyncError, SyncResult, TARGET};
use crate::cache::{Cache, Change};
use crate::context::Context;
use crate::queue::{ObjectKey, Queue};

/// The ServiceAccount the controller acts as.
const ACCOUNT: &str = "service-account-controller";
/// The ServiceAccount every namespace gets.
const DEFAULT: &str = "default";

/// Whether a namespace takes new content (kube skips those being deleted).
pub(super) fn is_active(namespace: &Namespace) -> bool {
    namespace.metadata.deletion_timestamp.is_none()
        && namespace
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_none_or(|phase| phase == "Active")
}

struct Controller {
    client: kube::Client,
    namespaces: Cache<Namespace>,
    accounts: Cache<ServiceAccount>,
}

pub(super) async fn run(ctx: Context) {
    let Some(client) = ctx.client(ACCOUNT).await else {
        return;
    };
    let namespaces = ctx.informer::<Namespace>();
    let accounts = ctx.informer::<ServiceAccount>();
    let queue = Queue::new();
    let mut tasks = tokio::task::JoinSet::new();
    {
        let queue = queue.clone();
        super::on_change(&mut tasks, namespaces.subscribe(), move |change| {
            if let Change::Applied { new, .. } = change {
                queue.add(ObjectKey::new(
                    "",
                    new.metadata.name.as_deref().unwrap_or(""),
                ));
            }
        });
    }
    {
        let queue = queue.clone();
        super::on_change(&mut tasks, accounts.subscribe(), move |change| {
            if let Change::Deleted(old) = change
                && old.metadata.name.as_deref() == Some(DEFAULT)
            {
                queue.add(ObjectKey::new(
                    "",
                    old.metadata.namespace.as_deref().unwrap_or(""),
                ));
            }
        });
    }
    tokio::select! {
        () = async { namespaces.synced().await; accounts.synced().await } => {}
        () = ctx.stopped() => return,
    }
    let controller = Arc::new(Controller {
        client,
        namespaces: namespaces.cache(),
        accounts: accounts.cache(),
    });
    super::spawn_workers(
        &mut tasks,
        &queue,
        ctx.settings().concurrent_syncs,
        "serviceaccount",
        move |key| {
            let controller = controller.clone();
            async move { controller.sync(&key.name).await }
        },
    );
    super::run_until_stopped(&ctx, "serviceaccount", tasks).await;
}

impl Controller {
    async fn sync(&self, namespace: &str) -> SyncResult {
        let Some(ns) = self.namespaces.get("", namespace) else {
            return Ok(());
        };
        if !is_active(&ns) || self.accounts.get(namespace, DEFAULT).is_some() {
            return Ok(());
        }
        let account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(DEFAULT.into()),
                namespace: Some(namespace.into()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        };
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        match api.create(&PostParams::default(), &account).await {
            Ok(_) => {
                tracing::debug!(target: TARGET, "created ServiceAccount {namespace}/{DEFAULT}");
                Ok(())
            }
            Err(e) if super::is_already_exists(&e) || super::is_namespace_terminating(&e) => Ok(()),
            Err(e) => Err(SyncError::api(
                format!("creating ServiceAccount {namespace}/{DEFAULT}"),
                e,
            )),
        }
    }
}
