//! A small stand-in for the API server: plain HTTP, objects as JSON in memory, and only what the
//! kubelet uses: create, get, replace, merge patch, delete with preconditions, the status
//! subresource, and list and watch of a collection (with `spec.nodeName=` style field
//! selectors). It can be told to fail every request, like an API server not up yet.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::sync::watch;

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// The collections the stand-in knows (a path segment naming one).
const PLURALS: [&str; 7] = [
    "nodes",
    "pods",
    "leases",
    "events",
    "services",
    "secrets",
    "configmaps",
];

/// One change, as a watch reports it.
#[derive(Clone)]
struct Change {
    revision: u64,
    type_: &'static str,
    key: String,
    object: Value,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Value>,
    revision: u64,
    down: bool,
    requests: usize,
    changes: Vec<Change>,
}

/// A running fake API server.
#[derive(Clone)]
pub struct FakeApi {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    /// The latest revision, for watches to wait on.
    latest: watch::Sender<u64>,
}

impl FakeApi {
    pub async fn start() -> FakeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = FakeApi {
            addr: listener.local_addr().unwrap(),
            state: Arc::default(),
            latest: watch::channel(0).0,
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

    /// Every object under a path prefix.
    pub fn list(&self, prefix: &str) -> Vec<Value> {
        let state = self.state.lock().unwrap();
        state
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn delete(&self, path: &str) {
        let mut state = self.state.lock().unwrap();
        if let Some(object) = state.objects.remove(path) {
            state.revision += 1;
            self.record(&mut state, "DELETED", path, object);
        }
    }

    /// Creates an object at `path` (its key), as a client's POST would.
    pub fn create(&self, path: &str, mut object: Value) -> Value {
        let mut state = self.state.lock().unwrap();
        state.revision += 1;
        let revision = state.revision.to_string();
        object["metadata"]["uid"] = json!(format!("uid-{revision}"));
        object["metadata"]["resourceVersion"] = json!(revision);
        state.objects.insert(path.to_string(), object.clone());
        self.record(&mut state, "ADDED", path, object.clone());
        object
    }

    /// Starts a pod's graceful deletion, as the API server does for a pod on a node.
    pub fn delete_gracefully(&self, path: &str, grace_seconds: i64) {
        let mut state = self.state.lock().unwrap();
        let Some(mut object) = state.objects.get(path).cloned() else {
            return;
        };
        object["metadata"]["deletionTimestamp"] = json!(jiff::Timestamp::now().to_string());
        object["metadata"]["deletionGracePeriodSeconds"] = json!(grace_seconds);
        state.revision += 1;
        object["metadata"]["resourceVersion"] = json!(state.revision.to_string());
        state.objects.insert(path.to_string(), object.clone());
        self.record(&mut state, "MODIFIED", path, object);
    }

    /// Records a change for the watches (the state's revision is the change's).
    fn record(&self, state: &mut State, type_: &'static str, key: &str, object: Value) {
        let revision = state.revision;
        state.changes.push(Change {
            revision,
            type_,
            key: key.to_string(),
            object,
        });
        self.latest.send_replace(revision);
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or("").to_string();
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut state = self.state.lock().unwrap();
        state.requests += 1;
        if state.down {
            return status(503, "ServiceUnavailable", "not up yet");
        }
        let collection = path
            .rsplit('/')
            .next()
            .is_some_and(|last| PLURALS.contains(&last));
        if method == Method::GET && collection {
            let params = Query::parse(&query);
            if params.watch {
                drop(state);
                return self.watch(path, params);
            }
            return list(&state, &path, &params);
        }
        let (response, change) = state.answer(&method, &path, body);
        if let Some((type_, key, object)) = change {
            self.record(&mut state, type_, &key, object);
        }
        response
    }

    /// A watch: the changes after the given revision, then new ones as they come.
    fn watch(&self, path: String, params: Query) -> Response<Body> {
        let state = self.state.clone();
        let mut latest = self.latest.subscribe();
        let mut seen = params.resource_version;
        let stream = async_stream(move |tx| async move {
            loop {
                let changes: Vec<Change> = {
                    let state = state.lock().unwrap();
                    state
                        .changes
                        .iter()
                        .filter(|c| c.revision > seen)
                        .cloned()
                        .collect()
                };
                for change in changes {
                    seen = change.revision;
                    if in_collection(&change.key, &path) && params.selects(&change.object) {
                        let line = json!({"type": change.type_, "object": change.object});
                        if tx.send(Bytes::from(format!("{line}\n"))).await.is_err() {
                            return;
                        }
                    }
                }
                if latest.changed().await.is_err() {
                    return;
                }
            }
        });
        let mut response = Response::new(StreamBody::new(stream).boxed_unsync());
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            "application/json".parse().unwrap(),
        );
        response
    }
}

/// A stream of body frames fed by a task.
fn async_stream<F, Fut>(feed: F) -> impl futures::Stream<Item = Result<Frame<Bytes>, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Bytes>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(feed(tx));
    futures::stream::unfold(rx, |mut rx| async move {
        let chunk = rx.recv().await?;
        Some((Ok(Frame::data(chunk)), rx))
    })
}

