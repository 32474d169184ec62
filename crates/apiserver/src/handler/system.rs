//! Non-resource endpoints: discovery (legacy and aggregated), `/version`, health checks with an
//! etcd check, and OpenAPI v3.

use apimachinery::{ApiError, discovery, openapi};
use http::Response;
use serde_json::json;

use super::Call;
use super::response::{self, Body};
use crate::request::Target;

/// The Kubernetes version this API server implements.
pub const KUBE_VERSION: (&str, &str) = ("1", "33");
pub const GIT_VERSION: &str = "v1.33.0+hakube";

pub fn discovery(call: &Call, target: &Target) -> Result<Response<Body>, ApiError> {
    let aggregated = discovery::wants_aggregated(&call.accept);
    let address = format!(
        "{}:{}",
        call.server.config.public_address(),
        call.server.config.secure_port
    );
    let body = match target {
        Target::ApiRoot if aggregated => {
            return Ok(response::json_as(
                200,
                &discovery::aggregated(true),
                discovery::AGGREGATED_CONTENT_TYPE,
            ));
        }
        Target::ApisRoot if aggregated => {
            return Ok(response::json_as(
                200,
                &discovery::aggregated(false),
                discovery::AGGREGATED_CONTENT_TYPE,
            ));
        }
        Target::ApiRoot => discovery::api_versions(&address),
        Target::ApisRoot => discovery::api_group_list(),
        Target::Group(group) => discovery::api_group(group),
        Target::GroupVersion { group, version } => discovery::api_resource_list(group, version),
        _ => return Err(ApiError::no_route()),
    };
    Ok(response::json(200, &body))
}

pub async fn non_resource(call: &Call) -> Result<Response<Body>, ApiError> {
    if call.method != http::Method::GET && call.method != http::Method::HEAD {
        return Err(ApiError::method_not_allowed());
    }
    let path = call.path.trim_end_matches('/');
    match path {
        "/version" => Ok(response::json(200, &version())),
        "/healthz" | "/livez" | "/readyz" => health(call, &path[1..], true).await,
        "/healthz/ping" | "/livez/ping" | "/readyz/ping" => Ok(response::text(200, "ok")),
        "/healthz/etcd" | "/livez/etcd" | "/readyz/etcd" => health(call, "etcd", false).await,
        "/openapi/v3" => Ok(response::json(200, &openapi::v3_index())),
        "/openapi/v2" => Ok(openapi_v2(call)),
        _ if path.starts_with("/openapi/v3/") => openapi_v3(call, &path["/openapi/v3/".len()..]),
        _ => Err(ApiError::no_route()),
    }
}

/// One group-version's OpenAPI v3 document. A request naming the current `hash` may be cached
/// for good (the hash changes with the content); a stale hash is redirected to the current one,
/// as kube-apiserver does.
fn openapi_v3(call: &Call, key: &str) -> Result<Response<Body>, ApiError> {
    let document = openapi::v3_served(key).ok_or_else(ApiError::no_route)?;
    let requested = call.query.hash.as_deref();
    let mut response = http::Response::new(http_body_util::BodyExt::boxed(
        http_body_util::Full::new(bytes::Bytes::copy_from_slice(&document.json)),
    ));
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    match requested {
        Some(hash) if hash == document.hash => {
            let etag = format!("\"{}\"", document.hash);
            if let Ok(value) = http::HeaderValue::from_str(&etag) {
                headers.insert(http::header::ETAG, value);
            }
            headers.insert(
                http::header::CACHE_CONTROL,
                http::HeaderValue::from_static("public, immutable"),
            );
            headers.insert(http::header::VARY, http::HeaderValue::from_static("Accept"));
        }
        Some(_) => {
            let mut redirect = response::text(301, "");
            let location = format!("/openapi/v3/{}?hash={}", document.key, document.hash);
            if let Ok(value) = http::HeaderValue::from_str(&location) {
                redirect.headers_mut().insert(http::header::LOCATION, value);
            }
            return Ok(redirect);
        }
        None => {}
    }
    Ok(response)
}

/// `/openapi/v2`: kubectl falls back to it for kinds whose v3 document has no PATCH operation
/// (the reviews). An empty Swagger document tells it there is no client-side schema, so the
/// server's own validation decides, instead of failing the command.
fn openapi_v2(call: &Call) -> Response<Body> {
    if call.accept.contains("protobuf") {
        let mut response = http::Response::new(http_body_util::BodyExt::boxed(
            http_body_util::Full::new(bytes::Bytes::from(openapi::v2_placeholder())),
        ));
        if let Ok(value) = http::HeaderValue::from_str(openapi::V2_PROTOBUF_CONTENT_TYPE) {
            response
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, value);
        }
        return response;
    }
    response::json(
        200,
        &json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": GIT_VERSION}, "paths": {}}),
    )
}

fn version() -> serde_json::Value {
    json!({
        "major": KUBE_VERSION.0,
        "minor": KUBE_VERSION.1,
        "gitVersion": GIT_VERSION,
        "gitCommit": env!("CARGO_PKG_VERSION"),
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "none (hakube is written in Rust)",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, if cfg!(target_arch = "x86_64") { "amd64" } else if cfg!(target_arch = "aarch64") { "arm64" } else { std::env::consts::ARCH }),
    })
}

/// `/readyz` and friends: `ok`, or the failed checks (all of them with `?verbose`).
async fn health(call: &Call, name: &str, all: bool) -> Result<Response<Body>, ApiError> {
    let etcd = call.server.storage.revision().await;
    let verbose = call.query.verbose;
    let mut lines = vec!["[+]ping ok".to_string(), "[+]log ok".to_string()];
    match &etcd {
        Ok(_) => lines.push("[+]etcd ok".into()),
        Err(_) => lines.push("[-]etcd failed: reason withheld".into()),
    }
    let healthy = etcd.is_ok();
    if !all {
        return Ok(response::text(
            if healthy { 200 } else { 500 },
            if healthy { "ok" } else { "etcd failed" },
        ));
    }
    let verdict = if healthy {
        format!("{name} check passed")
    } else {
        format!("{name} check failed")
    };
    let body = if verbose || !healthy {
        format!("{}\n{verdict}\n", lines.join("\n"))
    } else {
        "ok".into()
    };
    Ok(response::text(if healthy { 200 } else { 500 }, &body))
}
