//! Integration tests of the controller manager against a real API server (this workspace's,
//! in this process) over a real etcd (/usr/bin/etcd): leader election, ServiceAccount
//! credentials, Deployments and ReplicaSets reconciled end to end, and the cluster controllers
//! (endpoints, slices, namespaces, garbage collection, node lifecycle and the rest). No kubelet runs, so the
//! tests mark pods Ready themselves.

mod cluster_controllers;
mod deployment;
mod kubectl;
mod leadership;
mod support;
