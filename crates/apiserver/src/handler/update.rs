//! The write paths: admitting a new object (decode, defaults, names, namespace lifecycle,
//! validation), updates and patches with optimistic concurrency, and deletion with finalizers
//! and graceful pod termination. No write leaves an object half-changed: each ends in one Txn.

use apimachinery::apply::{self, FieldManager};
use apimachinery::schema::{self, FieldValidation};
use apimachinery::{ApiError, ResourceInfo, patch, resource};
use http::{HeaderValue, Response};
use serde_json::{Value, json};

use super::objects::{self, DeleteOptions, fetch, key_of, respond};
use super::{Body, Call};
use crate::request::ResourceRequest;
use crate::services;
use crate::storage::{GUARD_MOVED, Guard, ListOptions};
use crate::strategy::{self, Stamp};

/// How many times a Service create is decided again when another allocation won the race.
const ALLOCATION_RETRIES: usize = 64;
/// How many times a patch is retried when the object changes under it.
const PATCH_RETRIES: usize = 8;

/// The request body as JSON (protobuf and YAML are accepted too, as kube-apiserver accepts
/// them); a 400 in kube-apiserver's words, naming the `kind` expected, otherwise.
pub fn parse_body(call: &Call, kind: &str) -> Result<Value, ApiError> {
    if call.body.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty: send the object as JSON",
        ));
    }
    let media = call
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    let value: Value = if apimachinery::protobuf::is_protobuf(media) {
        apimachinery::protobuf::decode_object(&call.body)
            .map_err(|e| ApiError::bad_request(e.to_string()))?
    } else if media.contains("yaml") {
        serde_yaml_ng::from_slice(&call.body)
            .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))?
    } else {
        serde_json::from_slice(&call.body).map_err(|e| {
            ApiError::bad_request(format!(
                "the object provided is unrecognized (must be of type {kind}): couldn't get version/kind; json parse error: {e}"
            ))
        })?
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    Ok(value)
}

fn field_validation(call: &Call) -> Result<FieldValidation, ApiError> {
    match call.query.field_validation.as_str() {
        "" | "Warn" => Ok(FieldValidation::Warn),
        "Ignore" => Ok(FieldValidation::Ignore),
        "Strict" => Ok(FieldValidation::Strict),
        other => Err(ApiError::bad_request(format!(
            "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
        ))),
    }
}

/// Adds `Warning` headers (`299 - "unknown field ..."`), which kubectl prints.
pub fn add_warnings(response: &mut Response<Body>, warnings: &[String]) {
    for warning in warnings {
        let text = format!("299 - \"{}\"", warning.replace('"', "'"));
        if let Ok(value) = HeaderValue::from_str(&text) {
            response.headers_mut().append("Warning", value);
        }
    }
}

/// The time now, as `metav1.Time` writes it.
pub fn now() -> String {
    Stamp::now().now
}

/// The name a write's fields are recorded under: `fieldManager`, else from the User-Agent.
fn manager(call: &Call) -> String {
    apply::manager_name(Some(&call.query.field_manager), &call.user_agent)
}

/// Who owns what after a write: the manager, kind and subresource of this request.
fn field_manager<'a>(
    info: &'a ResourceInfo,
    subresource: &'a str,
    manager: &'a str,
    now: &'a str,
) -> FieldManager<'a> {
    FieldManager {
        manager,
        kind: info.kind,
        api_version: if info.group.is_empty() {
            info.version
        } else {
            API_VERSIONS
                .iter()
                .find(|(g, _)| *g == info.group)
                .map_or(info.version, |(_, v)| v)
        },
        subresource,
        status_subresource: strategy::has_status_subresource(info),
        now,
    }
}

/// `apiVersion`s of the named groups, for managedFields entries (they carry the group/version).
const API_VERSIONS: &[(&str, &str)] = &[
    ("apps", "apps/v1"),
    ("coordination.k8s.io", "coordination.k8s.io/v1"),
    ("discovery.k8s.io", "discovery.k8s.io/v1"),
    ("policy", "policy/v1"),
    ("rbac.authorization.k8s.io", "rbac.authorization.k8s.io/v1"),
    ("storage.k8s.io", "storage.k8s.io/v1"),
];

