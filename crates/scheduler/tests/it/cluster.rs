//! A one-member etcd and an API server on a unique loopback address, with a PKI, and clients
//! for the administrator and the scheduler.

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use apiserver::{ApiServerConfig, EtcdConfig, Running};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// The loopback block these tests use, so they do not collide with other crates' tests.
const IP: Ipv4Addr = Ipv4Addr::new(127, 0, 231, 2);

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
    std::net::TcpListener::bind((IP, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running API server and what it needs; everything stops when dropped.
pub struct Cluster {
    pub server: Option<Running>,
    pub admin: kube::Client,
    pub scheduler: kube::Client,
    _etcd: Etcd,
    _dir: tempfile::TempDir,
}

impl Cluster {
    pub async fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("http://{IP}:{}", free_port());
        let peer = format!("http://{IP}:{}", free_port());
        let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
        let child = Command::new("/usr/bin/etcd")
            .args(["--name", "it", "--data-dir"])
            .arg(dir.path().join("etcd"))
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

        let spec = pki::PkiSpec {
            cluster_name: "it".into(),
            service_ip: Ipv4Addr::new(10, 96, 0, 1),
            vip: None,
            nodes: vec![pki::NodeSpec {
                name: "cp".into(),
                ip: IpAddr::V4(IP),
                control_plane: true,
            }],
        };
        let files = pki::Pki::generate(&dir.path().join("pki"), &spec).unwrap();
        let store = EtcdConfig {
            servers: vec![etcd.url.clone()],
            ..Default::default()
        };
        let mut config = ApiServerConfig::new(
            store,
            files.apiserver_cert.clone(),
            files.apiserver_key.clone(),
        );
        config.bind_address = IpAddr::V4(IP);
        config.secure_port = 0;
        config.client_ca_file = Some(files.ca_cert.clone());
        config.service_account_key_files = vec![files.sa_pub.clone()];
        config.service_account_signing_key_file = Some(files.sa_key.clone());
        // etcd may still be starting: the API server's start retries until it answers.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let server = loop {
            match apiserver::start(config.clone()).await {
                Ok(server) => break server,
                Err(e) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "the API server did not start: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        let address = format!("https://{}", server.address);
        let client = |cert: &std::path::Path, key: &std::path::Path, user: &str| {
            let text = pki::kubeconfig(&address, &files.ca_cert, cert, key, "it", user).unwrap();
            let kubeconfig = Kubeconfig::from_yaml(&text).unwrap();
            async move {
                let config =
                    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                        .await
                        .unwrap();
                kube::Client::try_from(config).unwrap()
            }
        };
        let admin = client(&files.admin_cert, &files.admin_key, "admin").await;
        let scheduler = client(&files.scheduler_cert, &files.scheduler_key, "scheduler").await;
        // The RBAC policy (bootstrap roles included) loads in the background after start.
        let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(admin.clone());
        while let Err(e) = nodes.list(&Default::default()).await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the API server never served: {e}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Cluster {
            server: Some(server),
            admin,
            scheduler,
            _etcd: etcd,
            _dir: dir,
        }
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}
