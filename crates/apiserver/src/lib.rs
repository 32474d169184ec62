//! hakube's Kubernetes API server, as a library role: the REST API that kubectl and kube-rs speak,
//! kept in any etcd v3 store, with client-certificate and token authentication, RBAC and
//! encryption at rest.

pub mod encryption;
pub mod rbac;
pub mod token;
pub mod user;
