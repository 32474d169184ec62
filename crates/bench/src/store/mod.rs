//! `hakube bench store`: an etcd v3 load generator that points at any endpoints, so that hakube and
//! a real etcd can be measured with the same load.
//!
//! [`config`] turns options into a [`Config`]; [`run`] connects, drives the request loops of
//! `worker` and hands the measurements to [`crate::report`].

pub mod config;
pub mod endpoint;
pub mod keys;
pub mod mix;
mod worker;

use std::time::Duration;

use etcd_api::etcdserverpb::kv_client::KvClient;
use etcd_api::etcdserverpb::{DeleteRangeRequest, RangeRequest};

pub use config::{Config, Consistency, Options, Preset};
pub use endpoint::{Endpoint, TlsFiles};
pub use mix::{Mix, OpKind};

use crate::report::Report;
use crate::{Error, Result};

/// How long the preset's clean-up may take: deleting the half million keys of a check-perf run is
/// one large request.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs one benchmark until its request or time limit, or until `stop` resolves, and reports.
pub async fn run(config: &Config, stop: impl Future<Output = ()>) -> Result<Report> {
    let tls = config.tls.client_config()?;
    let leader = if config.target_leader {
        Some(endpoint::find_leader(&config.endpoints, tls.as_ref(), config.request_timeout).await?)
    } else {
        None
    };
    let targets = leader
        .as_ref()
        .map_or(config.endpoints.as_slice(), std::slice::from_ref);
    // Connections go round-robin to the targets, as etcd's benchmark tool spreads them.
    let channels = futures::future::try_join_all((0..config.conns).map(|conn| {
        endpoint::connect(
            &targets[conn % targets.len()],
            tls.as_ref(),
            config.request_timeout,
        )
    }))
    .await?;

    let cleans_up = config.preset.is_some();
    if cleans_up {
        ensure_prefix_empty(config, &targets[0], KvClient::new(channels[0].clone())).await?;
    }
    let measured = worker::drive(config, &channels, stop).await?;
    let mut report = Report::new(
        config,
        leader.as_ref(),
        &measured.recorder,
        measured.elapsed,
    );
    if cleans_up && let Err(error) = delete_prefix(config, &targets[0], tls.as_ref()).await {
        report.warnings.push(format!(
            "the keys under {:?} were not deleted: {}",
            config.keys.prefix(),
            crate::error::chain(&error)
        ));
    }
    Ok(report)
}

/// The end of the range that holds every key starting with `prefix`, as etcd defines it: the
/// prefix with its last byte below 0xff incremented, or `[0]` (to the end of the keys) if there is
/// no such byte.
pub fn prefix_range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

async fn ensure_prefix_empty(
    config: &Config,
    endpoint: &Endpoint,
    mut kv: KvClient<tonic::transport::Channel>,
) -> Result<()> {
    let prefix = config.keys.prefix().as_bytes();
    let request = RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_range_end(prefix),
        limit: 1,
        keys_only: true,
        ..RangeRequest::default()
    };
    let response = kv
        .range(request)
        .await
        .map_err(|source| Error::Rpc {
            call: "KV.Range",
            endpoint: endpoint.to_string(),
            source,
        })?
        .into_inner();
    if response.kvs.is_empty() {
        Ok(())
    } else {
        Err(Error::PrefixNotEmpty {
            prefix: config.keys.prefix().to_owned(),
        })
    }
}

async fn delete_prefix(
    config: &Config,
    endpoint: &Endpoint,
    tls: Option<&tonic::transport::ClientTlsConfig>,
) -> Result<()> {
    // A fresh connection, because the run's connections time requests out much sooner.
    let channel = endpoint::connect(endpoint, tls, CLEANUP_TIMEOUT).await?;
    let prefix = config.keys.prefix().as_bytes();
    KvClient::new(channel)
        .delete_range(DeleteRangeRequest {
            key: prefix.to_vec(),
            range_end: prefix_range_end(prefix),
            prev_kv: false,
        })
        .await
        .map_err(|source| Error::Rpc {
            call: "KV.DeleteRange",
            endpoint: endpoint.to_string(),
            source,
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_range_ends_follow_etcd() {
        let cases: [(&[u8], &[u8]); 4] = [
            (b"/bench/", b"/bench0"),
            (b"a", b"b"),
            (b"a\xff", b"b"),
            (b"\xff\xff", b"\x00"),
        ];
        for (prefix, expected) in cases {
            assert_eq!(prefix_range_end(prefix), expected, "prefix {prefix:?}");
        }
    }
}
