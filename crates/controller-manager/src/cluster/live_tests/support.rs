//! A one-member etcd (/usr/bin/etcd) and this workspace's API server over it, with a full PKI,
//! for the cluster controllers' live tests; and polling with a deadline.

use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};

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

fn free_port(ip: &str) -> Result<u16> {
    Ok(std::net::TcpListener::bind((ip, 0))?.local_addr()?.port())
}

pub(super) struct Cluster {
    api: Option<apiserver::Running>,
    pki: pki::Pki,
    server: String,
    _etcd: Etcd,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts etcd and an API server on `ip`, and waits until it authorizes.
    pub(super) async fn start(ip: &str) -> Result<Cluster> {
        let dir = tempfile::tempdir()?;
        let etcd = start_etcd(dir.path(), ip).await?;
        let spec = pki::PkiSpec {
            cluster_name: "live".into(),
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
            _dir: dir,
        };
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
        let text = pki::kubeconfig(&self.server, &self.pki.ca_cert, cert, key, "live", "user")?;
        let kubeconfig = Kubeconfig::from_yaml(&text)?;
        Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?)
    }

    pub(super) async fn manager_config(&self) -> Result<kube::Config> {
        self.config(
            &self.pki.controller_manager_cert,
            &self.pki.controller_manager_key,
        )
        .await
    }

    pub(super) async fn admin(&self) -> Result<kube::Client> {
        let config = self
            .config(&self.pki.admin_cert, &self.pki.admin_key)
            .await?;
        Ok(kube::Client::try_from(config)?)
    }

    pub(super) fn ca_pem(&self) -> String {
        std::fs::read_to_string(&self.pki.ca_cert).unwrap_or_default()
    }

    pub(super) async fn stop(mut self) {
        if let Some(api) = self.api.take() {
            api.shutdown().await;
        }
    }
}

async fn start_etcd(dir: &std::path::Path, ip: &str) -> Result<Etcd> {
    let url = format!("http://{ip}:{}", free_port(ip)?);
    let peer = format!("http://{ip}:{}", free_port(ip)?);
    let log = std::fs::File::create(dir.join("etcd.log"))?;
    let child = Command::new("/usr/bin/etcd")
        .args(["--name", "live", "--data-dir"])
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
        .args(["--initial-cluster", &format!("live={peer}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("the live tests need /usr/bin/etcd")?;
    let etcd = Etcd { child, url };
    let address = etcd.url.trim_start_matches("http://").to_string();
    eventually("etcd to start", Duration::from_secs(30), || {
        let address = address.clone();
        async move {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            let mut stream = tokio::net::TcpStream::connect(&address).await.ok()?;
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

/// Polls `check` every 50 ms until it gives a value, or fails after `within`.
pub(super) async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> Result<T>
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
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
