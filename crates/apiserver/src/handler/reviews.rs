//! Review resources, answered and never stored: access reviews (`kubectl auth can-i`), rules
//! reviews (`can-i --list`), self-subject reviews (`kubectl auth whoami`) and token reviews;
//! plus ServiceAccount TokenRequests and the disruption-budget check of evictions.

use std::time::{SystemTime, UNIX_EPOCH};

use apimachinery::selector::LabelSelector;
use apimachinery::{ApiError, resource};
use http::Response;
use serde_json::{Value, json};

use super::update::parse_body;
use super::{Body, Call};
use crate::rbac::{Attributes, Decision};
use crate::request::ResourceRequest;
use crate::storage::ListOptions;
use crate::token::ServiceAccountClaims;
use crate::user::UserInfo;

pub async fn create(call: Call, request: ResourceRequest) -> Result<Response<Body>, ApiError> {
    if request.verb != "create" {
        return Err(ApiError::method_not_allowed());
    }
    let mut review = parse_body(&call, request.info.kind)?;
    let status = match request.info.plural {
        "selfsubjectaccessreviews" => access_review(&call, &call.user, &review["spec"]),
        "subjectaccessreviews" => {
            let spec = &review["spec"];
            let user = UserInfo {
                name: spec["user"].as_str().unwrap_or_default().to_string(),
                uid: spec["uid"].as_str().unwrap_or_default().to_string(),
                groups: strings(&spec["groups"]),
                ..UserInfo::default()
            };
            access_review(&call, &user, spec)
        }
        "selfsubjectrulesreviews" => {
            let namespace = review["spec"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let policy = call.server.policy.read().expect("policy lock");
            let (resource_rules, non_resource_rules) = policy.rules_for(&call.user, &namespace);
            json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false})
        }
        "selfsubjectreviews" => json!({"userInfo": user_json(&call.user)}),
        "tokenreviews" => {
            token_review(&call, review["spec"]["token"].as_str().unwrap_or_default()).await
        }
        other => return Err(ApiError::not_implemented(other)),
    };
    review["status"] = status;
    review["apiVersion"] = json!(request.info.api_version());
    review["kind"] = json!(request.info.kind);
    if review["metadata"].is_null() {
        review["metadata"] = json!({});
    }
    review["metadata"]["creationTimestamp"] = Value::Null;
    Ok(super::response::json(201, &review))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn user_json(user: &UserInfo) -> Value {
    let mut info = json!({"username": user.name, "groups": user.groups});
    if !user.uid.is_empty() {
        info["uid"] = json!(user.uid);
    }
    if !user.extra.is_empty() {
        info["extra"] = json!(user.extra);
    }
    info
}

fn access_review(call: &Call, user: &UserInfo, spec: &Value) -> Value {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let (verb, namespace, group, resource, subresource, name, path, resource_request);
    if let Some(attrs) = spec.get("resourceAttributes").filter(|a| a.is_object()) {
        verb = text(&attrs["verb"]);
        namespace = text(&attrs["namespace"]);
        group = text(&attrs["group"]);
        resource = text(&attrs["resource"]);
        subresource = text(&attrs["subresource"]);
        name = text(&attrs["name"]);
        path = String::new();
        resource_request = true;
    } else {
        let attrs = &spec["nonResourceAttributes"];
        verb = text(&attrs["verb"]);
        path = text(&attrs["path"]);
        namespace = String::new();
        group = String::new();
        resource = String::new();
        subresource = String::new();
        name = String::new();
        resource_request = false;
    }
    let attributes = Attributes {
        user,
        verb: &verb,
        namespace: &namespace,
        api_group: &group,
        resource: &resource,
        subresource: &subresource,
        name: &name,
        resource_request,
        path: &path,
    };
    let policy = call.server.policy.read().expect("policy lock");
    match policy.authorize(&attributes) {
        Decision::Allow => {
            json!({"allowed": true, "reason": "RBAC: allowed by the cluster's roles"})
        }
        Decision::Deny => json!({"allowed": false}),
    }
}

async fn token_review(call: &Call, token: &str) -> Value {
    let header = format!("Bearer {token}");
    match call
        .server
        .authenticator
        .authenticate(&call.server.storage, None, Some(&header))
        .await
    {
        Ok(Some(user)) => json!({"authenticated": true, "user": user_json(&user), "audiences": []}),
        _ => json!({"authenticated": false, "error": "invalid bearer token"}),
    }
}

/// `serviceaccounts/<name>/token`: a signed token for the ServiceAccount.
pub async fn token_request(
    call: &Call,
    request: &ResourceRequest,
) -> Result<Response<Body>, ApiError> {
    let issuer = call.server.issuer.as_ref().ok_or_else(|| {
        ApiError::not_implemented("issuing tokens without --service-account-signing-key-file")
    })?;
    let sa_request = ResourceRequest {
        subresource: String::new(),
        ..request.clone()
    };
    let account = super::objects::fetch(call, &sa_request).await?;
    let mut review = parse_body(call, "TokenRequest").unwrap_or_else(|_| json!({"spec": {}}));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let lifetime = review["spec"]["expirationSeconds"]
        .as_u64()
        .unwrap_or(3600)
        .clamp(600, 48 * 3600);
    let audiences = match strings(&review["spec"]["audiences"]) {
        list if list.is_empty() => vec![call.server.config.service_account_issuer.clone()],
        list => list,
    };
    let claims = ServiceAccountClaims {
        issuer: call.server.config.service_account_issuer.clone(),
        subject: format!(
            "system:serviceaccount:{}:{}",
            request.namespace, request.name
        ),
        audiences: audiences.clone(),
        issued_at: now,
        not_before: now,
        expires_at: now + lifetime,
        namespace: request.namespace.clone(),
        service_account_name: request.name.clone(),
        service_account_uid: account["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        pod: None,
        node: None,
    };
    let token = issuer.issue(&claims).map_err(ApiError::internal)?;
    let expires = jiff::Timestamp::from_second((now + lifetime) as i64)
        .map(|t| t.to_string())
        .unwrap_or_default();
    review["apiVersion"] = json!("authentication.k8s.io/v1");
    review["kind"] = json!("TokenRequest");
    review["metadata"] =
        json!({"name": request.name, "namespace": request.namespace, "creationTimestamp": null});
    review["spec"]["audiences"] = json!(audiences);
    review["spec"]["expirationSeconds"] = json!(lifetime);
    review["status"] = json!({"token": token, "expirationTimestamp": expires});
    Ok(super::response::json(201, &review))
}

/// The PodDisruptionBudget that forbids evicting `pod` now, if any.
pub async fn blocking_budget(call: &Call, pod: &Value) -> Result<Option<String>, ApiError> {
    let info = resource::find("policy", "v1", "poddisruptionbudgets").expect("pdbs are served");
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let budgets = call
        .server
        .storage
        .list(
            info,
            &info.key_prefix(Some(namespace)),
            &ListOptions::default(),
            &|_| true,
        )
        .await?;
    for budget in budgets.items {
        let Ok(selector) = LabelSelector::from_json(&budget["spec"]["selector"]) else {
            continue;
        };
        if budget["spec"]["selector"].is_null()
            || !selector.matches_value(pod.pointer("/metadata/labels"))
        {
            continue;
        }
        if budget["status"]["disruptionsAllowed"].as_i64().unwrap_or(0) < 1 {
            return Ok(Some(
                budget["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ));
        }
    }
    Ok(None)
}
