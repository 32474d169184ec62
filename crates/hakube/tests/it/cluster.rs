//! The end-to-end harness: starts a cluster of etcd-compatible member processes (real etcd or
//! `hakube etcd`) on its own loopback addresses, with the same etcd flags for both, and kills,
//! restarts, adds and inspects members. Dropping a `Cluster` kills every process it started.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::etcdctl::{ClientTls, Etcdctl, POLL_INTERVAL};
use crate::flavor::{Flavor, require_tools};
use crate::machine::{HOSTS_PER_BLOCK, reserve_block};
use crate::pki::Pki;
use crate::status::{EndpointStatus, MemberEntry, parse_endpoint_status, parse_member_list};

/// Used, when present, to have the kernel kill a member if the test process dies without
/// unwinding (a CI timeout, say), so members never outlive their test.
const SETPRIV: &str = "/usr/bin/setpriv";

/// How long a member may take to become healthy after it is started.
const READY_LIMIT: Duration = Duration::from_secs(60);

/// How to start a cluster.
#[derive(Clone, Debug)]
pub struct Options {
    pub members: usize,
    /// Serve clients and peers over TLS with client certificates required on both.
    pub tls: bool,
    pub heartbeat_ms: u64,
    pub election_ms: u64,
    /// More flags for every member, e.g. `--snapshot-count 20`.
    pub extra_args: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            members: 3,
            tls: false,
            heartbeat_ms: 100,
            election_ms: 1000,
            extra_args: Vec::new(),
        }
    }
}

struct Member {
    name: String,
    /// The last octet of this member's loopback address.
    host: u8,
    data_dir: PathBuf,
    log: PathBuf,
    /// `new` for founders, `existing` for members that joined through `member add`.
    state: &'static str,
    initial_cluster: String,
    child: Option<Child>,
    removed: bool,
}

/// A running cluster; see the module docs.
pub struct Cluster {
    flavor: Flavor,
    options: Options,
    dir: tempfile::TempDir,
    block: (u8, u8),
    members: Vec<Member>,
    pki: Option<Pki>,
}

impl Cluster {
    pub fn start(flavor: Flavor, members: usize) -> Result<Cluster> {
        Cluster::start_with(
            flavor,
            Options {
                members,
                ..Options::default()
            },
        )
    }

