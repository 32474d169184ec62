//! End-to-end tests of `hakube etcd`: real member processes on loopback, driven by the real
//! etcdctl, compared with real etcd; and of `hakube apiserver` over either store, driven by the
//! real kubectl (`kube`).
//!
//! Needs /usr/bin/etcd and /usr/bin/etcdctl (`apt-get install -y etcd-server etcd-client`), and
//! /usr/bin/kubectl for the `kube` tests.
//! `HAKUBE_IT_FLAVOR=etcd` runs the hakube tests against real etcd, to check the tests
//! themselves; `HAKUBE_IT_KEEP=1` keeps each cluster's temp dir (data and logs) for inspection.

mod cluster;
mod compare;
mod differential;
mod etcdctl;
mod faults;
mod flavor;
mod ha;
mod kube;
mod load;
mod machine;
mod membership;
mod normalise;
mod pki;
mod script;
mod snapshots;
mod status;
mod table;
mod three_members;
mod tls;
