//! What the machine lends to clusters: a block of loopback addresses each, and a lock that
//! lets timing-sensitive tests run alone.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use anyhow::{Result, bail};
use rand::Rng;

/// Loopback hosts reserved per cluster: three founders plus room for members added later.
pub const HOSTS_PER_BLOCK: u8 = 6;

/// Tests that measure timing (a fail-over within two election timeouts) hold the machine
/// alone; the others share it. Two cores running five clusters at once would blur timings.
static MACHINE: RwLock<()> = RwLock::new(());

pub fn machine_alone() -> RwLockWriteGuard<'static, ()> {
    // A test that panicked while holding the lock does not make the machine unusable.
    MACHINE
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn machine_shared() -> RwLockReadGuard<'static, ()> {
    MACHINE
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Picks a free 127.A.B.0/24-style block so that every member can listen on etcd's usual ports
/// 2379 and 2380, and parallel tests and test binaries do not collide.
pub fn reserve_block() -> Result<(u8, u8)> {
    // Blocks handed out in this process; ports of a killed cluster may still look free.
    static TAKEN: Mutex<BTreeSet<(u8, u8)>> = Mutex::new(BTreeSet::new());
    let mut rng = rand::rng();
    for _ in 0..200 {
        let block = (rng.random_range(100..250), rng.random_range(100..250));
        let mut taken = TAKEN.lock().expect("address blocks");
        if taken.contains(&block) {
            continue;
        }
        let free = (1..=HOSTS_PER_BLOCK).all(|host| {
            let ip = Ipv4Addr::new(127, block.0, block.1, host);
            TcpListener::bind((ip, 2379)).is_ok() && TcpListener::bind((ip, 2380)).is_ok()
        });
        if free {
            taken.insert(block);
            return Ok(block);
        }
    }
    bail!("found no free 127.x.y.0 block with ports 2379 and 2380 open for listening")
}
