//! Checks of the documents against what kubectl 1.32 reads from them: the index, explain's
//! lookup of a kind, the `fieldValidation` verifier's walk over PATCH operations, `$ref`s.

use serde_json::{Value, json};

use super::*;

fn doc(key: &str) -> Arc<Value> {
    v3_document(key).unwrap_or_else(|| panic!("{key} is served"))
}

fn component<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc.pointer("/components/schemas")
        .and_then(|s| s.get(name))
        .unwrap_or_else(|| panic!("{name} is in components.schemas"))
}

fn gvk_json(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

/// Every `$ref` string anywhere under `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// The operations of a document as (path, method, operation).
fn operations(doc: &Value) -> Vec<(&str, &str, &Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if method != "parameters" {
                ops.push((path.as_str(), method.as_str(), op));
            }
        }
    }
    ops
}

#[test]
fn index_lists_every_served_group_version() {
    let index = v3_index();
    let paths = index["paths"].as_object().expect("paths");
    for r in RESOURCES {
        let key = key(r.group, r.version);
        let url = paths[&key]["serverRelativeURL"].as_str().expect("url");
        let served = v3_served(&key).expect("served");
        assert_eq!(url, format!("/openapi/v3/{key}?hash={}", served.hash));
        assert_eq!(served.hash.len(), 16);
        assert_eq!(
            served.json.as_ref(),
            serde_json::to_vec(&*served.document).unwrap()
        );
    }
    assert_eq!(paths.len(), group_versions().len());
    assert!(paths.contains_key("api/v1") && paths.contains_key("apis/apps/v1"));
    assert!(v3_document("apis/batch/v2").is_none());
    assert!(v3_document("/apis/apps/v1").is_some());
}

#[test]
fn documents_are_openapi_3_and_stable() {
    let served = group_versions();
    for doc in v3_documents() {
        assert_eq!(doc.document["openapi"], "3.0.0");
        assert!(doc.document["info"]["title"].is_string());
        assert!(doc.document["info"]["version"].is_string());
        let (group, version) = served
            .iter()
            .copied()
            .find(|(g, v)| key(g, v) == doc.key)
            .expect("a served group-version");
        let again = serde_json::to_vec(&build_document(group, version, &served)).unwrap();
        assert_eq!(format!("{:016X}", fnv1a(&again)), doc.hash, "{}", doc.key);
    }
}

#[test]
fn deployment_schema_is_tagged_and_its_spec_resolves() {
    let apps = doc("apis/apps/v1");
    let deployment = component(&apps, "io.k8s.api.apps.v1.Deployment");
    assert_eq!(
        deployment["x-kubernetes-group-version-kind"],
        json!([gvk_json("apps", "v1", "Deployment")])
    );
    assert!(deployment.get("required").is_none(), "metadata is optional");
    let spec = &deployment["properties"]["spec"];
    assert_eq!(
        spec["allOf"],
        json!([{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}])
    );
    assert!(
        spec["description"]
            .as_str()
            .unwrap()
            .contains("desired behavior")
    );
    let spec_schema = component(&apps, "io.k8s.api.apps.v1.DeploymentSpec");
    assert!(
        spec_schema["description"]
            .as_str()
            .unwrap()
            .starts_with("DeploymentSpec")
    );
    assert!(spec_schema["properties"]["replicas"].is_object());

    let list = component(&apps, "io.k8s.api.apps.v1.DeploymentList");
    assert_eq!(
        list["x-kubernetes-group-version-kind"],
        json!([gvk_json("apps", "v1", "DeploymentList")])
    );
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.Deployment"
    );
    let scale = component(&apps, "io.k8s.api.autoscaling.v1.Scale");
    assert_eq!(
        scale["x-kubernetes-group-version-kind"],
        json!([gvk_json("autoscaling", "v1", "Scale")])
    );
    let delete_options = component(&apps, schemas::DELETE_OPTIONS);
    let tags = delete_options["x-kubernetes-group-version-kind"]
        .as_array()
        .unwrap();
    assert!(tags.contains(&gvk_json("", "v1", "DeleteOptions")));
    assert!(tags.contains(&gvk_json("apps", "v1", "DeleteOptions")));
    let status = component(&apps, schemas::STATUS);
    assert_eq!(
        status["x-kubernetes-group-version-kind"],
        json!([gvk_json("", "v1", "Status")])
    );
    assert!(status.get("required").is_none());
    // A kind another group serves is tagged where it appears, here in volumeClaimTemplates.
    let claim = component(&apps, "io.k8s.api.core.v1.PersistentVolumeClaim");
    assert_eq!(
        claim["x-kubernetes-group-version-kind"],
        json!([gvk_json("", "v1", "PersistentVolumeClaim")])
    );
    assert!(claim.get("required").is_none());
    let core = doc("api/v1");
    let event = component(&core, "io.k8s.api.core.v1.Event");
    assert_eq!(event["required"], json!(["involvedObject", "metadata"]));
}

