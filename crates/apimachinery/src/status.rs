//! Kubernetes `Status` errors: the codes, reasons and message wording kube-apiserver uses, built
//! here once so every handler answers the same way kubectl expects.

use serde_json::{Value, json};

/// One field problem inside an Invalid error (`metav1.StatusCause`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, `FieldValueDuplicate`...
    pub reason: String,
    /// The field path, `spec.replicas` or `spec.template.spec.containers[0].name`.
    pub field: String,
    /// The text after the field path: `Invalid value: -1: must be greater than or equal to 0`.
    pub message: String,
}

impl Cause {
    pub fn invalid(field: impl Into<String>, value: &Value, detail: &str) -> Self {
        let shown = match value {
            Value::String(s) => format!("\"{s}\""),
            other => other.to_string(),
        };
        Cause {
            reason: "FieldValueInvalid".into(),
            field: field.into(),
            message: format!("Invalid value: {shown}: {detail}"),
        }
    }

    pub fn required(field: impl Into<String>, detail: &str) -> Self {
        let message = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        Cause {
            reason: "FieldValueRequired".into(),
            field: field.into(),
            message,
        }
    }

    pub fn not_supported(field: impl Into<String>, value: &Value, supported: &[&str]) -> Self {
        let quoted: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
        let shown = match value {
            Value::String(s) => format!("\"{s}\""),
            other => other.to_string(),
        };
        Cause {
            reason: "FieldValueNotSupported".into(),
            field: field.into(),
            message: format!(
                "Unsupported value: {shown}: supported values: {}",
                quoted.join(", ")
            ),
        }
    }

    pub fn forbidden(field: impl Into<String>, detail: &str) -> Self {
        Cause {
            reason: "FieldValueForbidden".into(),
            field: field.into(),
            message: format!("Forbidden: {detail}"),
        }
    }

    pub fn duplicate(field: impl Into<String>, value: &Value) -> Self {
        let shown = match value {
            Value::String(s) => format!("\"{s}\""),
            other => other.to_string(),
        };
        Cause {
            reason: "FieldValueDuplicate".into(),
            field: field.into(),
            message: format!("Duplicate value: {shown}"),
        }
    }

    /// `spec.replicas: Invalid value: ...`, as the Status message lists it.
    pub fn describe(&self) -> String {
        if self.field.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.field, self.message)
        }
    }
}

/// What the error is about: the resource and object named in `details`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub group: String,
    /// The plural resource name (`pods`), or the Kind for Invalid, as kube-apiserver fills it.
    pub kind: String,
    pub name: String,
}

