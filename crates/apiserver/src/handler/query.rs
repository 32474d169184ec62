//! The query parameters of Kubernetes API calls (list, watch, write and delete options).

use apimachinery::ApiError;

/// Every option a request may carry in its query string.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub watch: bool,
    pub label_selector: String,
    pub field_selector: String,
    pub limit: i64,
    pub continue_token: Option<String>,
    pub resource_version: String,
    pub resource_version_match: String,
    pub allow_watch_bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout_seconds: Option<u64>,
    pub dry_run: bool,
    pub field_manager: String,
    pub field_validation: String,
    pub propagation_policy: Option<String>,
    pub grace_period_seconds: Option<i64>,
    pub include_object: String,
    pub force: bool,
    /// `?verbose` on health checks: list every check.
    pub verbose: bool,
    /// `?hash=` on OpenAPI v3 documents: the version the client has cached.
    pub hash: Option<String>,
}

fn boolean(value: &str) -> bool {
    matches!(value, "true" | "1" | "True")
}

impl Query {
    pub fn parse(query: Option<&str>) -> Result<Query, ApiError> {
        let mut q = Query::default();
        let Some(query) = query else { return Ok(q) };
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let value = value.into_owned();
            match key.as_ref() {
                "watch" => q.watch = boolean(&value),
                "labelSelector" => q.label_selector = value,
                "fieldSelector" => q.field_selector = value,
                "limit" => {
                    q.limit = value.parse().map_err(|_| {
                        ApiError::bad_request(format!("limit: invalid value {value:?}"))
                    })?
                }
                "continue" if !value.is_empty() => q.continue_token = Some(value),
                "resourceVersion" => q.resource_version = value,
                "resourceVersionMatch" => q.resource_version_match = value,
                "allowWatchBookmarks" => q.allow_watch_bookmarks = boolean(&value),
                "sendInitialEvents" => q.send_initial_events = boolean(&value),
                "timeoutSeconds" | "timeout" => {
                    let secs = value.trim_end_matches('s');
                    q.timeout_seconds = secs.parse().ok();
                }
                "dryRun" => {
                    if value != "All" && !value.is_empty() {
                        return Err(ApiError::bad_request(format!(
                            "Unsupported value: \"{value}\": supported values: \"All\""
                        )));
                    }
                    q.dry_run = value == "All";
                }
                "fieldManager" => q.field_manager = value,
                "fieldValidation" => q.field_validation = value,
                "propagationPolicy" => q.propagation_policy = Some(value),
                "gracePeriodSeconds" => q.grace_period_seconds = value.parse().ok(),
                "includeObject" => q.include_object = value,
                "force" => q.force = boolean(&value),
                "verbose" => q.verbose = true,
                "hash" => q.hash = Some(value),
                _ => {}
            }
        }
        Ok(q)
    }

    /// The resourceVersion as a revision, when one was given; 400 when it is not a number.
    pub fn revision(&self) -> Result<Option<i64>, ApiError> {
        if self.resource_version.is_empty() {
            return Ok(None);
        }
        self.resource_version.parse::<i64>().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "invalid resource version: {}",
                self.resource_version
            ))
        })
    }
}
