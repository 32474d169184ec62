//! A one-member etcd, an API server with a full PKI over it, clients, and polling.

use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// A single-member etcd on loopback, killed when dropped.
struct Etcd {
    child: Child,
    url: String,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// An API server over its own etcd, with the cluster PKI in a temporary directory.
pub struct Cluster {
    api: Option<apiserver::Running>,
    pub pki: pki::Pki,
    server: String,
    _etcd: Etcd,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts etcd and an API server on `ip` (a unique loopback address per test).
    pub async fn start(ip: &str) -> Result<Cluster> {
        let dir = tempfile::tempdir()?;
        let etcd = start_etcd(dir.path()).await?;
        let spec = pki::PkiSpec {
            cluster_name: "it".into(),
            service_ip: std::net::Ipv4Addr::new(10, 96, 0, 1),
            vip: None,
            nodes: vec![pki::NodeSpec {
                name: "node-1".into(),
                ip: ip.parse()?,
                control_plane: true,
            }],
        };
        let pki = pki::Pki::generate(&dir.path().join("pki"), &spec)?;
        let store = apiserver::EtcdConfig {
            servers: vec![etcd.url.clone()],
            ..Default::default()
        };
        let mut config = apiserver::ApiServerConfig::new(
            store,
            pki.apiserver_cert.clone(),
            pki.apiserver_key.clone(),
        );
        config.bind_address = ip.parse()?;
        config.secure_port = 0;
        config.client_ca_file = Some(pki.ca_cert.clone());
        config.service_account_key_files = vec![pki.sa_pub.clone()];
        config.service_account_signing_key_file = Some(pki.sa_key.clone());
        let api = apiserver::start(config)
            .await
            .context("starting the API server")?;
        let server = format!("https://{}", api.address);
        let cluster = Cluster {
            api: Some(api),
            pki,
            server,
            _etcd: etcd,
            dir,
        };
        // The API server loads its RBAC policy in the background: wait until it authorizes.
        let admin = cluster.admin().await?;
        eventually(
            "the API server to authorize",
            Duration::from_secs(30),
            || {
                let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
                    kube::Api::namespaced(admin.clone(), "default");
                async move { pods.list(&Default::default()).await.ok().map(drop) }
            },
        )
        .await?;
        Ok(cluster)
    }

    async fn config(&self, cert: &std::path::Path, key: &std::path::Path) -> Result<kube::Config> {
        let text = pki::kubeconfig(&self.server, &self.pki.ca_cert, cert, key, "it", "user")?;
        let kubeconfig = Kubeconfig::from_yaml(&text)?;
        Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?)
    }

    /// The controller manager's own identity (system:kube-controller-manager).
    pub async fn manager_config(&self) -> Result<kube::Config> {
        self.config(
            &self.pki.controller_manager_cert,
            &self.pki.controller_manager_key,
        )
        .await
    }

    /// A cluster administrator (system:masters).
    pub async fn admin(&self) -> Result<kube::Client> {
        let config = self
            .config(&self.pki.admin_cert, &self.pki.admin_key)
            .await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// The administrator's kubeconfig, written to a file for kubectl.
    pub fn admin_kubeconfig(&self) -> Result<std::path::PathBuf> {
        let text = pki::kubeconfig(
            &self.server,
            &self.pki.ca_cert,
            &self.pki.admin_cert,
            &self.pki.admin_key,
            "it",
            "admin",
        )?;
        let path = self.dir.path().join("admin.kubeconfig");
        std::fs::write(&path, text)?;
        Ok(path)
    }

    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(&self.pki.ca_cert).unwrap_or_default()
    }

    pub async fn stop(mut self) {
        if let Some(api) = self.api.take() {
            api.shutdown().await;
        }
    }
}

async fn start_etcd(dir: &std::path::Path) -> Result<Etcd> {
    let url = format!("http://127.0.0.1:{}", free_port());
    let peer = format!("http://127.0.0.1:{}", free_port());
    let log = std::fs::File::create(dir.join("etcd.log"))?;
    let child = Command::new("/usr/bin/etcd")
        .args(["--name", "it", "--data-dir"])
        .arg(dir.join("etcd"))
        .args([
            "--listen-client-urls",
            &url,
            "--advertise-client-urls",
            &url,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .args(["--initial-cluster", &format!("it={peer}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("these tests need /usr/bin/etcd (apt-get install etcd-server)")?;
    let etcd = Etcd { child, url };
    // etcd answers its health endpoint once it serves.
    let health = format!("{}/health", etcd.url.replace("http://", ""));
    eventually("etcd to start", Duration::from_secs(30), || {
        let health = health.clone();
        async move {
            let mut stream = tokio::net::TcpStream::connect(health.split('/').next()?)
                .await
                .ok()?;
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            stream
                .write_all(b"GET /health HTTP/1.0\r\n\r\n")
                .await
                .ok()?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.ok()?;
            answer.contains("\"health\":\"true\"").then_some(())
        }
    })
    .await?;
    Ok(etcd)
}

/// Polls `check` every 100 ms until it gives a value, or fails after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks that `check` keeps holding for the whole of `window`, polling it every 100 ms: the
/// form of a test that something does *not* happen (nobody rewrites, nobody takes over).
pub async fn holds_for<F, Fut>(what: &str, window: Duration, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + window;
    loop {
        if !check().await {
            bail!("{what} stopped holding before {window:?} were up");
        }
        if tokio::time::Instant::now() >= end {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
