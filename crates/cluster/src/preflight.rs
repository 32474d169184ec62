//! Preflight checks before nodes start: each failure is one line that says what is wrong and
//! what to do. The decisions are pure; `bind_problem` and `open_files_limit` are the IO.

use std::net::{IpAddr, SocketAddr, TcpListener};

use crate::error::{Error, Result};

/// The fewest open files a cluster needs (each node holds sockets, log files and two redb files).
pub const MIN_OPEN_FILES: u64 = 1024;

/// Checks the open-files limit.
pub fn check_open_files(limit: Option<u64>) -> Result<()> {
    match limit {
        Some(n) if n < MIN_OPEN_FILES => Err(Error::Preflight(format!(
            "too few file descriptors: the limit is {n} and hakube needs at least {MIN_OPEN_FILES}; raise it with `ulimit -n 4096`"
        ))),
        _ => Ok(()),
    }
}

/// The soft limit on open files, from /proc/self/limits (`None` where it cannot be read).
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line.split_whitespace().nth(3)?;
    if soft == "unlimited" {
        return Some(u64::MAX);
    }
    soft.parse().ok()
}

/// What binding `ip:port` says: `None` when it is free.
pub fn bind_problem(ip: IpAddr, port: u16, what: &str) -> Option<String> {
    match TcpListener::bind(SocketAddr::new(ip, port)) {
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Some(format!(
            "port {port} on {ip} ({what}) is already in use; stop what uses it, or give the profile another block with --subnet"
        )),
        Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => Some(format!(
            "address {ip} is not usable on this machine ({e}); the process driver needs all of 127.0.0.0/8 on the loopback interface, as Linux has it"
        )),
        Err(e) => Some(format!("cannot listen on {ip}:{port} ({what}): {e}")),
    }
}

/// Checks every `(ip, port, what)`; the first problem fails.
pub fn check_ports(wanted: &[(IpAddr, u16, &str)]) -> Result<()> {
    for (ip, port, what) in wanted {
        if let Some(problem) = bind_problem(*ip, *port, what) {
            return Err(Error::Preflight(problem));
        }
    }
    Ok(())
}

/// What `start` was asked for, to compare with an existing profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub ha: Option<bool>,
    pub nodes: Option<usize>,
    pub block: Option<u8>,
    pub external_etcd: Option<bool>,
}

/// Refuses a `start` on an existing profile with other settings, naming them.
pub fn check_same_settings(
    profile: &str,
    asked: &Asked,
    ha: bool,
    nodes: usize,
    block: u8,
    external_etcd: bool,
) -> Result<()> {
    let mut differ = Vec::new();
    if asked.ha.is_some_and(|a| a != ha) {
        differ.push(format!("--ha={ha}"));
    }
    if asked.nodes.is_some_and(|n| n != nodes) {
        differ.push(format!("--nodes={nodes}"));
    }
    if asked.block.is_some_and(|b| b != block) {
        differ.push(format!("--subnet=127.0.{block}.0/24"));
    }
    if asked.external_etcd.is_some_and(|e| e != external_etcd) {
        differ.push(
            if external_etcd {
                "--etcd-servers"
            } else {
                "no --etcd-servers"
            }
            .to_string(),
        );
    }
    if differ.is_empty() {
        Ok(())
    } else {
        Err(Error::Preflight(format!(
            "profile {profile:?} exists with other settings ({}); run `hakube start -p {profile}` without them, or `hakube delete -p {profile}` first",
            differ.join(", ")
        )))
    }
}

/// Reads `--subnet` (`127.0.N.0/24` or just `N`) into the block's third octet.
pub fn parse_subnet(text: &str) -> Result<u8> {
    let block = text
        .strip_prefix("127.0.")
        .and_then(|rest| rest.strip_suffix(".0/24"))
        .unwrap_or(text);
    match block.parse::<u8>() {
        Ok(n) if (1..=250).contains(&n) => Ok(n),
        _ => Err(Error::Invalid(format!(
            "--subnet {text:?} is not valid: give a loopback /24 such as 127.0.49.0/24 (the third octet from 1 to 250)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_files() {
        assert!(check_open_files(Some(256)).is_err());
        assert!(check_open_files(Some(1024)).is_ok());
        assert!(check_open_files(None).is_ok());
        let message = check_open_files(Some(256)).unwrap_err().to_string();
        assert!(message.contains("ulimit -n"), "{message}");
    }

    #[test]
    fn taken_ports_are_named() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = check_ports(&[("127.0.0.1".parse().unwrap(), port, "kubelet")]).unwrap_err();
        assert!(err.to_string().contains("already in use"), "{err}");
    }

    #[test]
    fn settings() {
        let same = Asked {
            ha: Some(true),
            nodes: None,
            block: Some(49),
            external_etcd: None,
        };
        assert!(check_same_settings("p", &same, true, 3, 49, false).is_ok());
        let other = Asked {
            ha: Some(false),
            nodes: Some(5),
            block: None,
            external_etcd: None,
        };
        let err = check_same_settings("p", &other, true, 3, 49, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--ha=true") && err.contains("--nodes=3"),
            "{err}"
        );
    }

    #[test]
    fn subnets() {
        assert_eq!(parse_subnet("127.0.60.0/24").unwrap(), 60);
        assert_eq!(parse_subnet("61").unwrap(), 61);
        for bad in ["10.0.0.0/24", "127.0.0.0/24", "127.0.251.0/24", "x"] {
            assert!(parse_subnet(bad).is_err(), "{bad}");
        }
    }
}
