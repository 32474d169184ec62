//! A real control plane for the end-to-end test: a one-member etcd (/usr/bin/etcd) and an API
//! server in this process with a full PKI, plus clients with the admin and kube-proxy identities.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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

/// An API server over its own etcd.
pub struct Cluster {
    api: Option<apiserver::Running>,
    pki: pki::Pki,
    server: String,
    _etcd: Etcd,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts etcd and an API server on `ip:<any port>`, with Services allocated from
    /// `service_range`, whose first address is `service_ip`.
    pub async fn start(ip: &str, service_range: &str, service_ip: Ipv4Addr) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let etcd = start_etcd(dir.path()).await;
        let spec = pki::PkiSpec {
            cluster_name: "it".into(),
            service_ip,
            vip: None,
            nodes: vec![pki::NodeSpec {
                name: "node-1".into(),
                ip: ip.parse().unwrap(),
                control_plane: true,
            }],
        };
        let pki = pki::Pki::generate(&dir.path().join("pki"), &spec).unwrap();
        let store = apiserver::EtcdConfig {
            servers: vec![etcd.url.clone()],
            ..Default::default()
        };
        let mut config = apiserver::ApiServerConfig::new(
            store,
            pki.apiserver_cert.clone(),
            pki.apiserver_key.clone(),
        );
        config.bind_address = ip.parse().unwrap();
        config.secure_port = 0;
        config.client_ca_file = Some(pki.ca_cert.clone());
        config.service_account_key_files = vec![pki.sa_pub.clone()];
        config.service_account_signing_key_file = Some(pki.sa_key.clone());
        config.service_cluster_ip_range = service_range.to_string();
        config.endpoint_reconcile_interval = Duration::from_millis(500);
        let api = apiserver::start(config).await.unwrap();
        let server = format!("https://{}", api.address);
        let cluster = Cluster {
            api: Some(api),
            pki,
            server,
            _etcd: etcd,
            _dir: dir,
        };
        // The API server loads its RBAC policy in the background: wait until it authorizes.
        let admin = cluster.admin().await;
        let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(admin);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while namespaces.list(&Default::default()).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the API server did not authorize"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        cluster
    }

    async fn config(&self, server: &str, cert: &Path, key: &Path) -> kube::Config {
        let text = pki::kubeconfig(server, &self.pki.ca_cert, cert, key, "it", "user").unwrap();
        let kubeconfig = Kubeconfig::from_yaml(&text).unwrap();
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap()
    }

    /// A cluster administrator (system:masters), talking to `server` (default: the API server).
    pub async fn admin_via(&self, server: &str) -> kube::Client {
        let config = self
            .config(server, &self.pki.admin_cert, &self.pki.admin_key)
            .await;
        kube::Client::try_from(config).unwrap()
    }

    pub async fn admin(&self) -> kube::Client {
        self.admin_via(&self.server.clone()).await
    }

    /// system:kube-proxy, bound to system:node-proxier by the bootstrap policy.
    pub async fn kube_proxy(&self) -> kube::Client {
        let config = self
            .config(
                &self.server,
                &self.pki.kube_proxy_cert,
                &self.pki.kube_proxy_key,
            )
            .await;
        kube::Client::try_from(config).unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(api) = self.api.take() {
            api.shutdown().await;
        }
    }
}

async fn start_etcd(dir: &Path) -> Etcd {
    let url = format!("http://127.0.0.1:{}", free_port());
    let peer = format!("http://127.0.0.1:{}", free_port());
    let log = std::fs::File::create(dir.join("etcd.log")).unwrap();
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
        .expect("this test needs /usr/bin/etcd (apt-get install etcd-server)");
    let etcd = Etcd { child, url };
    // etcd serves once a plain TCP connect to its client port works.
    let addr = etcd.url.trim_start_matches("http://").to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(&addr).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "etcd did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    etcd
}
