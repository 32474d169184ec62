//! End-to-end tests of `hakube apiserver` driven by the real kubectl, each run once over real
//! etcd and once over `hakube etcd`: the commands people type, the tables kubectl prints,
//! Secrets encrypted at rest, optimistic concurrency, watches, and authentication and RBAC.
//!
//! Needs /usr/bin/kubectl besides the store tests' etcd tools. `HAKUBE_IT_FLAVOR` does not apply:
//! every test here runs over both stores.

/// Makes two tests of a test body `fn name(flavor: Flavor) -> Result<()>`, one per store
/// flavor: `name::real_etcd` and `name::hakube_etcd`.
macro_rules! on_both_stores {
    ($($body:ident),+ $(,)?) => {$(
        mod $body {
            #[test]
            fn real_etcd() -> anyhow::Result<()> {
                let _machine = crate::machine::machine_shared();
                super::$body(crate::flavor::Flavor::RealEtcd)
            }

            #[test]
            fn hakube_etcd() -> anyhow::Result<()> {
                let _machine = crate::machine::machine_shared();
                super::$body(crate::flavor::Flavor::Hakube)
            }
        }
    )+};
}

mod columns;
mod harness;
mod kubectl;
mod objects;
mod pki;
pub(crate) mod seed;

mod at_rest;
mod auth;
mod bad_input;
mod conflicts;
mod discovery;
mod dry_run;
mod edits;
mod eviction;
mod lifecycle;
mod paging;
mod pods;
mod rotation;
mod server_side_apply;
mod tables;
mod tokens;
mod watches;
mod workflow;