    pub fn start_with(flavor: Flavor, options: Options) -> Result<Cluster> {
        require_tools(flavor)?;
        let block = reserve_block()?;
        let dir = tempfile::Builder::new().prefix("hakube-it-").tempdir()?;
        let pki = if options.tls {
            let ips: Vec<_> = (1..=HOSTS_PER_BLOCK)
                .map(|h| Ipv4Addr::new(127, block.0, block.1, h))
                .collect();
            Some(Pki::generate(&dir.path().join("pki"), &ips)?)
        } else {
            None
        };
        let mut cluster = Cluster {
            flavor,
            options,
            dir,
            block,
            members: Vec::new(),
            pki,
        };
        for _ in 0..cluster.options.members {
            cluster.plan_member()?;
        }
        let founders = cluster.initial_cluster();
        for member in &mut cluster.members {
            member.state = "new";
            member.initial_cluster = founders.clone();
        }
        for i in 0..cluster.members.len() {
            cluster.spawn(i)?;
        }
        for i in 0..cluster.members.len() {
            cluster.wait_healthy(i)?;
        }
        Ok(cluster)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The first three octets this cluster's addresses share, with the trailing dot.
    pub fn address_prefix(&self) -> String {
        format!("127.{}.{}.", self.block.0, self.block.1)
    }

    pub fn election_timeout(&self) -> Duration {
        Duration::from_millis(self.options.election_ms)
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn name(&self, i: usize) -> &str {
        &self.members[i].name
    }

    pub fn index_of(&self, name: &str) -> Result<usize> {
        self.members
            .iter()
            .position(|m| m.name == name)
            .with_context(|| format!("no member named {name}"))
    }

    fn scheme(&self) -> &'static str {
        if self.pki.is_some() { "https" } else { "http" }
    }

    fn ip(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(127, self.block.0, self.block.1, self.members[i].host)
    }

    pub fn client_url(&self, i: usize) -> String {
        format!("{}://{}:2379", self.scheme(), self.ip(i))
    }

    /// The endpoint etcdctl is given: `host:port`, as etcd's docs write them. hakube's HTTP/2
    /// server (h2) rejects the `:authority` of `http://host:port` that etcdctl 3.4 sends for
    /// per-endpoint commands such as `endpoint status`; see ARCHITECTURE.md.
    pub fn client_endpoint(&self, i: usize) -> String {
        format!("{}:2379", self.ip(i))
    }

    pub fn peer_url(&self, i: usize) -> String {
        format!("{}://{}:2380", self.scheme(), self.ip(i))
    }

    pub fn pki(&self) -> Option<&Pki> {
        self.pki.as_ref()
    }

    /// What etcdctl needs to talk to this cluster as a trusted client.
    pub fn client_tls(&self) -> Option<ClientTls> {
        self.pki.as_ref().map(|pki| ClientTls {
            ca: pki.ca.clone(),
            identity: Some((pki.client_cert.clone(), pki.client_key.clone())),
        })
    }

    /// Members whose process runs and that were not removed from the cluster.
    pub fn live(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].child.is_some() && !self.members[i].removed)
            .collect()
    }

    /// etcdctl aimed at every live member.
    pub fn etcdctl(&self) -> Etcdctl {
        self.etcdctl_for(&self.live())
    }

    pub fn etcdctl_for(&self, members: &[usize]) -> Etcdctl {
        Etcdctl::new(members.iter().map(|&i| self.client_endpoint(i)).collect())
            .with_tls(self.client_tls())
    }

    /// Reserves an address and a name (`m<N>`) for a member that will join with `member add`.
    /// Nothing runs until `start_member`.
    pub fn plan_member(&mut self) -> Result<usize> {
        let i = self.members.len();
        let host = u8::try_from(i + 1)?;
        if host > HOSTS_PER_BLOCK {
            bail!("a cluster has room for {HOSTS_PER_BLOCK} members over its lifetime");
        }
        let name = format!("m{host}");
        self.members.push(Member {
            data_dir: self.dir.path().join(format!("{name}.data")),
            log: self.dir.path().join(format!("{name}.log")),
            name,
            host,
            state: "existing",
            initial_cluster: String::new(),
            child: None,
            removed: false,
        });
        Ok(i)
    }

    /// Starts a planned member with `--initial-cluster-state existing`, naming every member that
    /// has not been removed, as etcd's runtime-reconfiguration docs do. It waits only until the
    /// member answers `endpoint status`, because a learner refuses the read behind
    /// `endpoint health`.
    pub fn start_member(&mut self, i: usize) -> Result<()> {
        self.members[i].initial_cluster = self.initial_cluster();
        self.spawn(i)?;
        self.wait_until(i, "answer `endpoint status`", |c| {
            Ok(c.etcdctl_for(&[i]).run(&["endpoint", "status"])?.success())
        })
    }

    fn initial_cluster(&self) -> String {
        (0..self.members.len())
            .filter(|&i| !self.members[i].removed)
            .map(|i| format!("{}={}", self.members[i].name, self.peer_url(i)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// kill -9, then reap the process.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// kill -9 every running member before reaping any, so none outlives another by more than
    /// the time the signals take to be sent.
    pub fn kill_all_at_once(&mut self) {
        let mut children: Vec<Child> = self
            .members
            .iter_mut()
            .filter_map(|m| m.child.take())
            .collect();
        for child in &mut children {
            let _ = child.kill();
        }
        for child in &mut children {
            let _ = child.wait();
        }
    }

    /// Starts a stopped member again from its data dir, with the flags it first had.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        if self.members[i].child.is_some() {
            bail!("{} is still running", self.members[i].name);
        }
        self.spawn(i)
    }

    /// After `member remove`: stops the process and leaves the member out of endpoint lists.
    pub fn forget(&mut self, i: usize) {
        self.kill(i);
        self.members[i].removed = true;
    }

    fn spawn(&mut self, i: usize) -> Result<()> {
        let args = self.member_args(i);
        let (program, subcommand) = self.flavor.program();
        let member = &mut self.members[i];
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&member.log)?;
        // Restarts append to the same log; the marker shows where each run begins.
        let shown: Vec<&str> = subcommand
            .into_iter()
            .chain(args.iter().map(String::as_str))
            .collect();
        writeln!(log, "=== harness: {program} {}", shown.join(" "))?;
        let mut cmd = if Path::new(SETPRIV).exists() {
            let mut cmd = Command::new(SETPRIV);
            cmd.args(["--pdeathsig", "KILL", "--", program]);
            cmd
        } else {
            Command::new(program)
        };
        cmd.args(subcommand).args(&args);
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {program} for {}", member.name))?;
        member.child = Some(child);
        Ok(())
    }

    /// The flags of one member, identical for real etcd and `hakube etcd`.
    fn member_args(&self, i: usize) -> Vec<String> {
        let m = &self.members[i];
        let (client, peer) = (self.client_url(i), self.peer_url(i));
        let mut args: Vec<String> = [
            ("--name", m.name.clone()),
            ("--data-dir", m.data_dir.display().to_string()),
            ("--listen-client-urls", client.clone()),
            ("--advertise-client-urls", client),
            ("--listen-peer-urls", peer.clone()),
            ("--initial-advertise-peer-urls", peer),
            ("--initial-cluster", m.initial_cluster.clone()),
            ("--initial-cluster-state", m.state.to_string()),
            // A token per cluster keeps members of parallel clusters from ever joining up.
            (
                "--initial-cluster-token",
                format!("hakube-it-{}-{}", self.block.0, self.block.1),
            ),
            (
                "--heartbeat-interval",
                self.options.heartbeat_ms.to_string(),
            ),
            ("--election-timeout", self.options.election_ms.to_string()),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_string(), value])
        .collect();
        if let Some(pki) = &self.pki {
            let cert = pki.member_cert.display().to_string();
            let key = pki.member_key.display().to_string();
            let ca = pki.ca.display().to_string();
            for (flag, value) in [
                ("--cert-file", &cert),
                ("--key-file", &key),
                ("--trusted-ca-file", &ca),
                ("--peer-cert-file", &cert),
                ("--peer-key-file", &key),
                ("--peer-trusted-ca-file", &ca),
            ] {
                args.extend([flag.to_string(), value.clone()]);
            }
            args.extend([
                "--client-cert-auth".into(),
                "--peer-client-cert-auth".into(),
            ]);
        }
        args.extend(self.options.extra_args.iter().cloned());
        args
    }

    /// Waits until member `i` passes `etcdctl endpoint health`, failing early if it exits.
    pub fn wait_healthy(&mut self, i: usize) -> Result<()> {
        self.wait_until(i, "become healthy", |c| {
            Ok(c.etcdctl_for(&[i]).run(&["endpoint", "health"])?.success())
        })
    }

    fn wait_until(
        &mut self,
        i: usize,
        what: &str,
        ready: impl Fn(&Cluster) -> Result<bool>,
    ) -> Result<()> {
        let deadline = Instant::now() + READY_LIMIT;
        loop {
            if let Some(child) = self.members[i].child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.members[i].child = None;
                bail!(
                    "{} exited ({status}) before it could {what}; its log ends:\n{}",
                    self.members[i].name,
                    self.log_tail(i, 40)
                );
            }
            if ready(self)? {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not {what} within {READY_LIMIT:?}",
                    self.members[i].name
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Every live member's `endpoint status`.
    pub fn statuses(&self) -> Result<Vec<EndpointStatus>> {
        let out = self
            .etcdctl()
            .run(&["endpoint", "status", "-w", "json"])?
            .ok("endpoint status")?;
        parse_endpoint_status(&out.stdout)
    }

    /// Waits until the live members agree on a leader, and returns its index.
    pub fn leader(&self) -> Result<usize> {
        let deadline = Instant::now() + READY_LIMIT;
        loop {
            let why = match self.agreed_leader() {
                Ok(Some(i)) => return Ok(i),
                Ok(None) => "the members do not agree on one".to_string(),
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() > deadline {
                bail!("no leader within {READY_LIMIT:?}: {why}");
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    fn agreed_leader(&self) -> Result<Option<usize>> {
        let live = self.live();
        let mut statuses = Vec::new();
        // One member at a time: with several endpoints etcdctl fails as a whole if one is down.
        for &i in &live {
            let out = self
                .etcdctl_for(&[i])
                .run(&["endpoint", "status", "-w", "json"])?;
            if out.success() {
                statuses.extend(parse_endpoint_status(&out.stdout)?);
            }
        }
        let Some(leader) = statuses.iter().find(|s| s.is_leader()) else {
            return Ok(None);
        };
        if statuses.len() * 2 <= live.len() || statuses.iter().any(|s| s.leader != leader.leader) {
            return Ok(None);
        }
        let url = &leader.endpoint;
        Ok(live.into_iter().find(|&i| &self.client_endpoint(i) == url))
    }

    /// The cluster ID and members as `member list -w json` reports them.
    pub fn member_list(&self) -> Result<(u64, Vec<MemberEntry>)> {
        let out = self
            .etcdctl()
            .run(&["member", "list", "-w", "json"])?
            .ok("member list")?;
        parse_member_list(&out.stdout)
    }

    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.members[i].log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill_all_at_once();
        // libtest shows this only for failing tests, which is when it is wanted.
        for i in 0..self.members.len() {
            if self.members[i].log.exists() {
                eprintln!(
                    "----- {:?} {} log tail ({}) -----\n{}",
                    self.flavor,
                    self.members[i].name,
                    self.members[i].log.display(),
                    self.log_tail(i, 25)
                );
            }
        }
        if std::env::var_os("HAKUBE_IT_KEEP").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("HAKUBE_IT_KEEP: kept {}", self.dir.path().display());
        }
    }
}
