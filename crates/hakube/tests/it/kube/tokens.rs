//! Issue 3, bearer tokens: a ServiceAccount's token from `kubectl create token` authenticates
//! as the ServiceAccount, which RBAC then governs like any user; a bootstrap token authenticates
//! as `system:bootstrap:<id>` while its Secret says so, and a wrong secret does not.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use base64::Engine;
use serde_json::Value;

use super::columns::Columns;
use super::harness::ApiCluster;
use super::kubectl::Kubectl;
use super::objects::must_get;
use crate::flavor::Flavor;

/// What kubectl prints when the server answers 401.
const UNAUTHORIZED: &str = "error: You must be logged in to the server (Unauthorized)";

/// The `--service-account-issuer` the harness gives the server.
const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// How long a new RoleBinding may take to reach the RBAC cache.
const RBAC_LIMIT: Duration = Duration::from_secs(20);

on_both_stores!(
    service_account_tokens_authenticate,
    bootstrap_tokens_authenticate
);

fn service_account_tokens_authenticate(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();
    admin.expect(
        &["create", "serviceaccount", "robot"],
        "serviceaccount/robot created\n",
    )?;
    let out = admin.ok(&["create", "token", "robot"])?;
    let token = out.stdout.trim_end_matches('\n');
    let claims = jwt_claims(token)?;
    let account = must_get(&admin, &["serviceaccount", "robot"])?;
    ensure!(
        claims["sub"] == "system:serviceaccount:default:robot"
            && claims["iss"] == ISSUER
            && claims["aud"] == serde_json::json!([ISSUER])
            && claims["kubernetes.io"]["namespace"] == "default"
            && claims["kubernetes.io"]["serviceaccount"]["name"] == "robot"
            && claims["kubernetes.io"]["serviceaccount"]["uid"] == account["metadata"]["uid"]
            && claims["iat"].is_u64()
            && claims["exp"].as_u64() > claims["iat"].as_u64(),
        "the token's claims: {claims:#}"
    );

    let robot = cluster.kubectl_with_token("robot", token)?;
    let (user, groups) = whoami(&robot)?;
    ensure!(
        user == "system:serviceaccount:default:robot"
            && groups
                == "[system:serviceaccounts system:serviceaccounts:default system:authenticated]",
        "auth whoami as the ServiceAccount: {user} in {groups}"
    );

    let out = robot.fails(&["get", "pods"])?;
    ensure!(
        out.stderr
            == "Error from server (Forbidden): pods is forbidden: User \
                \"system:serviceaccount:default:robot\" cannot list resource \"pods\" in API \
                group \"\" in the namespace \"default\"\n",
        "a ServiceAccount with no grants should be forbidden to list pods: {out}"
    );
    admin.expect(
        &[
            "create",
            "rolebinding",
            "robot-view",
            "--clusterrole=view",
            "--serviceaccount=default:robot",
        ],
        "rolebinding.rbac.authorization.k8s.io/robot-view created\n",
    )?;
    let out = robot.poll_until(&["get", "pods"], RBAC_LIMIT, |out| out.success())?;
    ensure!(
        out.stdout.is_empty() && out.stderr == "No resources found in default namespace.\n",
        "the ServiceAccount may list pods once it may view: {out}"
    );
    // `view` reads; it does not write.
    let out = robot.fails(&["create", "configmap", "nope"])?;
    ensure!(
        out.stderr.contains(
            "configmaps is forbidden: User \"system:serviceaccount:default:robot\" cannot \
             create resource \"configmaps\" in API group \"\" in the namespace \"default\""
        ),
        "view does not grant create: {out}"
    );

    can_i_list(&admin)
}

/// `kubectl auth can-i --list` as the administrator, whom cluster-admin grants everything.
fn can_i_list(admin: &Kubectl) -> Result<()> {
    let out = admin.ok(&["auth", "can-i", "--list"])?;
    let table = Columns::parse(&out.stdout)?;
    ensure!(
        table.names() == ["Resources", "Non-Resource URLs", "Resource Names", "Verbs"],
        "can-i --list header: {out}"
    );
    let has = |row: [&str; 4]| {
        table
            .rows
            .iter()
            .any(|r| r.iter().map(String::as_str).eq(row))
    };
    ensure!(
        has(["*.*", "[]", "[]", "[*]"]) && has(["", "[*]", "[]", "[*]"]),
        "the administrator may do anything to any resource and any URL: {out}"
    );
    Ok(())
}

fn bootstrap_tokens_authenticate(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();
    admin.expect_with_stdin(
        &["create", "-f", "-"],
        Some(
            "\
apiVersion: v1
kind: Secret
metadata:
  name: bootstrap-token-abcdef
  namespace: kube-system
type: bootstrap.kubernetes.io/token
stringData:
  token-id: abcdef
  token-secret: 0123456789abcdef
  usage-bootstrap-authentication: \"true\"
",
        ),
        "secret/bootstrap-token-abcdef created\n",
    )?;

    let joiner = cluster.kubectl_with_token("joiner", "abcdef.0123456789abcdef")?;
    let (user, groups) = whoami(&joiner)?;
    ensure!(
        user == "system:bootstrap:abcdef"
            && groups == "[system:bootstrappers system:authenticated]",
        "auth whoami with the bootstrap token: {user} in {groups}"
    );

    for (name, token) in [
        ("wrong-secret", "abcdef.0123456789abcdee"),
        ("unknown-id", "fedcba.0123456789abcdef"),
    ] {
        let out = cluster
            .kubectl_with_token(name, token)?
            .fails(&["auth", "whoami"])?;
        ensure!(
            out.stderr.lines().any(|l| l == UNAUTHORIZED),
            "the token {token} should get 401 Unauthorized: {out}"
        );
    }
    Ok(())
}

/// The Username and Groups cells of `kubectl auth whoami`.
fn whoami(kubectl: &Kubectl) -> Result<(String, String)> {
    let out = kubectl.ok(&["auth", "whoami"])?;
    let table = Columns::parse(&out.stdout)?;
    ensure!(
        table.names() == ["ATTRIBUTE", "VALUE"],
        "auth whoami header: {out}"
    );
    let value = |attribute: &str| {
        table
            .row_where("ATTRIBUTE", attribute)
            .map(|row| row[1].clone())
            .with_context(|| format!("auth whoami shows no {attribute}: {out}"))
    };
    Ok((value("Username")?, value("Groups")?))
}

/// The claims of a JWT (its middle part), which must have three parts.
fn jwt_claims(token: &str) -> Result<Value> {
    let parts: Vec<&str> = token.split('.').collect();
    ensure!(parts.len() == 3, "a JWT has three parts: {token:?}");
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: Value = serde_json::from_slice(&engine.decode(parts[0])?)
        .with_context(|| format!("the JWT header of {token:?}"))?;
    ensure!(
        header["alg"] == "ES256",
        "the token is signed with the ES256 key the server was given: {header:#}"
    );
    serde_json::from_slice(&engine.decode(parts[1])?)
        .with_context(|| format!("the JWT claims of {token:?}"))
}
