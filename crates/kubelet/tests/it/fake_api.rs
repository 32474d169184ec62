//! A small stand-in for the API server: plain HTTP, objects as JSON in memory, and only what the
//! kubelet's registration uses (create, get, replace, merge patch, delete with preconditions, the
//! status subresource). It can be told to fail every request, like an API server not up yet.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Value>,
    revision: u64,
    down: bool,
    requests: usize,
}

/// A running fake API server.
#[derive(Clone)]
pub struct FakeApi {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeApi {
    pub async fn start() -> FakeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = FakeApi {
            addr: listener.local_addr().unwrap(),
            state: Arc::default(),
        };
        let server = api.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let server = server.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let server = server.clone();
                        async move { Ok::<_, Infallible>(server.handle(request).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        api
    }

    /// A client of this server, as the kubelet gets one.
    pub fn client(&self) -> kube::Client {
        let url = format!("http://{}", self.addr).parse().unwrap();
        kube::Client::try_from(kube::Config::new(url)).unwrap()
    }

    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().requests
    }

    /// An object by its path, e.g. `/api/v1/nodes/n1`.
    pub fn get(&self, path: &str) -> Option<Value> {
        self.state.lock().unwrap().objects.get(path).cloned()
    }

    pub fn delete(&self, path: &str) {
        self.state.lock().unwrap().objects.remove(path);
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut state = self.state.lock().unwrap();
        state.requests += 1;
        if state.down {
            return status(503, "ServiceUnavailable", "not up yet");
        }
        state.answer(&method, &path, body)
    }
}

impl State {
    fn answer(&mut self, method: &Method, path: &str, body: Value) -> Response<Full<Bytes>> {
        // /api/v1/nodes/n1/status -> collection /api/v1/nodes, name n1, subresource status.
        let segments: Vec<&str> = path.split('/').collect();
        let plural_at = segments
            .iter()
            .position(|s| matches!(*s, "nodes" | "pods" | "leases"))
            .unwrap();
        let collection = segments[..=plural_at].join("/");
        let name = segments.get(plural_at + 1).copied();
        let status_only = segments.get(plural_at + 2) == Some(&"status");
        self.revision += 1;
        let revision = self.revision.to_string();
        let Some(name) = name else {
            // POST to the collection.
            assert_eq!(method, Method::POST, "{method} {path}");
            let mut object = body;
            let name = object["metadata"]["name"].as_str().unwrap().to_string();
            let key = format!("{collection}/{name}");
            if self.objects.contains_key(&key) {
                return status(409, "AlreadyExists", &format!("{name} already exists"));
            }
            object["metadata"]["uid"] = json!(format!("uid-{revision}"));
            object["metadata"]["resourceVersion"] = json!(revision);
            if collection.ends_with("/pods") {
                // As kube-apiserver does: a new pod's status is the server's.
                object["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
            }
            self.objects.insert(key, object.clone());
            return ok(201, &object);
        };
        let key = format!("{collection}/{name}");
        let Some(current) = self.objects.get(&key).cloned() else {
            return status(404, "NotFound", &format!("{name} not found"));
        };
        let updated = match *method {
            Method::GET => return ok(200, &current),
            Method::DELETE => {
                let uid = body.pointer("/preconditions/uid");
                if uid.is_some_and(|uid| *uid != current["metadata"]["uid"]) {
                    return status(409, "Conflict", "precondition failed: uid");
                }
                self.objects.remove(&key);
                return ok(200, &current);
            }
            Method::PUT if status_only => {
                let mut updated = current.clone();
                updated["status"] = body["status"].clone();
                updated
            }
            Method::PUT => {
                if body["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"] {
                    return status(409, "Conflict", "the object has been modified");
                }
                let mut updated = body;
                updated["metadata"]["uid"] = current["metadata"]["uid"].clone();
                if !current["status"].is_null() {
                    updated["status"] = current["status"].clone();
                }
                updated
            }
            Method::PATCH => {
                let mut updated = current.clone();
                if status_only {
                    merge(&mut updated["status"], &body["status"]);
                } else {
                    let mut patch = body;
                    if let Some(patch) = patch.as_object_mut() {
                        patch.remove("status");
                    }
                    merge(&mut updated, &patch);
                }
                updated
            }
            _ => panic!("unexpected {method} {path}"),
        };
        let mut updated = updated;
        updated["metadata"]["resourceVersion"] = json!(revision);
        self.objects.insert(key, updated.clone());
        ok(200, &updated)
    }
}

/// JSON merge patch (RFC 7386).
fn merge(target: &mut Value, patch: &Value) {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let object = target.as_object_mut().unwrap();
    for (key, value) in patch {
        if value.is_null() {
            object.remove(key);
        } else {
            merge(object.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

fn ok(code: u16, object: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(object.to_string())));
    *response.status_mut() = StatusCode::from_u16(code).unwrap();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        "application/json".parse().unwrap(),
    );
    response
}

fn status(code: u16, reason: &str, message: &str) -> Response<Full<Bytes>> {
    ok(
        code,
        &json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code,
        }),
    )
}
