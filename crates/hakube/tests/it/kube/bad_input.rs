//! Issue 3, bad input: an invalid object, unknown fields under kubectl's default (strict) and
//! disabled validation, malformed JSON, a body over kube-apiserver's 3 MiB limit and an
//! unknown resource type are refused as Kubernetes 1.33 refuses them, and a refused write
//! leaves nothing behind.

use anyhow::{Result, ensure};

use super::harness::ApiCluster;
use super::objects::{absent, must_get, post_raw};
use crate::flavor::Flavor;

/// kube-apiserver's `--max-request-body-bytes` default is 3 MiB; it answers 413 above it.
const BODY_LIMIT: usize = 3 * 1024 * 1024;

on_both_stores!(refused_writes_leave_nothing_behind);

fn refused_writes_leave_nothing_behind(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();

    // The selector picks `app: hello`, but the template's pods would be `app: other`.
    let mismatched = deployment("mismatch", "other", "");
    let out = admin.run_with_stdin(&["create", "-f", "-"], Some(&mismatched))?;
    ensure!(
        out.code == Some(1)
            && out.stderr
                == "The Deployment \"mismatch\" is invalid: spec.template.metadata.labels: \
                    Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not \
                    match template `labels`\n",
        "a Deployment whose selector misses its template should be invalid (422): {out}"
    );
    absent(&admin, &["deployment", "mismatch"])?;

    // kubectl's default, --validate=strict, asks the server to refuse unknown fields.
    let bogus = deployment("strict", "hello", "  bogus: 1\n");
    let out = admin.run_with_stdin(&["create", "-f", "-"], Some(&bogus))?;
    ensure!(
        out.code == Some(1)
            && out.stderr
                == "Error from server (BadRequest): error when creating \"STDIN\": Deployment \
                    in version \"v1\" cannot be handled as a Deployment: strict decoding error: \
                    unknown field \"spec.bogus\"\n",
        "an unknown field should be refused under strict validation: {out}"
    );
    absent(&admin, &["deployment", "strict"])?;

    // --validate=false asks the server to drop what it does not know.
    let lenient = deployment("lenient", "hello", "  bogus: 1\n");
    admin.expect_with_stdin(
        &["create", "--validate=false", "-f", "-"],
        Some(&lenient),
        "deployment.apps/lenient created\n",
    )?;
    let stored = must_get(&admin, &["deployment", "lenient"])?;
    ensure!(
        stored["spec"].get("bogus").is_none() && stored["spec"]["replicas"] == 1,
        "the unknown field should be dropped and the rest kept: {:#}",
        stored["spec"]
    );

    // A body cut off in the middle is not an object at all.
    let out = post_raw(
        &admin,
        "/api/v1/namespaces/default/configmaps",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"broken"},"data":{"k":"#,
    )?;
    ensure!(
        !out.success()
            && out.stderr.starts_with(
                "Error from server (BadRequest): the object provided is unrecognized (must be \
                 of type ConfigMap): couldn't get version/kind; json parse error: "
            ),
        "malformed JSON should be refused with 400: {out}"
    );
    absent(&admin, &["configmap", "broken"])?;

    too_large(&cluster)?;

    let out = admin.fails(&["get", "widgets"])?;
    ensure!(
        out.code == Some(1)
            && out.stderr == "error: the server doesn't have a resource type \"widgets\"\n",
        "an unknown resource type: {out}"
    );
    Ok(())
}

/// A ConfigMap whose JSON is over the request body limit is refused before it is decoded.
fn too_large(cluster: &ApiCluster) -> Result<()> {
    let admin = cluster.admin();
    let body = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"huge"}},"data":{{"blob":"{}"}}}}"#,
        "x".repeat(BODY_LIMIT + BODY_LIMIT / 4)
    );
    // From a file: kubectl may stop reading once the server has answered, which a pipe the
    // test writes into would see as a broken pipe.
    let file = cluster.dir().join("huge-configmap.json");
    std::fs::write(&file, &body)?;
    let out = admin.run(&[
        "create",
        "--raw",
        "/api/v1/namespaces/default/configmaps",
        "-f",
        &file.display().to_string(),
    ])?;
    ensure!(
        !out.success()
            && out.stderr
                == format!(
                    "Error from server (RequestEntityTooLarge): Request entity too large: \
                     limit is {BODY_LIMIT}\n"
                ),
        "a body over {BODY_LIMIT} bytes should be refused with 413: {out}"
    );
    absent(&admin, &["configmap", "huge"])
}

/// A one-replica Deployment selecting `app: hello` whose pod template is labelled
/// `app: <template_app>`; `extra_spec` is added to its spec as YAML lines.
fn deployment(name: &str, template_app: &str, extra_spec: &str) -> String {
    format!(
        "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
{extra_spec}  replicas: 1
  selector:
    matchLabels:
      app: hello
  template:
    metadata:
      labels:
        app: {template_app}
    spec:
      containers:
        - name: hello-from
          image: pbitty/hello-from:latest
"
    )
}
