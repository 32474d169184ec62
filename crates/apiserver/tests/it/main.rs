//! Integration tests of the apiserver crate's parts that talk to other processes: the kubelet
//! client against a fake kubelet over real mTLS, the `kubernetes` Endpoints reconciler of API
//! servers in this process over a real etcd (/usr/bin/etcd), and exec and `nodes/proxy` through
//! an API server to a fake kubelet.

mod certs;
mod connect;
mod endpoints;
mod kubelet;