#[test]
fn every_ref_resolves_inside_its_document() {
    for doc in v3_documents() {
        let mut found = Vec::new();
        refs(&doc.document, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r
                .strip_prefix(schemas::REF_PREFIX)
                .unwrap_or_else(|| panic!("{r} points into components.schemas"));
            component(&doc.document, name);
        }
    }
}

#[test]
fn no_ref_has_siblings() {
    // kube-openapi puts a described `$ref` in an `allOf`; explain and apply read that shape.
    fn walk(value: &Value) {
        match value {
            Value::Object(map) => {
                if map.contains_key("$ref") {
                    assert_eq!(map.len(), 1, "{value}");
                }
                map.values().for_each(walk);
            }
            Value::Array(items) => items.iter().for_each(walk),
            _ => {}
        }
    }
    for doc in v3_documents() {
        walk(&doc.document);
    }
}

/// What kubectl's `fieldValidation` verifier does: the first PATCH operation tagged with the kind
/// decides, so every such operation must list the parameter itself.
#[test]
fn every_patch_of_a_kind_takes_field_validation() {
    for r in RESOURCES {
        let doc = doc(&key(r.group, r.version));
        let gvk = gvk_json(r.group, r.version, r.kind);
        let patches: Vec<_> = operations(&doc)
            .into_iter()
            .filter(|(_, method, op)| {
                *method == "patch" && op["x-kubernetes-group-version-kind"] == gvk
            })
            .collect();
        assert_eq!(!patches.is_empty(), r.has_verb("patch"), "{}", r.kind);
        for (path, _, op) in patches {
            let params = op["parameters"].as_array().expect("parameters");
            for name in ["fieldValidation", "dryRun", "fieldManager", "force"] {
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "query"),
                    "{path} takes {name}"
                );
            }
            let body = &op["requestBody"]["content"];
            assert!(body.get("application/strategic-merge-patch+json").is_some());
            assert!(body.get("application/apply-patch+yaml").is_some());
        }
    }
    let apps = doc("apis/apps/v1");
    let patch = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(patch["x-kubernetes-action"], "patch");
    assert_eq!(patch["operationId"], "patchAppsV1NamespacedDeployment");
}

/// What explain's template does: find the kind on an operation of one of four paths, then the
/// one schema whose tag list holds exactly that kind.
#[test]
fn explain_finds_every_resource() {
    for r in RESOURCES {
        let doc = doc(&key(r.group, r.version));
        let prefix = if r.group.is_empty() {
            "/api".to_string()
        } else {
            format!("/apis/{}", r.group)
        };
        let v = r.version;
        let p = r.plural;
        let candidates = [
            format!("{prefix}/{v}/{p}"),
            format!("{prefix}/{v}/{p}/{{name}}"),
            format!("{prefix}/{v}/namespaces/{{namespace}}/{p}"),
            format!("{prefix}/{v}/namespaces/{{namespace}}/{p}/{{name}}"),
        ];
        let gvk = candidates
            .iter()
            .filter_map(|c| doc["paths"].get(c))
            .flat_map(|item| {
                ["get", "post", "put", "patch", "delete"]
                    .iter()
                    .filter_map(|m| item.get(*m)?.get("x-kubernetes-group-version-kind"))
            })
            .next()
            .unwrap_or_else(|| panic!("{} has an operation", r.plural));
        assert_eq!(*gvk, gvk_json(r.group, r.version, r.kind));
        let matches: Vec<_> = doc["components"]["schemas"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, s)| {
                s["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|tags| tags.contains(gvk))
            })
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(matches, [schema_name(r.group, r.version, r.kind).unwrap()]);
    }
}

#[test]
fn every_served_kind_has_a_schema() {
    for r in RESOURCES {
        assert!(
            kinds::find(r.group, r.version, r.kind).is_some(),
            "add {}/{} {} to openapi::kinds",
            r.group,
            r.version,
            r.kind
        );
        for sub in r.subresources {
            let connect = ["exec", "attach", "portforward", "proxy"].contains(&sub.name);
            let (g, v) = match sub.group_version {
                Some(gv) => gv.split_once('/').unwrap_or(("", gv)),
                None => (r.group, r.version),
            };
            assert_eq!(
                kinds::find(g, v, sub.kind).is_some(),
                !connect,
                "{}/{}",
                r.plural,
                sub.name
            );
        }
    }
}

