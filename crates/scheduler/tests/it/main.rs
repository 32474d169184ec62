//! The scheduler against a real hakube API server over a real etcd (/usr/bin/etcd), with the
//! `system:kube-scheduler` certificate and the bootstrap RBAC: leader election, binding,
//! events, the PodScheduled condition, retries when the cluster changes, and throughput.

mod cluster;
mod scheduling;
