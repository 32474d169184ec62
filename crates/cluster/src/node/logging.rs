//! The node process's logs: everything to stderr (the driver sends it to `node.log`), and each
//! role's lines also to its own file under `logs/`, which the kubelet serves as the role's
//! mirror pod log (`kubectl logs -n kube-system kube-vip-<node>`).

use std::fs::File;
use std::path::Path;
use std::sync::Mutex;

use tracing::Level;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::error::{Error, Result};

/// Each mirror-pod role, the crate (tracing target) whose lines are its log, and the file.
pub const ROLE_TARGETS: [(&str, &str); 7] = [
    ("etcd", "store"),
    ("kube-apiserver", "apiserver"),
    ("kube-vip", "vip"),
    ("kubelet", "kubelet"),
    ("kube-controller-manager", "kube-controller-manager"),
    ("kube-scheduler", "kube-scheduler"),
    ("kube-proxy", "kube-proxy"),
];

/// The log file of `role` in `dir`.
pub fn role_log(dir: &Path, role: &str) -> std::path::PathBuf {
    dir.join(format!("{role}.log"))
}

/// Installs the process's subscriber. Role files start empty at each start, as a container's
/// log does when the container starts again.
pub fn init(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let stderr_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(
            "warn,openraft=error,store=info,apiserver=info,kubelet=info,vip=info,cluster=info,hakube=info,\
             kube-controller-manager=info,kube-scheduler=info,kube-proxy=info",
        )
    });
    let mut layers = Vec::new();
    layers.push(
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .with_filter(stderr_filter)
            .boxed(),
    );
    for (role, target) in ROLE_TARGETS {
        let path = role_log(dir, role);
        let file = File::create(&path).map_err(Error::io(&path))?;
        layers.push(
            tracing_subscriber::fmt::layer()
                .with_writer(Mutex::new(file))
                .with_ansi(false)
                .with_target(false)
                .with_filter(Targets::new().with_target(target, Level::INFO))
                .boxed(),
        );
    }
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|e| Error::Invalid(format!("cannot set up logging: {e}")))
}
