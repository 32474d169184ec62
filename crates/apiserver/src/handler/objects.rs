//! get, list, create, delete and deletecollection of stored objects, and the dispatch of every
//! resource request to its verb's handler.

use std::time::SystemTime;

use apimachinery::selector::{FieldSelector, LabelSelector};
use apimachinery::{ApiError, ResourceInfo, table};
use http::Response;
use serde_json::{Value, json};

use super::response::{self, Body, Shape};
use super::{Call, subresources, update, watch};
use crate::request::ResourceRequest;
use crate::storage::ListOptions;

pub async fn dispatch(call: Call, request: ResourceRequest) -> Result<Response<Body>, ApiError> {
    let info = request.info;
    if !request.subresource.is_empty() {
        return subresources::dispatch(call, request).await;
    }
    if !info.is_stored() {
        return super::reviews::create(call, request).await;
    }
    if !info.has_verb(request.verb) {
        return Err(ApiError::method_not_allowed());
    }
    match request.verb {
        "get" => get(&call, &request).await,
        "list" => list(&call, &request).await,
        "watch" => watch::watch(call, request).await,
        "create" => create(&call, &request).await,
        "update" => update::update(&call, &request).await,
        "patch" => update::patch(&call, &request).await,
        "delete" => delete(&call, &request).await,
        "deletecollection" => delete_collection(&call, &request).await,
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// The etcd key of the object a request names.
pub fn key_of(request: &ResourceRequest) -> String {
    request.info.key(Some(&request.namespace), &request.name)
}

/// Reads the object a request names; 404 with kube's wording if it is absent.
pub async fn fetch(call: &Call, request: &ResourceRequest) -> Result<Value, ApiError> {
    call.server
        .storage
        .get(request.info, &key_of(request))
        .await?
        .ok_or_else(|| ApiError::not_found(request.info.group, request.info.plural, &request.name))
}

/// Answers with one object in the shape the client asked for.
pub fn respond(
    call: &Call,
    info: &ResourceInfo,
    code: u16,
    mut object: Value,
) -> Result<Response<Body>, ApiError> {
    with_type(info, &mut object);
    match response::shape(&call.accept)? {
        Shape::Object => Ok(response::json(code, &object)),
        Shape::PartialMetadata => Ok(response::json(code, &response::partial_metadata(&object))),
        Shape::Table => {
            let meta = json!({"resourceVersion": object["metadata"]["resourceVersion"]});
            let table = table::table(
                info.group,
                info.plural,
                &[object],
                meta,
                include_object(call),
                SystemTime::now(),
            );
            Ok(response::json(code, &table))
        }
    }
}

fn include_object(call: &Call) -> &str {
    if call.query.include_object.is_empty() {
        "Metadata"
    } else {
        &call.query.include_object
    }
}

/// Sets an object's `apiVersion` and `kind` (stored objects have them; this keeps answers right
/// even for objects written by other tools).
pub fn with_type(info: &ResourceInfo, object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), json!(info.api_version()));
        map.insert("kind".into(), json!(info.kind));
    }
}

async fn get(call: &Call, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let object = fetch(call, request).await?;
    respond(call, request.info, 200, object)
}

/// The selectors of a list, watch or deletecollection, checked against what the resource supports.
pub struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    pub fn parse(call: &Call, info: &ResourceInfo) -> Result<Selectors, ApiError> {
        let labels = LabelSelector::parse(&call.query.label_selector)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let fields = FieldSelector::parse(&call.query.field_selector)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        fields
            .check_supported(info.plural, info.group)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(Selectors { labels, fields })
    }

    pub fn matches(&self, info: &ResourceInfo, object: &Value) -> bool {
        self.labels
            .matches_value(object.pointer("/metadata/labels"))
            && self.fields.matches(object, info.plural, info.group)
    }
}

/// The key prefix a collection request covers: one namespace, or all of them.
pub fn prefix_of(request: &ResourceRequest) -> String {
    let namespace = (!request.namespace.is_empty()).then_some(request.namespace.as_str());
    request.info.key_prefix(namespace)
}

