//! A profile on disk: `$HAKUBE_HOME/profiles/<name>/` holds the cluster's config, PKI, the
//! admin kubeconfig, and per node its data, logs and pid. The CLI keeps no cluster state
//! anywhere else.
//!
//! ```text
//! profiles/<name>/config.json      ProfileConfig
//! profiles/<name>/pki/             the PKI (kubeadm's layout, see the pki crate)
//! profiles/<name>/kubeconfig       admin kubeconfig, server at the VIP
//! profiles/<name>/nodes/<node>/    data/ (store member), logs/<role>.log, node.log, node.pid
//! ```

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::names;

/// The Kubernetes version the cluster reports (the API server serves 1.33).
pub const KUBERNETES_VERSION: &str = "v1.33.0";

/// Where hakube keeps its profiles: `$HAKUBE_HOME`, or `~/.hakube`.
#[derive(Debug, Clone)]
pub struct Home {
    pub root: PathBuf,
}

impl Home {
    /// `$HAKUBE_HOME` or `~/.hakube`.
    pub fn from_env() -> Result<Home> {
        if let Some(dir) = std::env::var_os("HAKUBE_HOME").filter(|v| !v.is_empty()) {
            // Absolute, because node processes and pid checks name the profile by its path.
            let dir = PathBuf::from(dir);
            let root = std::path::absolute(&dir).unwrap_or(dir);
            return Ok(Home { root });
        }
        match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => Ok(Home {
                root: PathBuf::from(home).join(".hakube"),
            }),
            None => Err(Error::Invalid(
                "neither HAKUBE_HOME nor HOME is set; set HAKUBE_HOME to a directory for hakube's profiles".into(),
            )),
        }
    }

    /// The directory of profile `name`.
    pub fn profile_dir(&self, name: &str) -> PathBuf {
        self.root.join("profiles").join(name)
    }

    /// The names of every profile on disk, sorted.
    pub fn profiles(&self) -> Result<Vec<String>> {
        let dir = self.root.join("profiles");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&dir)(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(Error::io(&dir))?;
            if entry.path().join(CONFIG_FILE).exists() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Loads profile `name`, or says it does not exist.
    pub fn load(&self, name: &str) -> Result<Profile> {
        let dir = self.profile_dir(name);
        if !dir.join(CONFIG_FILE).exists() {
            return Err(Error::NoProfile(name.to_string()));
        }
        Profile::load(&dir)
    }
}

const CONFIG_FILE: &str = "config.json";

/// An external etcd cluster used instead of stacked store members (`start --etcd-servers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalEtcd {
    pub servers: Vec<String>,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

/// One node of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEntry {
    pub name: String,
    pub number: u8,
    pub ip: Ipv4Addr,
    pub control_plane: bool,
    /// Set once the node has joined (its store member promoted, its Node registered); a node
    /// that has joined restarts from its own data and needs no token.
    #[serde(default)]
    pub joined: bool,
}

/// A profile's settings: what `start` was asked for, and the nodes it has now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileConfig {
    pub name: String,
    pub driver: String,
    pub ha: bool,
    /// The third octet of the profile's loopback block: nodes on 127.0.<block>.2.., the VIP on .254.
    pub block: u8,
    pub kubernetes_version: String,
    pub nodes: Vec<NodeEntry>,
    /// The highest node number ever given, so numbers are never reused.
    pub last_number: u8,
    #[serde(default)]
    pub external_etcd: Option<ExternalEtcd>,
}

impl ProfileConfig {
    /// The profile's VIP.
    pub fn vip(&self) -> Ipv4Addr {
        names::vip(self.block)
    }

    /// The API's address through the VIP.
    pub fn server(&self) -> String {
        format!("https://{}:{}", self.vip(), crate::ports::APISERVER)
    }

    /// The node called `name` (or `m02`, or the profile's name for the first node).
    pub fn node(&self, name: &str) -> Option<&NodeEntry> {
        let number = names::parse_node(&self.name, name);
        self.nodes
            .iter()
            .find(|n| n.name == name || Some(n.number) == number)
    }

    /// The node called `name`, or the error that names the profile and how to list its nodes.
    pub fn find_node(&self, name: &str) -> Result<&NodeEntry> {
        self.node(name).ok_or_else(|| Error::NoNode {
            profile: self.name.clone(),
            node: name.to_string(),
        })
    }

    /// The control-plane nodes.
    pub fn control_plane(&self) -> impl Iterator<Item = &NodeEntry> {
        self.nodes.iter().filter(|n| n.control_plane)
    }

    /// Whether the nodes run their own store members (stacked etcd).
    pub fn stacked(&self) -> bool {
        self.external_etcd.is_none()
    }

    /// What the PKI is made for: the VIP and every node.
    pub fn pki_spec(&self) -> pki::PkiSpec {
        pki::PkiSpec {
            cluster_name: self.name.clone(),
            service_ip: names::service_ip(self.block),
            vip: Some(self.vip().into()),
            nodes: self
                .nodes
                .iter()
                .map(|n| pki::NodeSpec {
                    name: n.name.clone(),
                    ip: n.ip.into(),
                    control_plane: n.control_plane,
                })
                .collect(),
        }
    }
}

/// A profile's directory and its config.
#[derive(Debug, Clone)]
pub struct Profile {
    pub dir: PathBuf,
    pub config: ProfileConfig,
}

impl Profile {
    /// Reads the profile in `dir`.
    pub fn load(dir: &Path) -> Result<Profile> {
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
        let config = serde_json::from_str(&text).map_err(|e| Error::BadConfig {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Ok(Profile {
            dir: dir.to_path_buf(),
            config,
        })
    }

    /// Writes the config atomically (a temp file renamed over it), so a crash never leaves a
    /// half-written config behind.
    pub fn save(&self) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(Error::io(&self.dir))?;
        let path = self.dir.join(CONFIG_FILE);
        let tmp = self.dir.join(".config.json.tmp");
        let text = serde_json::to_string_pretty(&self.config).map_err(|e| Error::BadConfig {
            path: path.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&tmp, text).map_err(Error::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(Error::io(&path))
    }

    pub fn pki_dir(&self) -> PathBuf {
        self.dir.join("pki")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.dir.join("nodes").join(node)
    }

    pub fn data_dir(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("data")
    }

    pub fn logs_dir(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("logs")
    }

    /// The node process's own output (stdout and stderr).
    pub fn node_log(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("node.log")
    }

    pub fn pid_file(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("node.pid")
    }
}
