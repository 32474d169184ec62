//! Integration tests of the apiserver crate's parts that talk to other processes: the kubelet
//! client against a fake kubelet over real mTLS, and the `kubernetes` Endpoints reconciler of
//! API servers in this process over a real etcd (/usr/bin/etcd).

mod certs;
mod endpoints;
mod kubelet;