/// Decodes and admits a new object: everything but the final write. `applied` objects come
/// from server-side apply, which has already recorded their field ownership.
pub async fn admit_create(
    call: &Call,
    request: &ResourceRequest,
    body: Value,
    applied: bool,
) -> Result<(Value, Vec<String>, Option<Guard>), ApiError> {
    let info = request.info;
    let (mut object, warnings) = schema::decode(info, &body, field_validation(call)?)?;
    // The namespace comes from the URL; a different one in the body is a client mistake.
    if info.namespaced {
        match object["metadata"]["namespace"].as_str() {
            Some(ns) if !ns.is_empty() && ns != request.namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => object["metadata"]["namespace"] = json!(request.namespace),
        }
    }
    if object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .is_empty()
        && let Some(prefix) = object["metadata"]["generateName"]
            .as_str()
            .filter(|p| !p.is_empty())
    {
        let suffix: String = (0..5)
            .map(|_| {
                const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
                ALPHABET[rand::random_range(0..ALPHABET.len())] as char
            })
            .collect();
        object["metadata"]["name"] = json!(schema::generate_name(prefix, &suffix));
    }
    schema::apply_defaults(info, &mut object);
    if info.group.is_empty() && info.plural == "pods" {
        // What kube-apiserver's admission plugins add to every new pod (ServiceAccount,
        // Priority, DefaultTolerationSeconds).
        schema::admit_pod(&mut object);
    }
    let stamp = Stamp::now();
    strategy::prepare_create(info, &mut object, &stamp);
    if !applied {
        let manager = manager(call);
        apply::record_update(
            None,
            &mut object,
            &field_manager(info, "", &manager, &stamp.now),
        );
    }
    schema::validate(info, &object, None)?;
    if info.namespaced {
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        check_namespace_accepts(call, request, &name).await?;
    }
    let mut guard = None;
    if info.group.is_empty() && info.plural == "services" {
        guard = Some(allocate_service(call, &mut object, None).await?);
    }
    Ok((object, warnings, guard))
}

/// Admits and creates a new object. A Service whose address allocation raced another write
/// (through this API server or another) is decided again from the new state.
pub async fn admit_and_create(
    call: &Call,
    request: &ResourceRequest,
    body: Value,
    applied: bool,
) -> Result<(Value, Vec<String>), ApiError> {
    for attempt in 0..ALLOCATION_RETRIES {
        if attempt > 0 {
            // Creators that raced back off by a random few milliseconds, so a burst of them
            // does not keep colliding.
            let pause = rand::random_range(1..=(attempt as u64 * 4).min(40));
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        }
        let (object, warnings, guard) = admit_create(call, request, body.clone(), applied).await?;
        if !request.name.is_empty() {
            check_name(request, &object)?;
        }
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let key = request.info.key(Some(&request.namespace), &name);
        if call.query.dry_run {
            // A dry run answers as the write would, taken names included.
            if call.server.storage.get(request.info, &key).await?.is_some() {
                return Err(ApiError::already_exists(
                    request.info.group,
                    request.info.plural,
                    &name,
                ));
            }
            return Ok((object, warnings));
        }
        match call
            .server
            .storage
            .create_guarded(request.info, &key, &object, guard.as_ref())
            .await
        {
            Ok(created) => return Ok((created, warnings)),
            Err(err) if guard.is_some() && err.reason == "Conflict" => continue,
            Err(err) => return Err(err),
        }
    }
    let name = body["metadata"]["name"].as_str().unwrap_or_default();
    Err(ApiError::conflict(
        request.info.group,
        request.info.plural,
        name,
        GUARD_MOVED,
    ))
}

/// Namespace lifecycle: no objects in a namespace that does not exist or is being deleted.
async fn check_namespace_accepts(
    call: &Call,
    request: &ResourceRequest,
    name: &str,
) -> Result<(), ApiError> {
    let namespace = request.namespace.as_str();
    let info = resource::find("", "v1", "namespaces").expect("namespaces are served");
    let Some(ns) = call
        .server
        .storage
        .get(info, &info.key(None, namespace))
        .await?
    else {
        return Err(ApiError::not_found("", "namespaces", namespace));
    };
    if ns["status"]["phase"] == "Terminating" || ns["metadata"].get("deletionTimestamp").is_some() {
        let mut err = ApiError::forbidden(format!(
            "{} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
            request.info.qualified_plural()
        ));
        err.causes.push(apimachinery::Cause {
            reason: "NamespaceTerminating".into(),
            field: "metadata.namespace".into(),
            message: format!("namespace {namespace} is being terminated"),
        });
        return Err(err);
    }
    Ok(())
}

