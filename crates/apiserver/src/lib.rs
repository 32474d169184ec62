//! hakube's Kubernetes API server, as a library role: the REST API that kubectl and kube-rs speak,
//! kept in any etcd v3 store, with client-certificate and token authentication, RBAC and
//! encryption at rest.

pub mod authn;
mod bootstrap;
pub mod config;
pub mod encryption;
pub mod endpoints;
pub mod error;
pub mod etcd;
pub mod handler;
pub mod kubelet_client;
pub mod rbac;
pub mod request;
pub mod server;
pub mod services;
pub mod storage;
pub mod strategy;
mod tls;
pub mod token;
pub mod user;
pub mod x509;

pub use config::ApiServerConfig;
pub use error::{Error, Result};
pub use etcd::EtcdConfig;
pub use server::{ApiServer, Running, start};