async fn list(call: &Call, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let info = request.info;
    let selectors = Selectors::parse(call, info)?;
    let exact = call.query.resource_version_match == "Exact";
    let options = ListOptions {
        limit: call.query.limit.max(0),
        continue_token: call.query.continue_token.clone(),
        revision: if exact { call.query.revision()? } else { None },
    };
    let page = call
        .server
        .storage
        .list(info, &prefix_of(request), &options, &|object| {
            selectors.matches(info, object)
        })
        .await?;
    let mut meta = json!({"resourceVersion": page.revision.to_string()});
    if let Some(token) = &page.continue_token {
        meta["continue"] = json!(token);
    }
    if let Some(remaining) = page.remaining.filter(|r| *r > 0) {
        meta["remainingItemCount"] = json!(remaining);
    }
    match response::shape(&call.accept)? {
        Shape::Table => {
            let table = table::table(
                info.group,
                info.plural,
                &page.items,
                meta,
                include_object(call),
                SystemTime::now(),
            );
            Ok(response::json(200, &table))
        }
        Shape::PartialMetadata => {
            let items: Vec<Value> = page
                .items
                .iter()
                .map(|o| json!({"metadata": o["metadata"]}))
                .collect();
            let list = json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items});
            Ok(response::json(200, &list))
        }
        Shape::Object => {
            // Items in a list carry no apiVersion or kind, as kube-apiserver serves them.
            let items: Vec<Value> = page
                .items
                .into_iter()
                .map(|mut o| {
                    if let Some(map) = o.as_object_mut() {
                        map.remove("apiVersion");
                        map.remove("kind");
                    }
                    o
                })
                .collect();
            let list = json!({
                "kind": format!("{}List", info.kind),
                "apiVersion": info.api_version(),
                "metadata": meta,
                "items": items,
            });
            Ok(response::json(200, &list))
        }
    }
}

async fn create(call: &Call, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    if !request.name.is_empty() {
        return Err(ApiError::method_not_allowed());
    }
    let body = update::parse_body(call, request.info.kind)?;
    let (created, warnings) = update::admit_and_create(call, request, body, false).await?;
    let mut response = respond(call, request.info, 201, created)?;
    update::add_warnings(&mut response, &warnings);
    Ok(response)
}

/// The options of a delete: from the body (DeleteOptions) and the query.
#[derive(Debug, Default)]
pub struct DeleteOptions {
    pub propagation: Option<String>,
    pub grace_period: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    /// `dryRun: ["All"]` in the body or `?dryRun=All`: decide, but write nothing.
    pub dry_run: bool,
}

pub fn delete_options(call: &Call) -> Result<DeleteOptions, ApiError> {
    let mut options = DeleteOptions {
        propagation: call.query.propagation_policy.clone(),
        grace_period: call.query.grace_period_seconds,
        dry_run: call.query.dry_run,
        ..DeleteOptions::default()
    };
    if !call.body.is_empty() {
        let body = update::parse_body(call, "DeleteOptions")?;
        if let Some(p) = body["propagationPolicy"].as_str() {
            options.propagation = Some(p.to_string());
        }
        if let Some(orphan) = body["orphanDependents"].as_bool() {
            options.propagation = Some(if orphan { "Orphan" } else { "Background" }.into());
        }
        if body["dryRun"]
            .as_array()
            .is_some_and(|d| d.iter().any(|v| v == "All"))
        {
            options.dry_run = true;
        }
        if let Some(g) = body["gracePeriodSeconds"].as_i64() {
            options.grace_period = Some(g);
        }
        options.precondition_uid = body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(String::from);
        options.precondition_rv = body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(String::from);
    }
    if let Some(p) = &options.propagation
        && !matches!(p.as_str(), "Orphan" | "Background" | "Foreground")
    {
        return Err(ApiError::bad_request(format!(
            "propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
        )));
    }
    Ok(options)
}

async fn delete(call: &Call, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let options = delete_options(call)?;
    let (object, gone) = update::delete_object(call, request, &options).await?;
    if gone && request.info.plural != "pods" {
        let details = json!({
            "name": request.name,
            "group": request.info.group,
            "kind": request.info.plural,
            "uid": object["metadata"]["uid"],
        });
        return Ok(response::json(
            200,
            &apimachinery::status::success(Some(details)),
        ));
    }
    respond(call, request.info, 200, object)
}

async fn delete_collection(
    call: &Call,
    request: &ResourceRequest,
) -> Result<Response<Body>, ApiError> {
    let info = request.info;
    let selectors = Selectors::parse(call, info)?;
    let options = delete_options(call)?;
    let page = call
        .server
        .storage
        .list(
            info,
            &prefix_of(request),
            &ListOptions::default(),
            &|object| selectors.matches(info, object),
        )
        .await?;
    let mut deleted = Vec::new();
    for object in page.items {
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let one = ResourceRequest {
            verb: "delete",
            info,
            namespace,
            name,
            subresource: String::new(),
        };
        match update::delete_object(call, &one, &options).await {
            Ok((mut object, _)) => {
                with_type(info, &mut object);
                deleted.push(object);
            }
            Err(err) if err.code == 404 => {}
            Err(err) => return Err(err),
        }
    }
    let list = json!({
        "kind": format!("{}List", info.kind),
        "apiVersion": info.api_version(),
        "metadata": {"resourceVersion": page.revision.to_string()},
        "items": deleted,
    });
    Ok(response::json(200, &list))
}