#[test]
fn subresource_paths_follow_kube() {
    let core = doc("api/v1");
    let paths = &core["paths"];
    let status = &paths["/api/v1/namespaces/{namespace}/pods/{name}/status"];
    assert_eq!(
        status["patch"]["x-kubernetes-group-version-kind"],
        gvk_json("", "v1", "Pod")
    );
    let eviction = &paths["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["post"];
    assert_eq!(
        eviction["x-kubernetes-group-version-kind"],
        gvk_json("policy", "v1", "Eviction")
    );
    let exec = &paths["/api/v1/namespaces/{namespace}/pods/{name}/exec"];
    assert_eq!(exec["get"]["x-kubernetes-action"], "connect");
    assert_eq!(
        exec["post"]["operationId"],
        "connectCoreV1PostNamespacedPodExec"
    );
    assert!(paths.get("/api/v1/nodes/{name}/proxy/{path}").is_some());
    let log = &paths["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"];
    assert_eq!(log["operationId"], "readCoreV1NamespacedPodLog");
    assert_eq!(
        paths["/api/v1/pods"]["get"]["operationId"],
        "listCoreV1PodForAllNamespaces"
    );
    let apps = doc("apis/apps/v1");
    let scale = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
    assert_eq!(
        scale["put"]["x-kubernetes-group-version-kind"],
        gvk_json("autoscaling", "v1", "Scale")
    );
    assert!(apps["paths"]["/apis/apps/v1/"]["get"]["responses"]["200"].is_object());
    let rbac = doc("apis/rbac.authorization.k8s.io/v1");
    assert_eq!(
        rbac["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles"]["get"]["operationId"],
        "listRbacAuthorizationV1ClusterRole"
    );
}

#[test]
fn patch_metadata_reaches_the_schemas() {
    let core = doc("api/v1");
    let containers = &component(&core, "io.k8s.api.core.v1.PodSpec")["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    let apps = doc("apis/apps/v1");
    let strategy = &component(&apps, "io.k8s.api.apps.v1.DeploymentSpec")["properties"]["strategy"];
    assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
    assert!(strategy.get("x-kubernetes-patch-merge-key").is_none());
    assert_eq!(
        patch_meta("io.k8s.api.core.v1.Container", "env"),
        Some(PatchMeta {
            strategy: "merge",
            merge_key: Some("name")
        })
    );
    assert_eq!(patch_meta("io.k8s.api.core.v1.Container", "image"), None);
    // Every entry names a real field, so a renamed field cannot silently drop out.
    for (schema_name, field, _) in patch_meta::entries() {
        if let Some(s) = schema(&schema_name) {
            assert!(
                s["properties"].get(field).is_some(),
                "{schema_name}.{field}"
            );
        }
    }
}

#[test]
fn schema_names_cover_kinds_and_lists() {
    let cases = [
        (
            "apps",
            "v1",
            "Deployment",
            Some("io.k8s.api.apps.v1.Deployment"),
        ),
        (
            "apps",
            "v1",
            "DeploymentList",
            Some("io.k8s.api.apps.v1.DeploymentList"),
        ),
        ("", "v1", "Pod", Some("io.k8s.api.core.v1.Pod")),
        (
            "",
            "v1",
            "Status",
            Some("io.k8s.apimachinery.pkg.apis.meta.v1.Status"),
        ),
        (
            "events.k8s.io",
            "v1",
            "Event",
            Some("io.k8s.api.events.v1.Event"),
        ),
        ("apps", "v1", "Pod", None),
    ];
    for (group, version, kind, want) in cases {
        assert_eq!(schema_name(group, version, kind), want, "{kind}");
    }
    let pod = schema("io.k8s.api.core.v1.Pod").expect("pod schema");
    assert_eq!(pod["type"], "object");
}

#[test]
fn v2_placeholder_is_a_minimal_swagger_document() {
    let mut want = vec![0x0a, 3];
    want.extend_from_slice(b"2.0");
    want.extend_from_slice(&[0x12, 21, 0x0a, 10]);
    want.extend_from_slice(b"Kubernetes");
    want.extend_from_slice(&[0x12, 7]);
    want.extend_from_slice(b"v1.33.0");
    assert_eq!(v2_placeholder(), want);
}
