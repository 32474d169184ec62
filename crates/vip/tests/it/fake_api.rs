//! A fake Kubernetes API, over plain HTTP, that serves just what the agent calls: the election
//! Lease (get, create, replace with resourceVersion checks) and an empty Node list. Several
//! endpoints can share one store, each standing for one node's local API server, and each can be
//! taken down on its own.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::coordination::v1::Lease;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases";
const LOCK: &str = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/plndr-cp-lock";

/// The stored Lease and the revision counter.
#[derive(Default)]
pub struct Store {
    lease: Option<Value>,
    revision: u64,
}

pub type SharedStore = Arc<Mutex<Store>>;

/// Reads the stored Lease.
pub fn lease(store: &SharedStore) -> Option<Lease> {
    let store = store.lock().expect("store lock");
    store
        .lease
        .clone()
        .map(|v| serde_json::from_value(v).expect("stored lease"))
}

/// One node's API server.
pub struct Endpoint {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Endpoint {
    pub async fn start(store: SharedStore) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake API");
        let addr = listener.local_addr().expect("local addr");
        let up = Arc::new(AtomicBool::new(true));
        let serving = up.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let store = store.clone();
                let up = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let store = store.clone();
                        let up = up.load(Ordering::SeqCst);
                        async move { Ok::<_, Infallible>(handle(request, &store, up).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        Endpoint { addr, up, task }
    }

    /// A kube client of this endpoint.
    pub fn client(&self) -> kube::Client {
        let url = format!("http://{}", self.addr).parse().expect("url");
        kube::Client::try_from(kube::Config::new(url)).expect("client")
    }

    /// Makes every request fail with 503 (false) or be served again (true).
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    request: Request<Incoming>,
    store: &SharedStore,
    up: bool,
) -> Response<Full<Bytes>> {
    if !up {
        return status(503, "ServiceUnavailable", "down for the test");
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return status(400, "BadRequest", "unreadable body"),
    };
    let mut store = store.lock().expect("store lock");
    match (method, path.as_str()) {
        (Method::GET, "/api/v1/nodes") => json_response(
            200,
            &json!({"kind": "NodeList", "apiVersion": "v1",
                    "metadata": {"resourceVersion": "1"}, "items": []}),
        ),
        (Method::GET, LOCK) => match &store.lease {
            Some(lease) => json_response(200, lease),
            None => status(404, "NotFound", "leases \"plndr-cp-lock\" not found"),
        },
        (Method::POST, LEASES) => {
            if store.lease.is_some() {
                return status(
                    409,
                    "AlreadyExists",
                    "leases \"plndr-cp-lock\" already exists",
                );
            }
            let Ok(mut lease) = serde_json::from_slice::<Value>(&body) else {
                return status(400, "BadRequest", "not JSON");
            };
            store.revision += 1;
            lease["metadata"]["resourceVersion"] = json!(store.revision.to_string());
            store.lease = Some(lease.clone());
            json_response(201, &lease)
        }
        (Method::PUT, LOCK) => {
            let Ok(mut lease) = serde_json::from_slice::<Value>(&body) else {
                return status(400, "BadRequest", "not JSON");
            };
            let Some(current) = &store.lease else {
                return status(404, "NotFound", "leases \"plndr-cp-lock\" not found");
            };
            if lease["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"] {
                return status(409, "Conflict", "the object has been modified");
            }
            store.revision += 1;
            lease["metadata"]["resourceVersion"] = json!(store.revision.to_string());
            store.lease = Some(lease.clone());
            json_response(200, &lease)
        }
        _ => status(404, "NotFound", "not served by the fake"),
    }
}

fn json_response(code: u16, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(code).expect("status code"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

fn status(code: u16, reason: &str, message: &str) -> Response<Full<Bytes>> {
    json_response(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code}),
    )
}
