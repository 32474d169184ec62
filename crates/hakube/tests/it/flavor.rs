//! Which server a cluster runs: real etcd or `hakube etcd`, and the check that the real etcd
//! tools are installed.

use std::path::Path;

use anyhow::{Result, bail};

use crate::etcdctl::ETCDCTL;

/// Where Debian's etcd-server package installs etcd.
pub const ETCD: &str = "/usr/bin/etcd";

/// Which server implementation a cluster runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    RealEtcd,
    Hakube,
}

impl Flavor {
    /// The flavor a test of hakube should run. Setting `HAKUBE_IT_FLAVOR=etcd` runs those tests
    /// against real etcd instead, which is how the tests themselves are checked: a test that
    /// fails against real etcd is a wrong test, not a hakube bug.
    pub fn under_test() -> Flavor {
        match std::env::var("HAKUBE_IT_FLAVOR").as_deref() {
            Err(_) | Ok("") | Ok("hakube") => Flavor::Hakube,
            Ok("etcd") => Flavor::RealEtcd,
            Ok(other) => panic!("HAKUBE_IT_FLAVOR={other:?}: expected `hakube` or `etcd`"),
        }
    }

    /// The program to run and the subcommand that makes it an etcd member.
    pub fn program(self) -> (&'static str, Option<&'static str>) {
        match self {
            Flavor::RealEtcd => (ETCD, None),
            Flavor::Hakube => (env!("CARGO_BIN_EXE_hakube"), Some("etcd")),
        }
    }
}

/// Fails loudly when the real etcd tools are missing: the tests must never pass by skipping.
pub fn require_tools(flavor: Flavor) -> Result<()> {
    let mut needed = vec![ETCDCTL];
    if flavor == Flavor::RealEtcd {
        needed.push(ETCD);
    }
    for tool in needed {
        if !Path::new(tool).exists() {
            bail!(
                "{tool} is missing; the end-to-end tests need real etcd 3.4 and etcdctl. \
                 Install them with `apt-get install -y etcd-server etcd-client`."
            );
        }
    }
    Ok(())
}
