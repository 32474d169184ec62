//! Load generators that measure hakube side by side with the real peers it replaces.
//!
//! [`store`] drives any etcd v3 endpoints (a `hakube etcd` cluster or a real etcd) with the same
//! mix of puts, ranges and transactions, and [`report`] turns what it measured into a table or a
//! JSON object. [`api`] does the same for any Kubernetes API server (hakube's or a real
//! kube-apiserver) through kube-rs and a kubeconfig, and [`pods`] measures pod start-up latency
//! and scheduler throughput on any cluster. Everything that decides (option resolution,
//! the mix, percentiles, formatting) is pure and tested inline; only [`store::run`],
//! [`store::endpoint`] and the network parts of [`api`] touch the network.

pub mod api;
pub mod duration;
pub mod error;
pub mod pods;
pub mod recorder;
pub mod report;
pub mod store;

pub use duration::parse_duration;
pub use error::{Error, Result};
pub use report::Report;
