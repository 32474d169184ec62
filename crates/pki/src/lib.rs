//! hakube's PKI: the certificates, keys and secrets a cluster needs, written in kubeadm's layout
//! (`ca.crt`, `apiserver.crt`, `etcd/ca.crt`, `sa.key`, ...) so that each file is where a
//! Kubernetes operator would look for it.
//!
//! Every key is ECDSA P-256 (rcgen's ring keys); kubeadm's default is RSA 2048, and P-256 is the
//! other algorithm it supports. CAs are valid for ten years and everything else for one, as with
//! kubeadm. [`Pki::generate`] makes a new PKI, [`Pki::load`] finds the files of an existing one,
//! [`Pki::add_node`] and [`Pki::reissue_apiserver`] extend it when nodes join, and
//! [`kubeconfig`] turns a client certificate into a kubeconfig.

mod authority;
mod cert_spec;
mod encryption;
mod error;
mod files;
mod issue;
mod kubeconfig;
mod layout;
mod spec;

pub use error::{Error, Result};
pub use kubeconfig::kubeconfig;
pub use layout::{EtcdMemberFiles, NodeFiles, Pki};
pub use spec::{NodeSpec, PkiSpec};
