//! Encryption at rest: Kubernetes EncryptionConfiguration and its providers (aesgcm, aescbc, secretbox, identity).
//!
//! Values are stored exactly as kube-apiserver stores them, so a real kube-apiserver pointed at the
//! same etcd with the same configuration file reads them, and the other way round:
//!
//! - `k8s:enc:aesgcm:v1:<key>:` then a 12-byte random nonce and AES-GCM ciphertext with its tag,
//!   authenticated against the etcd key the value is stored under;
//! - `k8s:enc:aescbc:v1:<key>:` then a 16-byte random IV and AES-CBC ciphertext with PKCS#7 padding;
//! - `k8s:enc:secretbox:v1:<key>:` then a 24-byte random nonce and the NaCl secretbox (tag first);
//! - `identity` stores the plaintext unchanged.
//!
//! The first provider of the entry matching a resource writes; every provider of that entry can
//! read. A value read by any provider or key other than the first is reported as stale, so that
//! the caller rewrites it and key rotation converges ("existing values are rewritten when the
//! write key changes").

mod config;
mod provider;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;

use self::provider::Provider;

/// The prefix Kubernetes reserves for encrypted values; identity refuses to read such data.
const ENCRYPTED_PREFIX: &[u8] = b"k8s:enc:";

/// Why an encryption configuration or a value could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EncryptionError {
    /// The configuration file could not be read.
    #[error("error reading encryption provider configuration file {path:?}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is empty.
    #[error("encryption provider configuration file {0:?} is empty")]
    Empty(PathBuf),
    /// The configuration is not YAML or JSON of the EncryptionConfiguration shape.
    #[error("error decoding encryption provider configuration: {0}")]
    Decode(String),
    /// The configuration decoded but breaks a rule; one message per problem, with its field path.
    #[error("invalid encryption provider configuration: {}", .0.join("; "))]
    Invalid(Vec<String>),
    /// A value could not be encrypted (the system random source failed).
    #[error("failed to encrypt {resource}: {reason}")]
    Encrypt { resource: String, reason: String },
    /// No provider configured for the resource could read the stored value.
    #[error("failed to decrypt {resource} stored at {key}: {reason}")]
    Decrypt {
        resource: String,
        key: String,
        reason: String,
    },
}

/// Result of this module's operations.
pub type Result<T, E = EncryptionError> = std::result::Result<T, E>;

/// A group and resource as the configuration names them: `secrets` is `("", "secrets")`,
/// `deployments.apps` is `("apps", "deployments")`, `*.` is `("", "*")` and `*.*` is `("*", "*")`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct GroupResource {
    group: String,
    resource: String,
}

impl GroupResource {
    /// Splits at the first dot, as apimachinery's `ParseGroupResource` does.
    fn parse(text: &str) -> Self {
        match text.split_once('.') {
            Some((resource, group)) => GroupResource {
                group: group.to_string(),
                resource: resource.to_string(),
            },
            None => GroupResource {
                group: String::new(),
                resource: text.to_string(),
            },
        }
    }
}

impl fmt::Display for GroupResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            if self.resource == "*" {
                // The core-group wildcard is spelled `*.` in the configuration file.
                return f.write_str("*.");
            }
            return f.write_str(&self.resource);
        }
        write!(f, "{}.{}", self.resource, self.group)
    }
}

/// A loaded EncryptionConfiguration: for each configured group and resource, its providers in
/// order. Cloning is cheap; `Debug` shows provider and key names, never key material.
#[derive(Clone, Default)]
pub struct Encryption {
    providers: BTreeMap<GroupResource, Arc<[Provider]>>,
}

impl fmt::Debug for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (resource, providers) in &self.providers {
            let names: Vec<String> = providers.iter().map(Provider::describe).collect();
            map.entry(&resource.to_string(), &names);
        }
        map.finish()
    }
}

