//! Where each file of a PKI lives, in kubeadm's layout, and finding them again on disk.
//!
//! ```text
//! ca.crt ca.key                                   cluster CA (CN kubernetes)
//! apiserver.crt .key                              API server serving certificate
//! apiserver-kubelet-client.crt .key               API server -> kubelets
//! apiserver-etcd-client.crt .key                  API server -> store (etcd CA)
//! admin.crt .key                                  kubernetes-admin, system:masters
//! controller-manager.crt .key                     system:kube-controller-manager
//! scheduler.crt .key                              system:kube-scheduler
//! kube-proxy.crt .key                             system:kube-proxy
//! sa.key sa.pub                                   ServiceAccount token signing key
//! encryption-config.yaml                          EncryptionConfiguration (aesgcm key1)
//! etcd/ca.crt etcd/ca.key                         etcd CA (CN etcd-ca)
//! etcd/healthcheck-client.crt .key                etcdctl and health checks
//! etcd/<node>-server.crt .key                     store member, client URLs (control plane)
//! etcd/<node>-peer.crt .key                       store member, peer URLs (control plane)
//! nodes/<node>.crt .key                           kubelet client, system:node:<node>
//! nodes/<node>-kubelet.crt .key                   kubelet serving certificate
//! ```
//!
//! kubeadm has one node per machine and so one `etcd/server.crt`; here every node shares the
//! directory, so the per-node files carry the node's name.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The files of a PKI. Paths only: nothing here is read until a caller reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pki {
    /// The directory everything lives under.
    pub dir: PathBuf,
    /// The cluster CA (CN `kubernetes`), which every component trusts for the API and kubelets.
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    /// The API server's serving certificate (`--tls-cert-file`).
    pub apiserver_cert: PathBuf,
    pub apiserver_key: PathBuf,
    /// The API server's client certificate for kubelets (`--kubelet-client-certificate`).
    pub apiserver_kubelet_client_cert: PathBuf,
    pub apiserver_kubelet_client_key: PathBuf,
    /// The API server's client certificate for the store (`--etcd-certfile`), from the etcd CA.
    pub apiserver_etcd_client_cert: PathBuf,
    pub apiserver_etcd_client_key: PathBuf,
    /// The store's CA (CN `etcd-ca`), separate so a cluster client certificate cannot reach the
    /// store directly.
    pub etcd_ca_cert: PathBuf,
    pub etcd_ca_key: PathBuf,
    /// A store client certificate for health checks and etcdctl.
    pub etcd_healthcheck_client_cert: PathBuf,
    pub etcd_healthcheck_client_key: PathBuf,
    /// The ServiceAccount token signing key, EC P-256 in PKCS#8 PEM
    /// (`--service-account-signing-key-file`).
    pub sa_key: PathBuf,
    /// Its public half, SubjectPublicKeyInfo PEM (`--service-account-key-file`).
    pub sa_pub: PathBuf,
    /// The administrator (`kubernetes-admin` in `system:masters`).
    pub admin_cert: PathBuf,
    pub admin_key: PathBuf,
    pub controller_manager_cert: PathBuf,
    pub controller_manager_key: PathBuf,
    pub scheduler_cert: PathBuf,
    pub scheduler_key: PathBuf,
    pub kube_proxy_cert: PathBuf,
    pub kube_proxy_key: PathBuf,
    /// The EncryptionConfiguration for `--encryption-provider-config`.
    pub encryption_config: PathBuf,
    /// Each node's files, by node name.
    pub nodes: BTreeMap<String, NodeFiles>,
}

/// One node's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFiles {
    /// The kubelet's client certificate (CN `system:node:<node>`, O `system:nodes`).
    pub kubelet_client_cert: PathBuf,
    pub kubelet_client_key: PathBuf,
    /// The kubelet's serving certificate, for the node's name and address.
    pub kubelet_serving_cert: PathBuf,
    pub kubelet_serving_key: PathBuf,
    /// The node's store member certificates, if it is a control-plane node.
    pub etcd: Option<EtcdMemberFiles>,
}

/// A store member's files, signed by the etcd CA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdMemberFiles {
    /// For the member's client URLs (`--cert-file`).
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// For the member's peer URLs (`--peer-cert-file`).
    pub peer_cert: PathBuf,
    pub peer_key: PathBuf,
}

impl Pki {
    /// The layout under `dir`, with no nodes. Pure.
    pub(crate) fn at(dir: &Path) -> Pki {
        let file = |name: &str| dir.join(name);
        Pki {
            dir: dir.to_path_buf(),
            ca_cert: file("ca.crt"),
            ca_key: file("ca.key"),
            apiserver_cert: file("apiserver.crt"),
            apiserver_key: file("apiserver.key"),
            apiserver_kubelet_client_cert: file("apiserver-kubelet-client.crt"),
            apiserver_kubelet_client_key: file("apiserver-kubelet-client.key"),
            apiserver_etcd_client_cert: file("apiserver-etcd-client.crt"),
            apiserver_etcd_client_key: file("apiserver-etcd-client.key"),
            etcd_ca_cert: file("etcd/ca.crt"),
            etcd_ca_key: file("etcd/ca.key"),
            etcd_healthcheck_client_cert: file("etcd/healthcheck-client.crt"),
            etcd_healthcheck_client_key: file("etcd/healthcheck-client.key"),
            sa_key: file("sa.key"),
            sa_pub: file("sa.pub"),
            admin_cert: file("admin.crt"),
            admin_key: file("admin.key"),
            controller_manager_cert: file("controller-manager.crt"),
            controller_manager_key: file("controller-manager.key"),
            scheduler_cert: file("scheduler.crt"),
            scheduler_key: file("scheduler.key"),
            kube_proxy_cert: file("kube-proxy.crt"),
            kube_proxy_key: file("kube-proxy.key"),
            encryption_config: file("encryption-config.yaml"),
            nodes: BTreeMap::new(),
        }
    }

