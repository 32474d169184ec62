//! Issue 3, paging: `kubectl get --chunk-size` lists everything a page at a time, and a raw
//! list with `limit` carries `metadata.continue` and `remainingItemCount`; following the token
//! gives the next page of the same snapshot.

use std::collections::BTreeSet;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use super::harness::ApiCluster;
use super::kubectl::Kubectl;
use crate::flavor::Flavor;

/// ConfigMaps with the label the chunked list selects, and without it.
const LABELLED: usize = 25;
const UNLABELLED: usize = 5;

const PAGE: usize = 10;

on_both_stores!(lists_come_in_pages);

fn lists_come_in_pages(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();
    admin.ok(&["create", "namespace", "paged"])?;
    let items: Vec<Value> = (0..LABELLED + UNLABELLED)
        .map(|i| {
            let labels = if i < LABELLED {
                json!({ "paged": "yes" })
            } else {
                json!({})
            };
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": { "name": format!("page-{i:02}"), "labels": labels },
                "data": { "i": i.to_string() },
            })
        })
        .collect();
    // A stream of JSON objects rather than a `kind: List`, so that only paging is under test.
    let stream: Vec<String> = items.iter().map(Value::to_string).collect();
    admin.ok_with_stdin(
        &["create", "-n", "paged", "-f", "-"],
        Some(&stream.join("\n")),
    )?;

    // -v=6 logs every request, so the test sees that kubectl really was handed continue
    // tokens, rather than the whole list at once.
    let out = admin.ok(&[
        "get",
        "configmaps",
        "-n",
        "paged",
        "-l",
        "paged=yes",
        "--chunk-size=10",
        "-o",
        "name",
        "-v=6",
    ])?;
    let expected: Vec<String> = (0..LABELLED)
        .map(|i| format!("configmap/page-{i:02}"))
        .collect();
    ensure!(
        out.stdout.lines().eq(expected.iter().map(String::as_str)),
        "the chunked list should show all {LABELLED} labelled ConfigMaps: {out}"
    );
    // A request may be logged on more than one line, so distinct tokens are counted.
    let tokens: BTreeSet<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("/namespaces/paged/configmaps?"))
        .filter_map(|l| {
            let token = l.split_once("continue=")?.1;
            token.split(['&', '"', ' ']).next()
        })
        .collect();
    ensure!(
        tokens.len() == LABELLED / PAGE,
        "{LABELLED} items at {PAGE} a page need {} continue tokens, but kubectl was given \
         {tokens:?}: {out}",
        LABELLED / PAGE
    );

    raw_pages(&admin)
}

/// Pages through the namespace with raw `limit` and `continue` requests.
fn raw_pages(admin: &Kubectl) -> Result<()> {
    let all = list(admin, "/api/v1/namespaces/paged/configmaps")?;
    let everything = names(&all);
    ensure!(
        everything.len() >= LABELLED + UNLABELLED && all["metadata"].get("continue").is_none(),
        "an unlimited list is one page: {all:#}"
    );
    let total = everything.len();

    let mut seen: Vec<String> = Vec::new();
    let mut token: Option<String> = None;
    let mut version: Option<Value> = None;
    loop {
        let mut uri = format!("/api/v1/namespaces/paged/configmaps?limit={PAGE}");
        if let Some(token) = &token {
            uri.push_str(&format!("&continue={}", percent_encode(token)));
        }
        let page = list(admin, &uri)?;
        let meta = &page["metadata"];
        let names = names(&page);
        seen.extend(names.iter().cloned());
        let version = version.get_or_insert_with(|| meta["resourceVersion"].clone());
        ensure!(
            meta["resourceVersion"] == *version,
            "every page is read at the first page's resourceVersion: {meta:#}"
        );
        let next = meta["continue"].as_str().unwrap_or_default();
        if seen.len() < total {
            ensure!(
                names.len() == PAGE
                    && !next.is_empty()
                    && meta["remainingItemCount"] == total - seen.len(),
                "page after {:?}: {PAGE} items, a continue token and {} remaining: {names:?} \
                 {meta:#}",
                token,
                total - seen.len()
            );
        } else {
            ensure!(
                !names.is_empty() && next.is_empty() && meta.get("remainingItemCount").is_none(),
                "the last page has no continue token and no remaining count: {meta:#}"
            );
            break;
        }
        if token.is_none() {
            // Created after the first page and named to sort last: the later pages belong to
            // the first page's snapshot, so they must not show it.
            admin.ok(&["create", "configmap", "page-zz", "-n", "paged"])?;
        }
        token = Some(next.to_string());
    }
    ensure!(
        seen == everything,
        "the pages together should be the whole list, in order, once:\n{seen:?}\n{everything:?}"
    );
    Ok(())
}

fn list(admin: &Kubectl, uri: &str) -> Result<Value> {
    let out = admin.ok(&["get", "--raw", uri])?;
    serde_json::from_str(&out.stdout).with_context(|| format!("GET {uri}: {out}"))
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            item["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Escapes everything but RFC 3986's unreserved characters, for a query parameter.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
