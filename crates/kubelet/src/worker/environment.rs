//! A container's environment at its start: the Secrets and ConfigMaps it names, read from the
//! API server, and the Services (from the node's cache), handed to the pure builder.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;

use super::{SlotId, Worker};
use crate::call::call;
use crate::env::{self, EnvInput, Source, Sources};

/// How long a container start waits for the Services to be listed once.
const SERVICES_WAIT: Duration = Duration::from_secs(5);

impl Worker {
    /// The container's environment, reading the Secrets and ConfigMaps it names.
    pub(super) async fn environment(&self, id: SlotId) -> Result<Vec<(String, String)>, String> {
        let slot = if id.init {
            &self.init[id.index]
        } else {
            &self.main[id.index]
        };
        let container = &slot.spec;
        let refs = env::references(container);
        let mut sources = Sources::default();
        let client = self.ctx.client.clone();
        for name in &refs.secrets {
            let api: Api<Secret> = Api::namespaced(client.clone(), &self.namespace);
            let source = match call(&format!("reading secret {name}"), api.get_opt(name)).await {
                Ok(Some(secret)) => Source::Found(
                    secret
                        .data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                        .collect(),
                ),
                Ok(None) => Source::NotFound,
                Err(e) => Source::Failed(e.to_string()),
            };
            sources.secrets.insert(name.clone(), source);
        }
        for name in &refs.config_maps {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), &self.namespace);
            let source = match call(&format!("reading configmap {name}"), api.get_opt(name)).await {
                Ok(Some(map)) => {
                    let mut data = map.data.unwrap_or_default();
                    for (k, v) in map.binary_data.unwrap_or_default() {
                        data.entry(k)
                            .or_insert_with(|| String::from_utf8_lossy(&v.0).into_owned());
                    }
                    Source::Found(data)
                }
                Ok(None) => Source::NotFound,
                Err(e) => Source::Failed(e.to_string()),
            };
            sources.config_maps.insert(name.clone(), source);
        }
        let services = &self.ctx.services;
        if tokio::time::timeout(SERVICES_WAIT, services.wait_until_ready())
            .await
            .is_err()
        {
            return Err(
                "services have not yet been read at least once, cannot construct envvars".into(),
            );
        }
        let all = services.state();
        let links = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.enable_service_links)
            .unwrap_or(true);
        let service_vars =
            env::service_variables(&self.namespace, links, all.iter().map(|s| s.as_ref()));
        let home = self.dir.join("containers").join(&container.name);
        env::build(&EnvInput {
            pod: &self.pod,
            container,
            pod_ip: self.ip,
            host_ip: self.ctx.node_ip,
            service_vars: &service_vars,
            sources: &sources,
            allocatable: self.ctx.allocatable,
            home: &home.to_string_lossy(),
        })
    }
}
