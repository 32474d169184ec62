//! Serving one HTTP request: authenticate, authorize, route to discovery, health, OpenAPI or a
//! resource handler, and answer errors as Kubernetes Status objects.

mod connect;
mod logs;
mod objects;
mod query;
mod response;
mod reviews;
mod subresources;
mod system;
mod update;
mod watch;

use std::sync::Arc;

use apimachinery::ApiError;
use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

pub use query::Query;
pub use response::Body;

use crate::rbac::{self, Attributes, Decision};
use crate::request::{self, Target};
use crate::server::ApiServer;
use crate::user::UserInfo;

/// The largest request body accepted (kube-apiserver's limit: 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// What one handler gets: the server, the caller, the parsed path and query, and the body.
pub struct Call {
    pub server: Arc<ApiServer>,
    pub user: UserInfo,
    pub method: Method,
    pub path: String,
    pub query: Query,
    /// The query string as sent, for handlers with options of their own (`pods/log`).
    pub raw_query: String,
    pub accept: String,
    pub content_type: String,
    /// The client's User-Agent, which names the field manager when a write does not.
    pub user_agent: String,
    pub body: Bytes,
    /// The request's headers, for handlers that pass some on (the kubelet proxies).
    pub headers: http::HeaderMap,
    /// hyper's hand-over of the connection, for requests that upgrade it (exec, attach,
    /// port-forward); `None` on HTTP/2 and once taken.
    pub upgrade: Option<hyper::upgrade::OnUpgrade>,
}

/// Paths anyone may read without credentials: health and version, as kube-apiserver allows
/// anonymous requests to them.
fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/livez" | "/readyz" | "/version")
        || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
}

pub async fn handle(
    server: Arc<ApiServer>,
    request: Request<Incoming>,
    peer_certificate: Option<Arc<Vec<u8>>>,
) -> Response<Body> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = std::time::Instant::now();
    let response = match serve(server, request, peer_certificate).await {
        Ok(response) => response,
        Err(err) => response::error(&err),
    };
    tracing::debug!(%method, path, code = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    response
}

async fn serve(
    server: Arc<ApiServer>,
    request: Request<Incoming>,
    peer_certificate: Option<Arc<Vec<u8>>>,
) -> Result<Response<Body>, ApiError> {
    let (mut parts, body) = request.into_parts();
    let upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    let path = parts.uri.path().to_string();
    let query = Query::parse(parts.uri.query())?;
    let header = |name: http::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let authorization = header(http::header::AUTHORIZATION);
    let user = server
        .authenticator
        .authenticate(
            &server.storage,
            peer_certificate.as_deref().map(Vec::as_slice),
            Some(authorization.as_str()).filter(|a| !a.is_empty()),
        )
        .await?;
    let user = match user {
        Some(user) => user,
        None if is_public(&path) => UserInfo::new("system:anonymous", &["system:unauthenticated"]),
        None => return Err(ApiError::unauthorized()),
    };
    let target = request::parse(parts.method.as_str(), &path, query.watch);
    authorize(&server, &user, &target, parts.method.as_str(), &path)?;
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                ApiError::too_large(MAX_BODY)
            } else {
                ApiError::bad_request(format!("reading the request body: {e}"))
            }
        })?
        .to_bytes();
    let call = Call {
        server,
        user,
        method: parts.method.clone(),
        path,
        query,
        raw_query: parts.uri.query().unwrap_or_default().to_string(),
        accept: header(http::header::ACCEPT),
        content_type: header(http::header::CONTENT_TYPE),
        user_agent: header(http::header::USER_AGENT),
        body,
        headers: parts.headers,
        upgrade,
    };
    match target {
        Target::Resource(request) => objects::dispatch(call, request).await,
        Target::ApiRoot | Target::ApisRoot | Target::Group(_) | Target::GroupVersion { .. } => {
            system::discovery(&call, &target)
        }
        Target::NonResource(_) => system::non_resource(&call).await,
        Target::Unknown => Err(ApiError::no_route()),
    }
}

/// RBAC for one request; 403 with Kubernetes' wording on denial.
fn authorize(
    server: &ApiServer,
    user: &UserInfo,
    target: &Target,
    method: &str,
    path: &str,
) -> Result<(), ApiError> {
    let verb = target.verb(method);
    let attributes = match target {
        Target::Resource(r) => Attributes {
            user,
            verb: &verb,
            namespace: &r.namespace,
            api_group: r.info.group,
            resource: r.info.plural,
            subresource: &r.subresource,
            name: &r.name,
            resource_request: true,
            path,
        },
        _ => Attributes {
            user,
            verb: &verb,
            namespace: "",
            api_group: "",
            resource: "",
            subresource: "",
            name: "",
            resource_request: false,
            path,
        },
    };
    let policy = server.policy.read().expect("policy lock");
    match policy.authorize(&attributes) {
        Decision::Allow => Ok(()),
        Decision::Deny => Err(ApiError::forbidden(rbac::forbidden_message(&attributes))),
    }
}
