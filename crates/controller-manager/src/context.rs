//! What every controller is handed: its credentials, the stop signal of the leadership term it
//! runs in, the manager's settings and an Event recorder.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::watch;

use crate::Settings;
use crate::credentials::Credentials;
use crate::events::Recorder;
use crate::informer::{Informer, Informers, Kind};

/// What every controller gets. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Context {
    settings: Arc<Settings>,
    credentials: Arc<Credentials>,
    informers: Arc<Informers>,
    stop: watch::Receiver<bool>,
}

/// One controller: runs until ctx.stopped(), retrying its own failures (never panics, never returns early).
pub(crate) type ControllerFn = fn(Context) -> BoxFuture<'static, ()>;

/// The first pause between failed attempts to get a client; doubled up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(5);

impl Context {
    /// A context for one leadership term: `stop` turns true (or its sender drops) when the term
    /// ends or the manager shuts down.
    pub(crate) fn new(
        settings: Arc<Settings>,
        credentials: Arc<Credentials>,
        stop: watch::Receiver<bool>,
    ) -> Context {
        let informers = Arc::new(Informers::new(credentials.root(), stop.clone()));
        Context {
            settings,
            credentials,
            informers,
            stop,
        }
    }

    /// The manager's own client (system:kube-controller-manager), for the few controllers kube
    /// runs under the manager's identity rather than a ServiceAccount of their own
    /// (serviceaccount-token: no controller role may read and write Secrets).
    pub(crate) fn manager_client(&self) -> kube::Client {
        self.credentials.root()
    }

    /// A client acting as the ServiceAccount kube-system/<controller> (e.g. "endpoint-controller"),
    /// created if missing, authenticated with a TokenRequest token that is kept fresh, as
    /// kube-controller-manager's --use-service-account-credentials does (the bootstrap RBAC binds
    /// system:controller:<controller> to that SA). Retries until it works or the context stops;
    /// returns None only when stopped.
    pub(crate) async fn client(&self, controller: &str) -> Option<kube::Client> {
        let mut pause = FIRST_RETRY;
        let mut reported = false;
        loop {
            if self.is_stopped() {
                return None;
            }
            let attempt = tokio::select! {
                attempt = self.credentials.client(controller) => attempt,
                () = self.stopped() => return None,
            };
            match attempt {
                Ok(client) => return Some(client),
                Err(e) => {
                    // Once per controller at warn: the API server may simply not be up yet.
                    if reported {
                        tracing::debug!(target: "kube-controller-manager",
                            "error getting credentials for {controller}: {e}");
                    } else {
                        tracing::warn!(target: "kube-controller-manager",
                            "error getting credentials for {controller}, retrying: {e}");
                        reported = true;
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.stopped() => return None,
            }
            pause = (pause * 2).min(MAX_RETRY);
        }
    }

    /// Resolves when the controller must stop: leadership was lost or the manager shuts down.
    pub(crate) async fn stopped(&self) {
        let mut stop = self.stop.clone();
        let _ = stop.wait_for(|stopping| *stopping).await;
    }

    /// Whether the term is over (a non-blocking [`Context::stopped`]).
    pub(crate) fn is_stopped(&self) -> bool {
        *self.stop.borrow() || self.stop.has_changed().is_err()
    }

    #[allow(
        dead_code,
        reason = "part of the controllers' contract; not every controller needs it"
    )]
    pub(crate) fn stop_receiver(&self) -> watch::Receiver<bool> {
        self.stop.clone()
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The term's shared informer for `K` (one list+watch per kind, with the manager's own
    /// identity, as kube's shared informers), started on first use, stopped with the term.
    pub(crate) fn informer<K: Kind>(&self) -> Informer<K> {
        self.informers.get::<K>()
    }

    /// Records core/v1 Events for `component` (e.g. "deployment-controller", "node-controller").
    pub(crate) fn recorder(&self, client: kube::Client, component: &str) -> Recorder {
        Recorder::new(client, component)
    }
}