/// An API error, answered as a `metav1.Status`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: u16,
    /// The `StatusReason`: `NotFound`, `AlreadyExists`, `Conflict`...; empty for plain 500s.
    pub reason: &'static str,
    pub message: String,
    /// Boxed to keep `Result<_, ApiError>` small on the happy path.
    pub subject: Option<Box<Subject>>,
    pub causes: Vec<Cause>,
    /// Seconds a client should wait before retrying (`details.retryAfterSeconds`).
    pub retry_after: Option<u64>,
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// `pods`, or `deployments.apps`: how a resource is named in messages.
fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            subject: None,
            causes: Vec::new(),
            retry_after: None,
        }
    }

    fn about(mut self, group: &str, kind: &str, name: &str) -> Self {
        self.subject = Some(Box::new(Subject {
            group: group.into(),
            kind: kind.into(),
            name: name.into(),
        }));
        self
    }

    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        let message = format!("{} \"{name}\" not found", qualified(group, resource));
        Self::new(404, "NotFound", message).about(group, resource, name)
    }

    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        let message = format!("{} \"{name}\" already exists", qualified(group, resource));
        Self::new(409, "AlreadyExists", message).about(group, resource, name)
    }

    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        let message = format!(
            "Operation cannot be fulfilled on {} \"{name}\": {why}",
            qualified(group, resource)
        );
        Self::new(409, "Conflict", message).about(group, resource, name)
    }

    /// The conflict an update with a stale resourceVersion gets.
    pub fn stale(group: &str, resource: &str, name: &str) -> Self {
        Self::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// `Deployment.apps "web" is invalid: spec.replicas: Invalid value: ...`.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> Self {
        let listed: Vec<String> = causes.iter().map(Cause::describe).collect();
        let what = qualified(group, kind);
        let message = match listed.len() {
            0 => format!("{what} \"{name}\" is invalid"),
            1 => format!("{what} \"{name}\" is invalid: {}", listed[0]),
            _ => format!("{what} \"{name}\" is invalid: [{}]", listed.join(", ")),
        };
        let mut err = Self::new(422, "Invalid", message).about(group, kind, name);
        err.causes = causes;
        err
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// The 410 a watch or list from a compacted resourceVersion gets.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/apply-patch+yaml, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {content_type:?})"
            ),
        )
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }

    /// 404 for a path no resource serves (reason NotFound, kube-apiserver's plain wording).
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut err = Self::new(503, "ServiceUnavailable", message);
        err.retry_after = Some(1);
        err
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        let mut err = Self::new(504, "Timeout", message);
        err.retry_after = Some(1);
        err
    }

    pub fn not_implemented(what: &str) -> Self {
        Self::new(
            501,
            "NotImplemented",
            format!("{what} is not implemented by hakube yet"),
        )
    }

    /// The `metav1.Status` object for this error.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        });
        if !self.reason.is_empty() {
            status["reason"] = json!(self.reason);
        }
        let mut details = serde_json::Map::new();
        if let Some(subject) = &self.subject {
            if !subject.name.is_empty() {
                details.insert("name".into(), json!(subject.name));
            }
            if !subject.group.is_empty() {
                details.insert("group".into(), json!(subject.group));
            }
            details.insert("kind".into(), json!(subject.kind));
        }
        if !self.causes.is_empty() {
            let causes: Vec<Value> = self
                .causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(secs) = self.retry_after {
            details.insert("retryAfterSeconds".into(), json!(secs));
        }
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

/// The `Status` a successful delete of a collection or of a no-longer-visible object returns.
pub fn success(details: Option<Value>) -> Value {
    let mut status =
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"});
    if let Some(details) = details {
        status["details"] = details;
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_kube_apiserver() {
        let cases = [
            (
                ApiError::not_found("apps", "deployments", "web"),
                404,
                "deployments.apps \"web\" not found",
            ),
            (
                ApiError::already_exists("", "configmaps", "a"),
                409,
                "configmaps \"a\" already exists",
            ),
            (
                ApiError::stale("", "configmaps", "a"),
                409,
                "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; please apply your changes to the latest version and try again",
            ),
            (
                ApiError::invalid(
                    "apps",
                    "Deployment",
                    "web",
                    vec![Cause::invalid(
                        "spec.replicas",
                        &json!(-1),
                        "must be greater than or equal to 0",
                    )],
                ),
                422,
                "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                ApiError::invalid(
                    "",
                    "ConfigMap",
                    "x",
                    vec![
                        Cause::required("metadata.name", "name or generateName is required"),
                        Cause::invalid("data", &json!("a"), "bad"),
                    ],
                ),
                422,
                "ConfigMap \"x\" is invalid: [metadata.name: Required value: name or generateName is required, data: Invalid value: \"a\": bad]",
            ),
        ];
        for (err, code, message) in cases {
            assert_eq!(err.code, code);
            assert_eq!(err.message, message);
            assert_eq!(err.to_status()["code"], json!(code));
        }
    }

    #[test]
    fn status_carries_details() {
        let status = ApiError::not_found("", "pods", "p").to_status();
        assert_eq!(status["reason"], "NotFound");
        assert_eq!(status["details"], json!({"name": "p", "kind": "pods"}));
        let invalid =
            ApiError::invalid("", "Pod", "p", vec![Cause::required("spec.containers", "")])
                .to_status();
        assert_eq!(invalid["details"]["causes"][0]["field"], "spec.containers");
        assert_eq!(
            invalid["details"]["causes"][0]["reason"],
            "FieldValueRequired"
        );
    }
}