    pub(crate) fn etcd_dir(dir: &Path) -> PathBuf {
        dir.join("etcd")
    }

    pub(crate) fn nodes_dir(dir: &Path) -> PathBuf {
        dir.join("nodes")
    }

    /// Every file outside `nodes`, each path with whether it holds a secret.
    pub fn cluster_files(&self) -> Vec<(&Path, bool)> {
        vec![
            (&self.ca_cert, false),
            (&self.ca_key, true),
            (&self.apiserver_cert, false),
            (&self.apiserver_key, true),
            (&self.apiserver_kubelet_client_cert, false),
            (&self.apiserver_kubelet_client_key, true),
            (&self.apiserver_etcd_client_cert, false),
            (&self.apiserver_etcd_client_key, true),
            (&self.etcd_ca_cert, false),
            (&self.etcd_ca_key, true),
            (&self.etcd_healthcheck_client_cert, false),
            (&self.etcd_healthcheck_client_key, true),
            (&self.sa_key, true),
            (&self.sa_pub, false),
            (&self.admin_cert, false),
            (&self.admin_key, true),
            (&self.controller_manager_cert, false),
            (&self.controller_manager_key, true),
            (&self.scheduler_cert, false),
            (&self.scheduler_key, true),
            (&self.kube_proxy_cert, false),
            (&self.kube_proxy_key, true),
            (&self.encryption_config, true),
        ]
        .into_iter()
        .map(|(path, secret)| (path.as_path(), secret))
        .collect()
    }

    /// Finds the PKI under `dir`: checks that every cluster-wide file is there and discovers
    /// the nodes from `nodes/` and `etcd/`.
    ///
    /// A node is a name with both `nodes/<node>.crt` and `nodes/<node>-kubelet.crt`, which stays
    /// unambiguous even for a node whose own name ends in `-kubelet`. It has store member files
    /// if `etcd/<node>-server.crt` exists.
    pub fn load(dir: &Path) -> Result<Pki> {
        let mut pki = Pki::at(dir);
        for (path, _) in pki.cluster_files() {
            if !path.is_file() {
                return Err(Error::Missing(path.to_path_buf()));
            }
        }

        let certs = cert_stems(&Pki::nodes_dir(dir))?;
        for name in &certs {
            if !certs.contains(&format!("{name}-kubelet")) {
                continue;
            }
            let member = Pki::etcd_dir(dir).join(format!("{name}-server.crt"));
            let node = NodeFiles::at(dir, name, member.is_file());
            for (path, _) in node.files() {
                if !path.is_file() {
                    return Err(Error::Missing(path.to_path_buf()));
                }
            }
            pki.nodes.insert(name.clone(), node);
        }
        Ok(pki)
    }
}

impl NodeFiles {
    /// The layout of node `name`'s files under `dir`. Pure.
    pub(crate) fn at(dir: &Path, name: &str, control_plane: bool) -> NodeFiles {
        let nodes = Pki::nodes_dir(dir);
        let etcd = Pki::etcd_dir(dir);
        NodeFiles {
            kubelet_client_cert: nodes.join(format!("{name}.crt")),
            kubelet_client_key: nodes.join(format!("{name}.key")),
            kubelet_serving_cert: nodes.join(format!("{name}-kubelet.crt")),
            kubelet_serving_key: nodes.join(format!("{name}-kubelet.key")),
            etcd: control_plane.then(|| EtcdMemberFiles {
                server_cert: etcd.join(format!("{name}-server.crt")),
                server_key: etcd.join(format!("{name}-server.key")),
                peer_cert: etcd.join(format!("{name}-peer.crt")),
                peer_key: etcd.join(format!("{name}-peer.key")),
            }),
        }
    }

    /// Every file of the node, each path with whether it holds a secret.
    pub fn files(&self) -> Vec<(&Path, bool)> {
        let mut files = vec![
            (self.kubelet_client_cert.as_path(), false),
            (self.kubelet_client_key.as_path(), true),
            (self.kubelet_serving_cert.as_path(), false),
            (self.kubelet_serving_key.as_path(), true),
        ];
        if let Some(etcd) = &self.etcd {
            files.extend([
                (etcd.server_cert.as_path(), false),
                (etcd.server_key.as_path(), true),
                (etcd.peer_cert.as_path(), false),
                (etcd.peer_key.as_path(), true),
            ]);
        }
        files
    }
}

/// The names of the `.crt` files in `dir`, without the extension; none if `dir` is missing.
fn cert_stems(dir: &Path) -> Result<BTreeSet<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(Error::io(dir)(e)),
    };
    let mut stems = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(Error::io(dir))?;
        let name = entry.file_name();
        if let Some(stem) = name.to_str().and_then(|name| name.strip_suffix(".crt")) {
            stems.insert(stem.to_string());
        }
    }
    Ok(stems)
}
