//! The EncryptionConfiguration file format (apiserver.config.k8s.io/v1) and its validation rules.

use base64::Engine as _;
use serde::Deserialize;

use super::provider::{KeyMaterial, Provider};
use super::{EncryptionError, GroupResource, Result};

const API_VERSION: &str = "apiserver.config.k8s.io/v1";
const KIND: &str = "EncryptionConfiguration";
const AES_KEY_SIZES: &[usize] = &[16, 24, 32];
const SECRETBOX_KEY_SIZES: &[usize] = &[32];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EncryptionConfiguration {
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    resources: Vec<ResourceConfiguration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceConfiguration {
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    providers: Vec<ProviderConfiguration>,
}

/// One element of `providers`: exactly one of the fields must be set.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderConfiguration {
    aesgcm: Option<KeysConfiguration>,
    aescbc: Option<KeysConfiguration>,
    secretbox: Option<KeysConfiguration>,
    identity: Option<IdentityConfiguration>,
    kms: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysConfiguration {
    #[serde(default)]
    keys: Vec<KeyConfiguration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyConfiguration {
    #[serde(default)]
    name: String,
    #[serde(default)]
    secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityConfiguration {}

/// One validated `resources` element.
pub(super) struct Entry {
    pub resources: Vec<GroupResource>,
    pub providers: Vec<Provider>,
}

/// Decodes and validates a configuration, reporting every problem found with its field path,
/// in the words kube-apiserver uses.
pub(super) fn parse(text: &str) -> Result<Vec<Entry>> {
    let config: EncryptionConfiguration =
        serde_yaml_ng::from_str(text).map_err(|e| EncryptionError::Decode(e.to_string()))?;
    let api_version = config.api_version.as_deref().unwrap_or("");
    let kind = config.kind.as_deref().unwrap_or("");
    if api_version != API_VERSION || kind != KIND {
        return Err(EncryptionError::Decode(format!(
            "expected apiVersion {API_VERSION:?} and kind {KIND:?}, got apiVersion {api_version:?} and kind {kind:?}"
        )));
    }
    let mut problems = Vec::new();
    if config.resources.is_empty() {
        problems.push("resources: Required value: at least one resources is required".to_string());
    }
    let mut entries = Vec::new();
    for (i, entry) in config.resources.iter().enumerate() {
        let path = format!("resources[{i}]");
        if entry.resources.is_empty() {
            problems.push(format!(
                "{path}.resources: Required value: at least one {path}.resources is required"
            ));
        }
        validate_overlap(
            &entry.resources,
            &format!("{path}.resources"),
            &mut problems,
        );
        for (j, name) in entry.resources.iter().enumerate() {
            if let Some(problem) = resource_name_problem(name) {
                problems.push(format!(
                    "{path}.resources[{j}]: Invalid value: {name:?}: {problem}"
                ));
            }
        }
        if entry.providers.is_empty() {
            problems.push(format!(
                "{path}.providers: Required value: at least one {path}.providers is required"
            ));
        }
        let mut providers = Vec::new();
        for (j, provider) in entry.providers.iter().enumerate() {
            let path = format!("{path}.providers[{j}]");
            if let Some(provider) = build_provider(provider, &path, &mut problems) {
                providers.push(provider);
            }
        }
        entries.push(Entry {
            resources: entry
                .resources
                .iter()
                .map(|r| GroupResource::parse(r))
                .collect(),
            providers,
        });
    }
    if !problems.is_empty() {
        return Err(EncryptionError::Invalid(problems));
    }
    Ok(entries)
}

/// Duplicates and wildcard overlaps within one `resources` list hide each other.
fn validate_overlap(resources: &[String], path: &str, problems: &mut Vec<String>) {
    let parsed: Vec<GroupResource> = resources.iter().map(|r| GroupResource::parse(r)).collect();
    let (mut duplicate, mut overlap) = (false, false);
    for (i, a) in parsed.iter().enumerate() {
        for (j, b) in parsed.iter().enumerate() {
            if i == j {
                continue;
            }
            if a == b {
                duplicate = true;
            } else if (a.group == "*" && a.resource == "*")
                || (a.group == b.group && (a.resource == "*" || b.resource == "*"))
            {
                overlap = true;
            }
        }
    }
    if duplicate {
        problems.push(format!(
            "{path}: Invalid value: {resources:?}: the same resource cannot be specified multiple times"
        ));
    }
    if overlap {
        problems.push(format!(
            "{path}: Invalid value: {resources:?}: using overlapping resources such as 'secrets' and '*.' in the same resource list is not allowed as they will be masked"
        ));
    }
}

fn resource_name_problem(name: &str) -> Option<&'static str> {
    if name.to_lowercase() != name {
        return Some("resource name should not contain capital letters");
    }
    if name == "*" {
        return Some(
            "use '*.' to encrypt all the resources from core API group or *.* to encrypt all resources",
        );
    }
    if matches!(
        name,
        "apiserveripinfo" | "serviceipallocations" | "servicenodeportallocations"
    ) {
        return Some("resources which do not have REST API/s cannot be encrypted");
    }
    let parsed = GroupResource::parse(name);
    match parsed.group.as_str() {
        "events.k8s.io" => Some(
            "'*.events.k8s.io' objects are stored using the 'events' API group in etcd. Use 'events' instead in the config file",
        ),
        "extensions" => {
            Some("'extensions' group has been removed and cannot be used for encryption")
        }
        "*" if parsed.resource != "*" => {
            Some("encrypting the same resource across groups is not supported")
        }
        _ => None,
    }
}

fn build_provider(
    config: &ProviderConfiguration,
    path: &str,
    problems: &mut Vec<String>,
) -> Option<Provider> {
    let set = [
        config.kms.is_some(),
        config.aesgcm.is_some(),
        config.aescbc.is_some(),
        config.secretbox.is_some(),
        config.identity.is_some(),
    ]
    .iter()
    .filter(|set| **set)
    .count();
    if set == 0 {
        problems.push(format!(
            "{path}: Invalid value: provider does not contain any of the expected providers: KMS, AESGCM, AESCBC, Secretbox, Identity"
        ));
        return None;
    }
    if set > 1 {
        problems.push(format!(
            "{path}: Invalid value: more than one provider specified in a single element, should split into different list elements"
        ));
        return None;
    }
    if config.kms.is_some() {
        problems.push(format!(
            "{path}.kms: Unsupported value: KMS providers need an external plugin, which hakube does not run; use aesgcm, aescbc or secretbox"
        ));
        return None;
    }
    if config.identity.is_some() {
        return Some(Provider::Identity);
    }
    let (name, keys, sizes) = if let Some(keys) = &config.aesgcm {
        ("aesgcm", keys, AES_KEY_SIZES)
    } else if let Some(keys) = &config.aescbc {
        ("aescbc", keys, AES_KEY_SIZES)
    } else if let Some(keys) = &config.secretbox {
        ("secretbox", keys, SECRETBOX_KEY_SIZES)
    } else {
        unreachable!("exactly one provider field is set")
    };
    let keys_path = format!("{path}.{name}.keys");
    if keys.keys.is_empty() {
        problems.push(format!(
            "{keys_path}: Required value: at least one keys is required"
        ));
        return None;
    }
    let mut material = Vec::new();
    for (k, key) in keys.keys.iter().enumerate() {
        let key_path = format!("{keys_path}[{k}]");
        if key.name.is_empty() {
            problems.push(format!(
                "{key_path}.name: Required value: name is a mandatory field for a key"
            ));
        }
        if key.secret.is_empty() {
            problems.push(format!(
                "{key_path}.secret: Required value: secret is a mandatory field for a key"
            ));
            continue;
        }
        let Ok(secret) = base64::engine::general_purpose::STANDARD.decode(&key.secret) else {
            problems.push(format!(
                "{key_path}.secret: Invalid value: \"REDACTED\": secrets must be base64 encoded"
            ));
            continue;
        };
        if !sizes.contains(&secret.len()) {
            problems.push(format!(
                "{key_path}.secret: Invalid value: \"REDACTED\": secret is not of the expected length, got {}, expected one of {sizes:?}",
                secret.len()
            ));
            continue;
        }
        material.push(KeyMaterial {
            name: key.name.clone(),
            secret,
        });
    }
    if material.len() != keys.keys.len() {
        return None;
    }
    Some(match name {
        "aesgcm" => Provider::aes_gcm(material),
        "aescbc" => Provider::aes_cbc(material),
        _ => Provider::secretbox(material),
    })
}
