//! The parameters operations take, written out in full on every operation. kubectl's
//! `fieldValidation` check reads a PATCH operation's own parameter list and resolves only
//! OpenAPI v2 style `#/parameters/` references, so a `#/components/parameters/` reference would
//! hide the parameter from it.

use serde_json::{Value, json};

fn query(name: &str, ty: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": ty},
    })
}

fn path(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "path",
        "required": true,
        "description": description,
        "schema": {"type": "string"},
    })
}

pub(crate) fn name(kind: &str) -> Value {
    path("name", &format!("The name of the {kind}."))
}

pub(crate) fn namespace() -> Value {
    path("namespace", "The namespace the object lives in.")
}

/// The `{path}` tail of a proxy URL.
pub(crate) fn proxy_path() -> Value {
    path("path", "The path to proxy the request to.")
}

pub(crate) fn pretty() -> Value {
    query(
        "pretty",
        "string",
        "When 'true', the response body is indented for reading.",
    )
}

fn dry_run() -> Value {
    query(
        "dryRun",
        "string",
        "'All' runs every stage of the request without persisting the result. Any other value is \
         rejected.",
    )
}

fn field_manager() -> Value {
    query(
        "fieldManager",
        "string",
        "The name of the actor making the change, recorded in managedFields. At most 128 \
         printable characters; required for apply patches.",
    )
}

fn field_validation() -> Value {
    query(
        "fieldValidation",
        "string",
        "What to do with unknown or duplicate fields in the request body: 'Ignore' drops them \
         silently, 'Warn' drops them and returns a warning header for each, 'Strict' fails the \
         request with a BadRequest error listing them.",
    )
}

/// Parameters of create and replace: the request carries a whole object.
pub(crate) fn write() -> Vec<Value> {
    vec![dry_run(), field_manager(), field_validation()]
}

/// Parameters of patch: those of a write plus `force` for apply patches.
pub(crate) fn patch() -> Vec<Value> {
    let mut params = write();
    params.push(query(
        "force",
        "boolean",
        "Take ownership of fields other managers own when applying. Must be unset for other \
         patch types.",
    ));
    params
}

fn list_filters() -> Vec<Value> {
    vec![
        query(
            "continue",
            "string",
            "The token a previous paged list returned, to fetch the next page.",
        ),
        query(
            "fieldSelector",
            "string",
            "Return only objects whose fields match this selector.",
        ),
        query(
            "labelSelector",
            "string",
            "Return only objects whose labels match this selector.",
        ),
        query(
            "limit",
            "integer",
            "The most objects to return; when more remain, the list metadata carries a continue \
             token.",
        ),
        query(
            "resourceVersion",
            "string",
            "The resource version the answer must be at least as new as (or exactly, with \
             resourceVersionMatch=Exact).",
        ),
        query(
            "resourceVersionMatch",
            "string",
            "How resourceVersion applies to a list: 'NotOlderThan' or 'Exact'.",
        ),
        query(
            "timeoutSeconds",
            "integer",
            "End the call after this many seconds, whatever it is doing.",
        ),
    ]
}

/// Parameters of list and watch on a collection.
pub(crate) fn list() -> Vec<Value> {
    let mut params = vec![query(
        "allowWatchBookmarks",
        "boolean",
        "Ask for BOOKMARK events during a watch. Ignored when not watching.",
    )];
    params.extend(list_filters());
    params.push(query(
        "sendInitialEvents",
        "boolean",
        "With watch=true, start the watch with synthetic ADDED events for the current objects.",
    ));
    params.push(query(
        "watch",
        "boolean",
        "Stream added, modified and deleted events instead of returning a list.",
    ));
    params
}

fn delete_options() -> Vec<Value> {
    vec![
        query(
            "gracePeriodSeconds",
            "integer",
            "Seconds to wait before the object is deleted; zero deletes at once and unset uses \
             the kind's default.",
        ),
        query(
            "orphanDependents",
            "boolean",
            "Deprecated in favour of propagationPolicy: whether dependents are orphaned.",
        ),
        query(
            "propagationPolicy",
            "string",
            "How dependents are garbage collected: 'Orphan', 'Background' or 'Foreground'.",
        ),
    ]
}

/// Parameters of deleting one object.
pub(crate) fn delete() -> Vec<Value> {
    let mut params = vec![dry_run()];
    params.extend(delete_options());
    params
}

/// Parameters of deleting every object a selector picks.
pub(crate) fn delete_collection() -> Vec<Value> {
    let mut params = list_filters();
    params.push(dry_run());
    params.extend(delete_options());
    params
}

/// Parameters of reading a container's log.
pub(crate) fn log() -> Vec<Value> {
    vec![
        query(
            "container",
            "string",
            "The container to read; optional when the pod has one.",
        ),
        query(
            "follow",
            "boolean",
            "Keep the stream open and send new lines as they are written.",
        ),
        query(
            "insecureSkipTLSVerifyBackend",
            "boolean",
            "Do not verify the kubelet's serving certificate.",
        ),
        query(
            "limitBytes",
            "integer",
            "Stop after this many bytes of log.",
        ),
        query(
            "previous",
            "boolean",
            "Read the log of the previous, terminated instance of the container.",
        ),
        query(
            "sinceSeconds",
            "integer",
            "Only lines written within this many seconds.",
        ),
        query(
            "tailLines",
            "integer",
            "Only this many lines from the end of the log.",
        ),
        query(
            "timestamps",
            "boolean",
            "Prefix every line with its RFC3339 timestamp.",
        ),
    ]
}

fn streams(with_command: bool) -> Vec<Value> {
    let mut params = Vec::new();
    if with_command {
        params.push(query(
            "command",
            "string",
            "The command to run, one argument per repetition of the parameter.",
        ));
    }
    params.push(query(
        "container",
        "string",
        "The container to connect to; optional when the pod has one.",
    ));
    for (stream, what) in [
        ("stderr", "Stream the standard error."),
        ("stdin", "Stream the standard input."),
        ("stdout", "Stream the standard output."),
        ("tty", "Allocate a terminal."),
    ] {
        params.push(query(stream, "boolean", what));
    }
    params
}

/// Query parameters of a connect subresource (`exec`, `attach`, `portforward`, `proxy`).
pub(crate) fn connect(subresource: &str) -> Vec<Value> {
    match subresource {
        "exec" => streams(true),
        "attach" => streams(false),
        "portforward" => vec![query(
            "ports",
            "integer",
            "A port to forward, one per repetition of the parameter.",
        )],
        "proxy" => vec![query("path", "string", "The path to proxy the request to.")],
        _ => Vec::new(),
    }
}