/// Fills in a Service's cluster IP and node ports, checking requested ones against every other
/// Service (`own_uid` names the Service itself on an update, whose addresses are its own).
async fn allocate_service(
    call: &Call,
    object: &mut Value,
    own_uid: Option<&str>,
) -> Result<Guard, ApiError> {
    let info = resource::find("", "v1", "services").expect("services are served");
    // Read before the Services, so a write decided from an older list cannot commit.
    let guard = call.server.storage.guard(SERVICE_ALLOCATION_GUARD).await?;
    let all = call
        .server
        .storage
        .list(
            info,
            &info.key_prefix(None),
            &ListOptions::default(),
            &|_| true,
        )
        .await?;
    let others: Vec<Value> = all
        .items
        .into_iter()
        .filter(|s| own_uid.is_none_or(|uid| s["metadata"]["uid"] != uid))
        .collect();
    let (ips, ports) = services::in_use(&others);
    let mut used_ips = ips;
    // The first address belongs to the `kubernetes` Service, even before it exists.
    let is_kubernetes =
        object["metadata"]["namespace"] == "default" && object["metadata"]["name"] == "kubernetes";
    if !is_kubernetes {
        used_ips.insert(call.server.service_range.first());
    }
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    services::allocate(
        &mut object["spec"],
        &call.server.service_range,
        call.server.config.service_node_port_range,
        &used_ips,
        &ports,
        rand::random(),
    )
    .map_err(|causes| services::invalid(&name, causes))?;
    Ok(guard)
}

/// The key whose revision serializes Service address allocation across API servers.
const SERVICE_ALLOCATION_GUARD: &str = "/registry/hakube/service-allocations";

/// PUT: replace an object, guarded by the resourceVersion it carries (if any).
pub async fn update(call: &Call, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let body = parse_body(call, request.info.kind)?;
    let (new, warnings) = schema::decode(request.info, &body, field_validation(call)?)?;
    check_name(request, &new)?;
    let old = fetch(call, request).await?;
    let wanted = new["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !wanted.is_empty()
        && wanted
            != old["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default()
    {
        return Err(ApiError::stale(
            request.info.group,
            request.info.plural,
            &request.name,
        ));
    }
    let written = write_update(call, request, new, &old, true).await?;
    let mut response = respond(call, request.info, 200, written)?;
    add_warnings(&mut response, &warnings);
    Ok(response)
}

fn check_name(request: &ResourceRequest, object: &Value) -> Result<(), ApiError> {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    if name != request.name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({name}) does not match the name on the URL ({})",
            request.name
        )));
    }
    Ok(())
}

/// Writes `new` over `old` if `old` is still current: server fields carried over, defaults,
/// validation, and a Txn on old's revision. A lost race is a 409 Conflict.
pub async fn write_update(
    call: &Call,
    request: &ResourceRequest,
    mut new: Value,
    old: &Value,
    track: bool,
) -> Result<Value, ApiError> {
    let info = request.info;
    let mut guard = None;
    if info.namespaced {
        new["metadata"]["namespace"] = json!(request.namespace);
    }
    if request.subresource == "status" {
        new = strategy::prepare_status_update(&new, old);
    } else {
        schema::apply_defaults(info, &mut new);
        strategy::prepare_update(info, &mut new, old);
        if info.group.is_empty() && info.plural == "services" {
            services::keep_allocated(&mut new, old);
            // A type change to NodePort, or new ports, get their node ports now.
            let uid = old["metadata"]["uid"].as_str().map(String::from);
            guard = Some(allocate_service(call, &mut new, uid.as_deref()).await?);
        }
    }
    schema::validate(info, &new, Some(old))?;
    if track {
        let manager = manager(call);
        let now = now();
        apply::record_update(
            Some(old),
            &mut new,
            &field_manager(info, &request.subresource, &manager, &now),
        );
    }
    // An update that changes nothing writes nothing, so the resourceVersion stays and clients
    // can tell (`kubectl patch` prints "no change").
    if unchanged(&new, old) {
        return Ok(old.clone());
    }
    let revision: i64 = old["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if call.query.dry_run {
        return Ok(new);
    }
    let key = key_of(request);
    // The last finalizer gone from an object being deleted completes its deletion.
    if new["metadata"].get("deletionTimestamp").is_some()
        && finalizers(&new).is_empty()
        && !graceful_pending(info, &new)
    {
        return match call.server.storage.delete(&key, revision).await? {
            Some(deleted_at) => {
                crate::storage::set_resource_version(&mut new, deleted_at);
                Ok(new)
            }
            None => Err(ApiError::stale(info.group, info.plural, &request.name)),
        };
    }
    call.server
        .storage
        .update_guarded(info, &key, &new, revision, guard.as_ref())
        .await?
        .ok_or_else(|| ApiError::stale(info.group, info.plural, &request.name))
}

