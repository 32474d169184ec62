//! Integration tests of the controller manager against a real API server (this workspace's,
//! in this process) over a real etcd (/usr/bin/etcd): leader election, ServiceAccount
//! credentials, and Deployments and ReplicaSets reconciled end to end. No kubelet runs, so the
//! tests mark pods Ready themselves.

mod deployment;
mod kubectl;
mod leadership;
mod support;
