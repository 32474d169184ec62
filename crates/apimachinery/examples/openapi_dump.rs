//! Writes the OpenAPI documents the API server serves into a directory, laid out as URLs, so
//! they can be inspected or served by a static file server: `<dir>/openapi/v3` (the index),
//! `<dir>/openapi/v3/apis/apps/v1` (one document each) and `<dir>/openapi/v2` (the protobuf
//! placeholder).
//!
//! Usage: `cargo run -p apimachinery --example openapi_dump -- <dir>`

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "openapi-dump".into()),
    );
    let v3 = dir.join("openapi/v3");
    std::fs::create_dir_all(&v3)?;
    // The index sits where a directory of documents would too, so it gets its own file name
    // beside them; a static server can map `/openapi/v3` to it.
    let index = serde_json::to_vec_pretty(&apimachinery::openapi::v3_index())?;
    std::fs::write(dir.join("openapi/v3.json"), index)?;
    for doc in apimachinery::openapi::v3_documents() {
        let path = v3.join(&doc.key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &doc.json)?;
        println!(
            "{} {} bytes {}",
            doc.server_relative_url(),
            doc.json.len(),
            path.display()
        );
    }
    std::fs::write(
        dir.join("openapi/v2"),
        apimachinery::openapi::v2_placeholder(),
    )?;
    Ok(())
}
