//! An API cluster for kubectl tests: a three-member TLS store of either flavor, with
//! `hakube apiserver` in front of it, started with kube-apiserver's flags the way kubeadm sets
//! them up (client certificates, a ServiceAccount key, Secrets encrypted at rest), and a
//! kubeconfig with one context per kind of user. Dropping it kills the API server, then the
//! store.

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::kubectl::{KUBECTL, Kubectl};
use super::pki::ApiPki;
use crate::cluster::{Cluster, Options};
use crate::etcdctl::{Etcdctl, POLL_INTERVAL};
use crate::flavor::Flavor;

/// Used, when present, to have the kernel kill the API server if the test process dies without
/// unwinding, as the store harness does for members.
const SETPRIV: &str = "/usr/bin/setpriv";

/// The API server listens on this host of the cluster's loopback block. The block is a /24 that
/// only this cluster uses; the store harness reserves hosts 1 to 6 for members, so 10 is free.
const API_HOST: u8 = 10;

/// kube-apiserver's default secure port.
const API_PORT: u16 = 6443;

/// How long the API server may take to become ready once the store is.
const READY_LIMIT: Duration = Duration::from_secs(60);

/// The kubeconfig contexts the harness writes, one per kind of user.
pub mod context {
    /// `kubernetes-admin` in `system:masters`.
    pub const ADMIN: &str = "admin";
    /// `bob`, whom nothing is granted.
    pub const BOB: &str = "bob";
    /// No credentials the server can check. kubectl prompts for a password when a user has no
    /// credentials at all, so this user has HTTP basic ones, which Kubernetes has had no
    /// authenticator for since 1.19: the server sees a request without credentials.
    pub const NOBODY: &str = "nobody";
    /// A bearer token that no authenticator accepts.
    pub const BAD_TOKEN: &str = "bad-token";
    /// An admin certificate signed by a CA the server does not trust.
    pub const FORGER: &str = "forger";
}

/// A running API server and its store; see the module docs.
pub struct ApiCluster {
    apiserver: Option<Child>,
    ip: Ipv4Addr,
    pki: ApiPki,
    dir: PathBuf,
    log: PathBuf,
    kubeconfig: PathBuf,
    // Dropped after the API server is killed (Drop runs before the fields are dropped).
    store: Cluster,
}

impl ApiCluster {
    pub fn start(flavor: Flavor) -> Result<ApiCluster> {
        if !Path::new(KUBECTL).exists() {
            bail!("{KUBECTL} is missing; the kubectl tests need the real kubectl");
        }
        let store = Cluster::start_with(
            flavor,
            Options {
                tls: true,
                ..Options::default()
            },
        )?;
        let ip: Ipv4Addr = format!("{}{API_HOST}", store.address_prefix())
            .parse()
            .context("the store's address prefix")?;
        // Checked, not assumed: a leftover process from an earlier run could hold the port.
        TcpListener::bind((ip, API_PORT))
            .with_context(|| format!("{ip}:{API_PORT} should be free for the API server"))?;
        let dir = store.dir().join("api");
        std::fs::create_dir_all(dir.join("home"))?;
        let pki = ApiPki::generate(&dir.join("pki"), ip)?;
        let kubeconfig = dir.join("kubeconfig");
        write_kubeconfig(&kubeconfig, &format!("https://{ip}:{API_PORT}"), &pki)?;
        let mut cluster = ApiCluster {
            apiserver: None,
            ip,
            pki,
            log: dir.join("apiserver.log"),
            dir,
            kubeconfig,
            store,
        };
        cluster.spawn()?;
        cluster.wait_ready()?;
        Ok(cluster)
    }

    /// Stops the API server and starts it again with the same flags, so that it reads its files
    /// anew (an edited EncryptionConfiguration, say), as an operator's restart does. The store
    /// keeps running.
    pub fn restart_apiserver(&mut self) -> Result<()> {
        if let Some(mut child) = self.apiserver.take() {
            child.kill().context("stopping hakube apiserver")?;
            child.wait()?;
        }
        self.spawn()?;
        self.wait_ready()
    }

    /// The flags kubeadm would give kube-apiserver, aimed at this cluster's store and files.
    fn apiserver_args(&self) -> Result<Vec<String>> {
        let pki = &self.pki;
        let store_pki = self.store.pki().context("the store runs with TLS")?;
        let servers: Vec<String> = (0..self.store.len())
            .map(|i| self.store.client_url(i))
            .collect();
        let path = |p: &Path| p.display().to_string();
        Ok([
            ("--etcd-servers", servers.join(",")),
            ("--etcd-cafile", path(&store_pki.ca)),
            ("--etcd-certfile", path(&store_pki.client_cert)),
            ("--etcd-keyfile", path(&store_pki.client_key)),
            ("--bind-address", self.ip.to_string()),
            ("--advertise-address", self.ip.to_string()),
            ("--secure-port", API_PORT.to_string()),
            ("--tls-cert-file", path(&pki.serving_cert)),
            ("--tls-private-key-file", path(&pki.serving_key)),
            ("--client-ca-file", path(&pki.ca)),
            (
                "--service-account-key-file",
                path(&pki.service_account_public_key),
            ),
            (
                "--service-account-signing-key-file",
                path(&pki.service_account_key),
            ),
            (
                "--service-account-issuer",
                "https://kubernetes.default.svc.cluster.local".to_string(),
            ),
            ("--service-cluster-ip-range", "10.96.0.0/12".to_string()),
            ("--service-node-port-range", "30000-32767".to_string()),
            ("--encryption-provider-config", path(&pki.encryption_config)),
            // The tests compact with etcdctl when they mean to; the server must not do it
            // behind their backs.
            ("--etcd-compaction-interval", "0".to_string()),
        ]
        .into_iter()
        .map(|(flag, value)| format!("{flag}={value}"))
        .collect())
    }