impl Encryption {
    /// Reads and validates the configuration file at `path` (YAML or JSON).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| EncryptionError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if text.trim().is_empty() {
            return Err(EncryptionError::Empty(path.to_path_buf()));
        }
        Self::from_yaml(&text)
    }

    /// Parses and validates a configuration given as text; JSON is valid YAML, so both work.
    pub fn from_yaml(text: &str) -> Result<Self> {
        let entries = config::parse(text)?;
        let mut providers: BTreeMap<GroupResource, Vec<Provider>> = BTreeMap::new();
        for entry in entries {
            for resource in entry.resources {
                // Kubernetes refuses a rule that an earlier wildcard rule would hide.
                let in_group = GroupResource {
                    group: resource.group.clone(),
                    resource: "*".into(),
                };
                let any = GroupResource {
                    group: "*".into(),
                    resource: "*".into(),
                };
                for mask in [in_group, any] {
                    if providers.contains_key(&mask) {
                        return Err(EncryptionError::Invalid(vec![format!(
                            "resource {:?} is masked by earlier rule {:?}",
                            resource.to_string(),
                            mask.to_string()
                        )]));
                    }
                }
                // A resource named in several entries gets the providers of all of them, in order.
                providers
                    .entry(resource)
                    .or_default()
                    .extend(entry.providers.iter().cloned());
            }
        }
        Ok(Encryption {
            providers: providers
                .into_iter()
                .map(|(resource, list)| (resource, Arc::from(list)))
                .collect(),
        })
    }

    /// A configuration that encrypts nothing: every value is stored as it is.
    pub fn identity() -> Self {
        Encryption::default()
    }

    /// The providers for `resource`: the exact entry, else `*.<group>`, else `*.*`; `None` means
    /// identity, as kube-apiserver does for resources the configuration does not name.
    fn providers_for(&self, resource: &str) -> Option<&[Provider]> {
        let wanted = GroupResource::parse(resource);
        let candidates = [
            wanted.clone(),
            GroupResource {
                group: wanted.group.clone(),
                resource: "*".into(),
            },
            GroupResource {
                group: "*".into(),
                resource: "*".into(),
            },
        ];
        candidates
            .iter()
            .find_map(|candidate| self.providers.get(candidate))
            .map(|list| &list[..])
    }

    /// Whether values of `resource` (`secrets`, `deployments.apps`) are written encrypted.
    pub fn encrypts(&self, resource: &str) -> bool {
        self.providers_for(resource)
            .and_then(|list| list.first())
            .is_some_and(|first| !matches!(first, Provider::Identity))
    }

    /// Bytes to store under etcd key `key` for `resource` (first provider of the matching entry writes).
    pub fn encrypt(&self, resource: &str, key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let Some(first) = self.providers_for(resource).and_then(|list| list.first()) else {
            return Ok(plaintext.to_vec());
        };
        first
            .encrypt(key, plaintext)
            .map_err(|reason| EncryptionError::Encrypt {
                resource: resource.to_string(),
                reason,
            })
    }

    /// Plaintext of a stored value, and whether it should be rewritten because it was not written by the current write provider/key (key rotation: "existing values are rewritten when the write key changes").
    pub fn decrypt(&self, resource: &str, key: &[u8], stored: &[u8]) -> Result<(Vec<u8>, bool)> {
        let fail = |reason: String| EncryptionError::Decrypt {
            resource: resource.to_string(),
            key: String::from_utf8_lossy(key).into_owned(),
            reason,
        };
        let Some(providers) = self.providers_for(resource) else {
            if stored.starts_with(ENCRYPTED_PREFIX) {
                return Err(fail(
                    "identity transformer tried to read encrypted data; no encryption provider is configured for this resource".into(),
                ));
            }
            return Ok((stored.to_vec(), false));
        };
        let mut errors = Vec::new();
        for (index, provider) in providers.iter().enumerate() {
            match provider.decrypt(key, stored) {
                provider::Outcome::NotMine => {}
                provider::Outcome::Read {
                    plaintext,
                    key_index,
                } => {
                    return Ok((plaintext, index != 0 || key_index != 0));
                }
                provider::Outcome::Failed(reason) => errors.push(reason),
            }
        }
        if errors.is_empty() {
            let seen = describe_prefix(stored);
            let known: Vec<String> = providers.iter().map(Provider::describe).collect();
            return Err(fail(format!(
                "no matching prefix found: the value starts with {seen}, and the configured providers are [{}]",
                known.join(", ")
            )));
        }
        Err(fail(errors.join("; ")))
    }
}

/// What a stored value looks like, for error messages, without echoing ciphertext.
fn describe_prefix(stored: &[u8]) -> String {
    if stored.starts_with(ENCRYPTED_PREFIX) {
        // k8s:enc:<provider>:v1:<key>: is text; show it up to the key name's colon.
        let text = String::from_utf8_lossy(&stored[..stored.len().min(80)]).into_owned();
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let shown = parts[..parts.len().min(5)].join(":");
        return format!("{shown:?}");
    }
    if stored.first() == Some(&b'{') {
        return "unencrypted JSON".into();
    }
    "unencrypted data".into()
}

/// The configuration `hakube start` writes: secrets encrypted with AES-GCM under one 32-byte key,
/// with identity as a reader so that values written before encryption was on stay readable (and
/// are rewritten encrypted on their next update).
pub fn default_config_yaml(key_name: &str, secret: &[u8; 32]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
    // A JSON string is a valid YAML scalar, so it quotes any key name safely.
    let name = serde_json::Value::from(key_name).to_string();
    format!(
        "apiVersion: apiserver.config.k8s.io/v1\n\
         kind: EncryptionConfiguration\n\
         resources:\n\
         \x20 - resources:\n\
         \x20     - secrets\n\
         \x20   providers:\n\
         \x20     - aesgcm:\n\
         \x20         keys:\n\
         \x20           - name: {name}\n\
         \x20             secret: {encoded}\n\
         \x20     - identity: {{}}\n"
    )
}