/// The query of a list or watch.
struct Query {
    watch: bool,
    resource_version: u64,
    /// `field=value` pairs, the field as a JSON pointer.
    fields: Vec<(String, String)>,
}

impl Query {
    fn parse(query: &str) -> Query {
        let mut parsed = Query {
            watch: false,
            resource_version: 0,
            fields: Vec::new(),
        };
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = value
                .replace("%3D", "=")
                .replace("%3d", "=")
                .replace("%2C", ",");
            match key {
                "watch" => parsed.watch = value == "true" || value == "1",
                "resourceVersion" => parsed.resource_version = value.parse().unwrap_or(0),
                "fieldSelector" => {
                    for term in value.split(',').filter(|t| !t.is_empty()) {
                        let (field, want) = term.split_once('=').unwrap();
                        parsed
                            .fields
                            .push((format!("/{}", field.replace('.', "/")), want.to_string()));
                    }
                }
                _ => {}
            }
        }
        parsed
    }

    fn selects(&self, object: &Value) -> bool {
        self.fields.iter().all(|(pointer, want)| {
            object
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or("")
                == want
        })
    }
}

/// Whether an object's key is in a collection (`/api/v1/pods` holds every namespace's pods).
fn in_collection(key: &str, collection: &str) -> bool {
    let plural = collection.rsplit('/').next().unwrap();
    let Some(parent) = key.rsplit_once('/').map(|(parent, _)| parent) else {
        return false;
    };
    if parent == collection {
        return true;
    }
    // A collection across namespaces: /api/v1/pods vs /api/v1/namespaces/<ns>/pods.
    let prefix = collection.trim_end_matches(plural).trim_end_matches('/');
    parent.starts_with(&format!("{prefix}/namespaces/"))
        && parent.ends_with(&format!("/{plural}"))
        && parent.matches('/').count() == prefix.matches('/').count() + 3
}

fn list(state: &State, path: &str, params: &Query) -> Response<Body> {
    let items: Vec<Value> = state
        .objects
        .iter()
        .filter(|(key, object)| in_collection(key, path) && params.selects(object))
        .map(|(_, object)| object.clone())
        .collect();
    ok(
        200,
        &json!({
            "kind": "List", "apiVersion": "v1",
            "metadata": {"resourceVersion": state.revision.to_string()},
            "items": items,
        }),
    )
}

/// A change to report: its type, key and object.
type Changed = Option<(&'static str, String, Value)>;

impl State {
    fn answer(&mut self, method: &Method, path: &str, body: Value) -> (Response<Body>, Changed) {
        // /api/v1/nodes/n1/status -> collection /api/v1/nodes, name n1, subresource status.
        let segments: Vec<&str> = path.split('/').collect();
        let plural_at = segments.iter().rposition(|s| PLURALS.contains(s)).unwrap();
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
                return (
                    status(409, "AlreadyExists", &format!("{name} already exists")),
                    None,
                );
            }
            object["metadata"]["uid"] = json!(format!("uid-{revision}"));
            object["metadata"]["resourceVersion"] = json!(revision);
            if collection.ends_with("/pods") {
                // As kube-apiserver does: a new pod's status is the server's.
                object["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
            }
            self.objects.insert(key.clone(), object.clone());
            return (ok(201, &object), Some(("ADDED", key, object)));
        };
        let key = format!("{collection}/{name}");
        let Some(current) = self.objects.get(&key).cloned() else {
            return (status(404, "NotFound", &format!("{name} not found")), None);
        };
        let updated = match *method {
            Method::GET => return (ok(200, &current), None),
            Method::DELETE => {
                let uid = body.pointer("/preconditions/uid");
                if uid.is_some_and(|uid| *uid != current["metadata"]["uid"]) {
                    return (status(409, "Conflict", "precondition failed: uid"), None);
                }
                self.objects.remove(&key);
                return (ok(200, &current), Some(("DELETED", key, current)));
            }
            Method::PUT if status_only => {
                let mut updated = current.clone();
                updated["status"] = body["status"].clone();
                updated
            }
            Method::PUT => {
                if body["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"] {
                    return (
                        status(409, "Conflict", "the object has been modified"),
                        None,
                    );
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
        self.objects.insert(key.clone(), updated.clone());
        (ok(200, &updated), Some(("MODIFIED", key, updated)))
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

fn ok(code: u16, object: &Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(object.to_string())).boxed_unsync());
    *response.status_mut() = StatusCode::from_u16(code).unwrap();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        "application/json".parse().unwrap(),
    );
    response
}

fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
    ok(
        code,
        &json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code,
        }),
    )
}
