//! End-to-end acceptance of `hakube start --ha` and the lifecycle verbs, following minikube's HA
//! tutorial with the real binary, kubectl and etcdctl: each test gets its own `$HAKUBE_HOME`,
//! kubeconfig and loopback block (127.0.200.0/24 to 127.0.249.0/24), and leaves no process or
//! port behind, even when it fails. `HAKUBE_IT_KEEP=1` keeps the profile's files (nodes stopped).

mod checks;
mod failover;
mod harness;
mod lifecycle;
mod preflight;
mod probe;
mod views;
mod workloads;

/// The tutorial's profile.
const PROFILE: &str = "ha-demo";
