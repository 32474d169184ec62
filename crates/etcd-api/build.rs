//! Generates the etcd v3 and raftpeer Rust types and tonic stubs from `proto/`.
//!
//! protox parses the `.proto` files in pure Rust, so building needs no system `protoc`.

/// Every file we generate code for, relative to the `proto` include root. Imports resolve from the
/// same root, so `etcdserverpb` finds `mvccpb` and `authpb` as `etcd/<package>/<file>.proto`.
const PROTOS: &[&str] = &[
    "etcd/mvccpb/kv.proto",
    "etcd/authpb/auth.proto",
    "etcd/etcdserverpb/rpc.proto",
    "raftpeer.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A directory here makes cargo rerun when anything beneath it changes.
    println!("cargo:rerun-if-changed=proto");

    let fds = protox::compile(PROTOS, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
