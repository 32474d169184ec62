//! Subresources: `status` and `finalize` (updates of one part), `scale` (the Scale view of
//! replicas), `binding` (the scheduler's placement), `eviction` (a policy-checked delete), and
//! `token` (a ServiceAccount token), `log` (from the kubelet, in `logs.rs`), and the kubelet's
//! connect subresources `pods/{exec,attach,portforward}` and `nodes/proxy` (in `connect.rs`).
//! `pods/proxy` and `services/proxy` answer 501 for now.

use apimachinery::{ApiError, Cause, patch};
use http::Response;
use serde_json::{Value, json};

use super::objects::{self, fetch, respond};
use super::update::{self, parse_body, write_update};
use super::{Body, Call};
use crate::request::ResourceRequest;

pub async fn dispatch(call: Call, request: ResourceRequest) -> Result<Response<Body>, ApiError> {
    let Some(sub) = request.info.subresource(&request.subresource) else {
        return Err(ApiError::no_route());
    };
    if !sub.verbs.contains(&request.verb) {
        return Err(ApiError::method_not_allowed());
    }
    match (request.subresource.as_str(), request.verb) {
        ("status", "get") => respond(&call, request.info, 200, fetch(&call, &request).await?),
        ("status" | "finalize", "update") => {
            let new = parse_body(&call, request.info.kind)?;
            let old = fetch(&call, &request).await?;
            check_version(&request, &new, &old)?;
            let merged = if request.subresource == "finalize" {
                let mut object = old.clone();
                object["spec"]["finalizers"] = new["spec"]["finalizers"].clone();
                object
            } else {
                new
            };
            let status_request = ResourceRequest {
                subresource: "status".into(),
                ..request.clone()
            };
            let written = if request.subresource == "finalize" {
                write_update(
                    &call,
                    &ResourceRequest {
                        subresource: String::new(),
                        ..request.clone()
                    },
                    merged,
                    &old,
                    true,
                )
                .await?
            } else {
                write_update(&call, &status_request, merged, &old, true).await?
            };
            respond(&call, request.info, 200, written)
        }
        ("status", "patch") => update::patch(&call, &request).await,
        ("scale", verb) => scale(&call, &request, verb).await,
        ("binding", "create") => binding(&call, &request).await,
        ("eviction", "create") => eviction(&call, &request).await,
        ("token", "create") => super::reviews::token_request(&call, &request).await,
        ("log", "get") => super::logs::logs(&call, &request).await,
        ("exec" | "attach" | "portforward", "get" | "create") => {
            super::connect::pod_stream(call, &request).await
        }
        ("proxy", _) if request.info.plural == "nodes" => {
            super::connect::node_proxy(call, &request).await
        }
        (other, _) => Err(ApiError::not_implemented(&format!(
            "the {}/{other} subresource (it needs the node agent)",
            request.info.plural
        ))),
    }
}

fn check_version(request: &ResourceRequest, new: &Value, old: &Value) -> Result<(), ApiError> {
    let wanted = new["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default();
    if !wanted.is_empty() && Some(wanted) != old["metadata"]["resourceVersion"].as_str() {
        return Err(ApiError::stale(
            request.info.group,
            request.info.plural,
            &request.name,
        ));
    }
    Ok(())
}

/// The autoscaling/v1 Scale view of an object with replicas.
fn scale_of(object: &Value) -> Value {
    let selector = object["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let meta = &object["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": object["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": object["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
    })
}