    fn spawn(&mut self) -> Result<()> {
        let args = self.apiserver_args()?;
        let program = env!("CARGO_BIN_EXE_hakube");
        // Appended to, so that a restarted server's log follows the first one's.
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        writeln!(log, "=== harness: {program} apiserver {}", args.join(" "))?;
        let mut cmd = if Path::new(SETPRIV).exists() {
            let mut cmd = Command::new(SETPRIV);
            cmd.args(["--pdeathsig", "KILL", "--", program]);
            cmd
        } else {
            Command::new(program)
        };
        cmd.arg("apiserver").args(&args);
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        self.apiserver = Some(cmd.spawn().context("starting hakube apiserver")?);
        Ok(())
    }

    /// Waits until `/readyz` answers `ok` and the `default` namespace exists. kube-apiserver
    /// creates the system namespaces just after it starts serving, and objects can only be
    /// created in a namespace that exists, so the tests start once it does.
    fn wait_ready(&mut self) -> Result<()> {
        let admin = self.admin();
        let deadline = Instant::now() + READY_LIMIT;
        loop {
            if let Some(child) = self.apiserver.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.apiserver = None;
                bail!(
                    "hakube apiserver exited ({status}) before it was ready{}",
                    admin.server_log_tail()
                );
            }
            let ready = admin.run(&["get", "--raw", "/readyz"])?;
            let last = if ready.success() && ready.stdout.trim() == "ok" {
                let default = admin.run(&["get", "namespace", "default", "-o", "name"])?;
                if default.success() {
                    return Ok(());
                }
                default
            } else {
                ready
            };
            if Instant::now() > deadline {
                bail!(
                    "hakube apiserver was not ready within {READY_LIMIT:?}; last check: {last}{}",
                    admin.server_log_tail()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// kubectl as the user of one of the `context` constants.
    pub fn kubectl(&self, context: &str) -> Kubectl {
        Kubectl::new(&self.kubeconfig, context, &self.dir.join("home"), &self.log)
    }

    pub fn admin(&self) -> Kubectl {
        self.kubectl(context::ADMIN)
    }

    /// The directory the test may write its own files into (it is removed with the cluster).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The files the API server was started with: its CA, ServiceAccount keys and
    /// EncryptionConfiguration.
    pub fn pki(&self) -> &ApiPki {
        &self.pki
    }

    /// kubectl as a user who presents the bearer `token`, under a new kubeconfig user and
    /// context, both called `name`.
    pub fn kubectl_with_token(&self, name: &str, token: &str) -> Result<Kubectl> {
        let text = std::fs::read_to_string(&self.kubeconfig)?;
        let mut config: serde_json::Value = serde_json::from_str(&text)?;
        let lists = [
            ("users", json!({ "name": name, "user": { "token": token } })),
            (
                "contexts",
                json!({
                    "name": name,
                    "context": { "cluster": "hakube", "user": name, "namespace": "default" },
                }),
            ),
        ];
        for (list, entry) in lists {
            config[list]
                .as_array_mut()
                .with_context(|| format!("the kubeconfig has no {list}"))?
                .push(entry);
        }
        std::fs::write(&self.kubeconfig, serde_json::to_string_pretty(&config)?)
            .with_context(|| format!("writing {}", self.kubeconfig.display()))?;
        Ok(self.kubectl(name))
    }

    /// etcdctl aimed at the store as a trusted client.
    pub fn etcdctl(&self) -> Etcdctl {
        self.store.etcdctl()
    }
}

impl Drop for ApiCluster {
    fn drop(&mut self) {
        if let Some(mut child) = self.apiserver.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // libtest shows this only for failing tests, which is when it is wanted.
        eprintln!("----- API server{}", self.admin().server_log_tail());
    }
}

/// Writes a kubeconfig (JSON, which kubectl reads as YAML) with a context per kind of user.
fn write_kubeconfig(path: &Path, server: &str, pki: &ApiPki) -> Result<()> {
    let file = |p: &Path| p.display().to_string();
    let user = |name: &str, user: serde_json::Value| json!({ "name": name, "user": user });
    let context_of = |name: &str| {
        json!({
            "name": name,
            "context": { "cluster": "hakube", "user": name, "namespace": "default" },
        })
    };
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "hakube",
            "cluster": { "server": server, "certificate-authority": file(&pki.ca) },
        }],
        "users": [
            user(context::ADMIN, json!({
                "client-certificate": file(&pki.admin.cert),
                "client-key": file(&pki.admin.key),
            })),
            user(context::BOB, json!({
                "client-certificate": file(&pki.bob.cert),
                "client-key": file(&pki.bob.key),
            })),
            user(context::NOBODY, json!({ "username": "nobody", "password": "none" })),
            user(context::BAD_TOKEN, json!({ "token": "not-a-token-anyone-issued" })),
            user(context::FORGER, json!({
                "client-certificate": file(&pki.forged_admin.cert),
                "client-key": file(&pki.forged_admin.key),
            })),
        ],
        "contexts": [
            context_of(context::ADMIN),
            context_of(context::BOB),
            context_of(context::NOBODY),
            context_of(context::BAD_TOKEN),
            context_of(context::FORGER),
        ],
        "current-context": context::ADMIN,
    });
    std::fs::write(path, serde_json::to_string_pretty(&config)?)
        .with_context(|| format!("writing {}", path.display()))
}