/// Whether two states of an object are the same but for their resourceVersion.
fn unchanged(new: &Value, old: &Value) -> bool {
    let strip = |object: &Value| {
        let mut object = object.clone();
        if let Some(map) = object.as_object_mut() {
            map.remove("apiVersion");
            map.remove("kind");
        }
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
        }
        object
    };
    strip(new) == strip(old)
}

/// What else holds an object being deleted: a pod waits for its kubelet, a namespace for the
/// namespace controller to empty it (its `spec.finalizers`).
fn graceful_pending(info: &ResourceInfo, object: &Value) -> bool {
    match (info.group, info.plural) {
        ("", "pods") => {
            object["metadata"]["deletionGracePeriodSeconds"]
                .as_i64()
                .unwrap_or(0)
                > 0
        }
        ("", "namespaces") => object["spec"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty()),
        _ => false,
    }
}

fn finalizers(object: &Value) -> Vec<String> {
    object["metadata"]["finalizers"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|f| f.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// PATCH: json, merge, strategic merge or server-side apply, retried on conflicts unless the
/// patch itself names a resourceVersion.
pub async fn patch(call: &Call, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let media = call
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let patch_body: Value = serde_json::from_slice(&call.body)
        .or_else(|_| serde_yaml_ng::from_slice(&call.body))
        .map_err(|e| ApiError::bad_request(format!("the patch is not valid JSON: {e}")))?;
    let info = request.info;
    for _ in 0..PATCH_RETRIES {
        let old = match fetch(call, request).await {
            Ok(old) => old,
            Err(err) if err.code == 404 && media == "application/apply-patch+yaml" => {
                return apply_create(call, request, patch_body).await;
            }
            Err(err) => return Err(err),
        };
        let mut current = old.clone();
        objects::with_type(info, &mut current);
        let patched = match media.as_str() {
            "application/json-patch+json" => patch::json_patch(&current, &patch_body),
            "application/merge-patch+json" => Ok(patch::merge_patch(&current, &patch_body)),
            "application/strategic-merge-patch+json" => {
                patch::strategic_merge(&current, &patch_body, info.kind)
            }
            "application/apply-patch+yaml" => {
                let manager = apply_manager(call)?;
                let now = now();
                let fm = field_manager(info, &request.subresource, &manager, &now);
                let applied = apply::apply(Some(&current), &patch_body, call.query.force, &fm)
                    .map_err(|e| e.into_api_error())?;
                Ok(applied)
            }
            _ => return Err(ApiError::unsupported_media_type(&media)),
        }
        .map_err(|e: patch::PatchError| ApiError::new(422, "Invalid", e.to_string()))?;
        let track = media != "application/apply-patch+yaml";
        let (new, warnings) = schema::decode(info, &patched, field_validation(call)?)?;
        check_name(request, &new)?;
        let pinned = patch_body
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        if let Some(rv) = pinned
            && Some(rv) != old["metadata"]["resourceVersion"].as_str()
        {
            return Err(ApiError::stale(info.group, info.plural, &request.name));
        }
        match write_update(call, request, new, &old, track).await {
            Ok(written) => {
                let mut response = respond(call, info, 200, written)?;
                add_warnings(&mut response, &warnings);
                return Ok(response);
            }
            Err(err) if err.reason == "Conflict" && pinned.is_none() => continue,
            Err(err) => return Err(err),
        }
    }
    Err(ApiError::stale(info.group, info.plural, &request.name))
}

/// Server-side apply of an object that does not exist yet creates it.
async fn apply_create(
    call: &Call,
    request: &ResourceRequest,
    body: Value,
) -> Result<Response<Body>, ApiError> {
    let manager = apply_manager(call)?;
    let now = now();
    let fm = field_manager(request.info, "", &manager, &now);
    let applied =
        apply::apply(None, &body, call.query.force, &fm).map_err(|e| e.into_api_error())?;
    let (created, warnings) = admit_and_create(call, request, applied, true).await?;
    let mut response = respond(call, request.info, 201, created)?;
    add_warnings(&mut response, &warnings);
    Ok(response)
}

/// Server-side apply names its manager explicitly, as kube-apiserver requires.
fn apply_manager(call: &Call) -> Result<String, ApiError> {
    if call.query.field_manager.is_empty() {
        return Err(ApiError::bad_request(
            "PATCH, Content-Type: application/apply-patch+yaml: fieldManager is required for apply requests",
        ));
    }
    Ok(call.query.field_manager.clone())
}

/// Namespaces Kubernetes never lets anyone delete.
const PROTECTED_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// Deletes an object, or starts its deletion when finalizers or a grace period hold it. Returns
/// the object's last state and whether it is gone.
pub async fn delete_object(
    call: &Call,
    request: &ResourceRequest,
    options: &DeleteOptions,
) -> Result<(Value, bool), ApiError> {
    let info = request.info;
    let is_namespace = info.group.is_empty() && info.plural == "namespaces";
    if is_namespace && PROTECTED_NAMESPACES.contains(&request.name.as_str()) {
        return Err(ApiError::forbidden(format!(
            "namespaces \"{}\" is forbidden: this namespace may not be deleted",
            request.name
        )));
    }
    let key = key_of(request);
    for _ in 0..PATCH_RETRIES {
        let mut object = fetch(call, request).await?;
        let revision: i64 = object["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if let Some(uid) = &options.precondition_uid
            && object["metadata"]["uid"].as_str() != Some(uid)
        {
            return Err(ApiError::conflict(
                info.group,
                info.plural,
                &request.name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    object["metadata"]["uid"].as_str().unwrap_or_default()
                ),
            ));
        }
        if let Some(rv) = &options.precondition_rv
            && object["metadata"]["resourceVersion"].as_str() != Some(rv)
        {
            return Err(ApiError::stale(info.group, info.plural, &request.name));
        }
        let mut held = finalizers(&object);
        match options.propagation.as_deref() {
            Some("Foreground") if !held.iter().any(|f| f == "foregroundDeletion") => {
                held.push("foregroundDeletion".into())
            }
            Some("Orphan") if !held.iter().any(|f| f == "orphan") => held.push("orphan".into()),
            _ => {}
        }
        let grace = grace_period(info, &object, options);
        let namespace_held = is_namespace
            && object["spec"]["finalizers"]
                .as_array()
                .is_some_and(|f| !f.is_empty());
        let already = object["metadata"].get("deletionTimestamp").is_some();
        if held.is_empty() && grace == 0 && !namespace_held {
            if options.dry_run {
                return Ok((object, true));
            }
            match call.server.storage.delete(&key, revision).await? {
                Some(deleted_at) => {
                    crate::storage::set_resource_version(&mut object, deleted_at);
                    return Ok((object, true));
                }
                None => continue,
            }
        }
        if already
            && held == finalizers(&object)
            && grace
                >= object["metadata"]["deletionGracePeriodSeconds"]
                    .as_i64()
                    .unwrap_or(0)
        {
            return Ok((object, false));
        }
        let when = match grace {
            0 => now(),
            secs => jiff::Timestamp::now()
                .checked_add(jiff::SignedDuration::from_secs(secs))
                .map(|t| {
                    jiff::Timestamp::from_second(t.as_second())
                        .unwrap_or(t)
                        .to_string()
                })
                .unwrap_or_else(|_| now()),
        };
        if !already || grace > 0 {
            object["metadata"]["deletionTimestamp"] = json!(when);
        }
        object["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        if !held.is_empty() {
            object["metadata"]["finalizers"] = json!(held);
        }
        if is_namespace {
            object["status"]["phase"] = json!("Terminating");
        }
        if options.dry_run {
            return Ok((object, false));
        }
        match call
            .server
            .storage
            .update(info, &key, &object, revision)
            .await?
        {
            Some(written) => return Ok((written, false)),
            None => continue,
        }
    }
    Err(ApiError::stale(info.group, info.plural, &request.name))
}

/// The grace period a delete gets: only pods on a node wait for their kubelet; everything
/// else goes at once.
fn grace_period(info: &ResourceInfo, object: &Value, options: &DeleteOptions) -> i64 {
    if !(info.group.is_empty() && info.plural == "pods") {
        return 0;
    }
    let scheduled = object["spec"]["nodeName"]
        .as_str()
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        object["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    );
    if !scheduled || finished {
        return 0;
    }
    let requested = options
        .grace_period
        .or_else(|| object["spec"]["terminationGracePeriodSeconds"].as_i64())
        .unwrap_or(30);
    // A pod already terminating keeps the shorter of its grace periods.
    match object["metadata"]["deletionGracePeriodSeconds"].as_i64() {
        Some(current) => requested.min(current).max(0),
        None => requested.max(0),
    }
}