async fn scale(
    call: &Call,
    request: &ResourceRequest,
    verb: &str,
) -> Result<Response<Body>, ApiError> {
    let main = ResourceRequest {
        subresource: String::new(),
        ..request.clone()
    };
    for _ in 0..8 {
        let old = fetch(call, &main).await?;
        let current = scale_of(&old);
        if verb == "get" {
            return Ok(super::response::json(200, &current));
        }
        let wanted = if verb == "update" {
            parse_body(call, "Scale")?
        } else {
            let body: Value = serde_json::from_slice(&call.body)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            match call.content_type.split(';').next().unwrap_or_default() {
                "application/json-patch+json" => patch::json_patch(&current, &body),
                _ => Ok(patch::merge_patch(&current, &body)),
            }
            .map_err(|e| ApiError::new(422, "Invalid", e.to_string()))?
        };
        check_version(request, &wanted, &old)?;
        let Some(replicas) = wanted["spec"]["replicas"].as_i64() else {
            return Err(ApiError::invalid(
                "autoscaling",
                "Scale",
                &request.name,
                vec![Cause::required("spec.replicas", "")],
            ));
        };
        if replicas < 0 {
            return Err(ApiError::invalid(
                "autoscaling",
                "Scale",
                &request.name,
                vec![Cause::invalid(
                    "spec.replicas",
                    &json!(replicas),
                    "must be greater than or equal to 0",
                )],
            ));
        }
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(replicas);
        match write_update(call, &main, new, &old, true).await {
            Ok(written) => return Ok(super::response::json(200, &scale_of(&written))),
            Err(err)
                if err.reason == "Conflict"
                    && wanted["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or_default()
                        .is_empty() =>
            {
                continue;
            }
            Err(err) => return Err(err),
        }
    }
    Err(ApiError::stale(
        request.info.group,
        request.info.plural,
        &request.name,
    ))
}

/// Binds a pod to a node, once: a pod already bound is a 409, as kube-apiserver answers.
async fn binding(call: &Call, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let body = parse_body(call, "Binding")?;
    let node = body["target"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if node.is_empty() {
        return Err(ApiError::invalid(
            "",
            "Binding",
            &request.name,
            vec![Cause::required("target.name", "")],
        ));
    }
    let pod_request = ResourceRequest {
        subresource: String::new(),
        ..request.clone()
    };
    let old = fetch(call, &pod_request).await?;
    if old["spec"]["nodeName"]
        .as_str()
        .is_some_and(|n| !n.is_empty())
    {
        return Err(ApiError::conflict(
            "",
            "pods/binding",
            &request.name,
            &format!(
                "pod {} is already assigned to node \"{}\"",
                request.name,
                old["spec"]["nodeName"].as_str().unwrap_or_default()
            ),
        ));
    }
    if old["metadata"].get("deletionTimestamp").is_some() {
        return Err(ApiError::conflict(
            "",
            "pods/binding",
            &request.name,
            "pod is being deleted, cannot be assigned to a host",
        ));
    }
    let mut new = old.clone();
    new["spec"]["nodeName"] = json!(node);
    let condition = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": update::now()});
    let conditions = new["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut conditions: Vec<Value> = conditions
        .into_iter()
        .filter(|c| c["type"] != "PodScheduled")
        .collect();
    conditions.push(condition);
    new["status"]["conditions"] = Value::Array(conditions);
    let revision: i64 = old["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if !call.query.dry_run {
        call.server
            .storage
            .update(request.info, &objects::key_of(&pod_request), &new, revision)
            .await?
            .ok_or_else(|| ApiError::stale("", "pods", &request.name))?;
    }
    Ok(super::response::json(
        201,
        &apimachinery::status::success(None),
    ))
}

/// An eviction deletes the pod unless a PodDisruptionBudget forbids it (429 with kube's words).
async fn eviction(call: &Call, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let pod_request = ResourceRequest {
        subresource: String::new(),
        verb: "delete",
        ..request.clone()
    };
    let pod = fetch(call, &pod_request).await?;
    // Pods that are not running, or already going, never count against a budget.
    let ignores_budgets = matches!(
        pod["status"]["phase"].as_str(),
        Some("Pending" | "Succeeded" | "Failed") | None
    ) || pod["metadata"].get("deletionTimestamp").is_some();
    let blocking = if ignores_budgets {
        None
    } else {
        super::reviews::blocking_budget(call, &pod).await?
    };
    if let Some(budget) = blocking {
        let mut err = ApiError::new(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
        );
        err.causes.push(Cause {
            reason: "DisruptionBudget".into(),
            field: String::new(),
            message: format!("The disruption budget {budget} needs more healthy pods"),
        });
        return Err(err);
    }
    let body = parse_body(call, "Eviction").unwrap_or(json!({}));
    let mut options = objects::DeleteOptions::default();
    if let Some(grace) = body
        .pointer("/deleteOptions/gracePeriodSeconds")
        .and_then(Value::as_i64)
    {
        options.grace_period = Some(grace);
    }
    update::delete_object(call, &pod_request, &options).await?;
    Ok(super::response::json(
        201,
        &apimachinery::status::success(None),
    ))
}
