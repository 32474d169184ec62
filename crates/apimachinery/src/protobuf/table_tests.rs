//! Checks of the field table: internal consistency, and agreement with the OpenAPI schemas the
//! server serves.

use serde_json::Value;

use super::special;
use super::table::{self, JsonName};

#[test]
fn the_table_is_consistent() {
    let mut count = 0;
    for (name, message) in table::messages() {
        let special = special::SPECIAL.contains(&name);
        for field in &message.fields {
            count += 1;
            assert_eq!(
                field.json == JsonName::Special,
                special,
                "{name} {}",
                field.number
            );
            if let Some(type_name) = field.message {
                assert!(
                    table::message(type_name).is_some(),
                    "{name} refers to {type_name}"
                );
            }
        }
        let whole = message.fields.iter().any(|f| f.json == JsonName::Whole);
        assert_eq!(whole, message.is_whole(), "{name}");
    }
    assert!(count > 1000, "only {count} fields");
}

/// Every property of every schema the server serves (but `apiVersion` and `kind`, which the
/// envelope carries) is a field the decoder knows, and every field's JSON name is a property of
/// its message's schema, unless Kubernetes added it after 1.33, the version served.
#[test]
fn the_table_covers_the_served_schemas() {
    // Fields k8s-pb 0.9.0 (Kubernetes 1.35) has and the 1.33 schemas lack.
    const NEWER_THAN_SERVED: &[&str] = &[
        "k8s.io.api.core.v1.Container.restartPolicyRules",
        "k8s.io.api.core.v1.EnvVarSource.fileKeyRef",
        "k8s.io.api.core.v1.EphemeralContainer.restartPolicyRules",
        "k8s.io.api.core.v1.NodeStatus.declaredFeatures",
        "k8s.io.api.core.v1.PodSpec.hostnameOverride",
        "k8s.io.api.core.v1.PodSpec.workloadRef",
        "k8s.io.api.core.v1.PodStatus.allocatedResources",
        "k8s.io.api.core.v1.PodStatus.extendedResourceClaimStatus",
        "k8s.io.api.core.v1.PodStatus.resources",
        "k8s.io.api.core.v1.VolumeProjection.podCertificate",
    ];
    let mut checked = 0;
    let mut problems = Vec::new();
    for (name, message) in table::messages() {
        let Some(schema_name) = name.strip_prefix("k8s.io.") else {
            continue;
        };
        let Some(schema) = crate::openapi::schema(&format!("io.k8s.{schema_name}")) else {
            continue;
        };
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            continue;
        };
        checked += 1;
        let names = json_names(name);
        for property in properties.keys() {
            if property != "apiVersion" && property != "kind" && !names.contains(property) {
                problems.push(format!("{name}: no field for property {property}"));
            }
        }
        for json_name in names {
            let qualified = format!("{name}.{json_name}");
            if !properties.contains_key(&json_name)
                && !NEWER_THAN_SERVED.contains(&qualified.as_str())
                && !message.is_whole()
            {
                problems.push(format!("{qualified}: not in the schema"));
            }
        }
    }
    assert!(checked > 200, "only {checked} messages had schemas");
    println!("checked {checked} messages against their schemas");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The JSON property names of a message, inlined structs' included.
fn json_names(name: &str) -> Vec<String> {
    let mut names = Vec::new();
    for field in &table::message(name).expect("a message in the table").fields {
        match field.json {
            JsonName::Property(property) => names.push(property.to_string()),
            JsonName::Inline => names.extend(json_names(field.message.expect("inlined type"))),
            JsonName::Whole | JsonName::Special => {}
        }
    }
    names
}
