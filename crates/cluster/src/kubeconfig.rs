//! Merging a profile's context into the user's kubeconfig (`$KUBECONFIG`'s first file, or
//! `~/.kube/config`), as minikube does: a cluster, a user and a context all named after the
//! profile, the server at the VIP, and the context made current. The edits are pure functions
//! over the file's text; only `path`, `read` and `write` touch the disk.

use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use crate::error::{Error, Result};

/// The file kubectl reads first: the first entry of `$KUBECONFIG`, or `~/.kube/config`.
pub fn path() -> Result<PathBuf> {
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty())
        && let Some(first) = std::env::split_paths(&list).find(|p| !p.as_os_str().is_empty())
    {
        return Ok(first);
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".kube").join("config")),
        None => Err(Error::Invalid(
            "neither KUBECONFIG nor HOME is set; set KUBECONFIG to the kubeconfig file to update"
                .into(),
        )),
    }
}

/// Reads the kubeconfig, or an empty text if it does not exist yet.
pub fn read(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Error::io(path)(e)),
    }
}

/// Writes it through a temp file and a rename, so kubectl never reads half a file; the file
/// holds paths to keys, and is kept private as kubectl keeps it.
pub fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    }
    let tmp = path.with_extension("hakube.tmp");
    std::fs::write(&tmp, text).map_err(Error::io(&tmp))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .map_err(Error::io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(Error::io(path))
}

/// What a profile's entry holds.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub server: &'a str,
    pub ca: &'a Path,
    pub cert: &'a Path,
    pub key: &'a Path,
}

/// Adds or replaces the profile's cluster, user and context, and makes the context current.
pub fn merge(existing: &str, entry: &Entry<'_>) -> Result<String> {
    let mut doc = parse(existing)?;
    let cluster = map([
        ("certificate-authority", path_value(entry.ca)),
        ("server", Value::from(entry.server)),
    ]);
    let user = map([
        ("client-certificate", path_value(entry.cert)),
        ("client-key", path_value(entry.key)),
    ]);
    let context = map([
        ("cluster", Value::from(entry.name)),
        ("namespace", Value::from("default")),
        ("user", Value::from(entry.name)),
    ]);
    upsert(&mut doc, "clusters", "cluster", entry.name, cluster);
    upsert(&mut doc, "users", "user", entry.name, user);
    upsert(&mut doc, "contexts", "context", entry.name, context);
    doc.insert("current-context".into(), entry.name.into());
    render(doc)
}

/// Removes the profile's cluster, user and context; a current context that was the profile's
/// is cleared, as `minikube delete` leaves it.
pub fn remove(existing: &str, name: &str) -> Result<String> {
    let mut doc = parse(existing)?;
    for list in ["clusters", "users", "contexts"] {
        if let Some(Value::Sequence(items)) = doc.get_mut(list) {
            items.retain(|item| item.get("name").and_then(Value::as_str) != Some(name));
        }
    }
    if doc.get("current-context").and_then(Value::as_str) == Some(name) {
        doc.insert("current-context".into(), "".into());
    }
    render(doc)
}

/// The server of the profile's context, if the kubeconfig has one (`status` shows
/// `kubeconfig: Configured` when it is the VIP).
pub fn context_server(existing: &str, name: &str) -> Option<String> {
    let doc = parse(existing).ok()?;
    let named = |list: &str, item: &str| -> Option<Value> {
        doc.get(list)?
            .as_sequence()?
            .iter()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(name))?
            .get(item)
            .cloned()
    };
    let context = named("contexts", "context")?;
    let cluster_name = context.get("cluster")?.as_str()?.to_string();
    let cluster = doc
        .get("clusters")?
        .as_sequence()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(cluster_name.as_str()))?
        .get("cluster")?
        .clone();
    cluster.get("server")?.as_str().map(str::to_string)
}

fn parse(text: &str) -> Result<Mapping> {
    if text.trim().is_empty() {
        return Ok(map([
            ("apiVersion", Value::from("v1")),
            ("kind", Value::from("Config")),
            ("preferences", Value::Mapping(Mapping::new())),
            ("clusters", Value::Sequence(Vec::new())),
            ("contexts", Value::Sequence(Vec::new())),
            ("users", Value::Sequence(Vec::new())),
            ("current-context", Value::from("")),
        ]));
    }
    match serde_yaml_ng::from_str::<Value>(text) {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(_) => Err(Error::Invalid(
            "the kubeconfig is not a YAML mapping; fix or move it".into(),
        )),
        Err(e) => Err(Error::Invalid(format!(
            "the kubeconfig is not valid YAML ({e}); fix or move it"
        ))),
    }
}

fn render(doc: Mapping) -> Result<String> {
    serde_yaml_ng::to_string(&Value::Mapping(doc))
        .map_err(|e| Error::Invalid(format!("cannot write the kubeconfig: {e}")))
}

fn map<const N: usize>(pairs: [(&str, Value); N]) -> Mapping {
    pairs
        .into_iter()
        .map(|(k, v)| (Value::from(k), v))
        .collect()
}

fn path_value(path: &Path) -> Value {
    Value::from(path.to_string_lossy().into_owned())
}

/// Replaces the item named `name` in list `list` (or appends it), keeping the others in order.
fn upsert(doc: &mut Mapping, list: &str, field: &str, name: &str, body: Mapping) {
    let item = Value::Mapping(map([
        (field, Value::Mapping(body)),
        ("name", Value::from(name)),
    ]));
    let entry = doc
        .entry(list.into())
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if !entry.is_sequence() {
        *entry = Value::Sequence(Vec::new());
    }
    if let Value::Sequence(items) = entry {
        match items
            .iter_mut()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(name))
        {
            Some(existing) => *existing = item,
            None => items.push(item),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> Entry<'_> {
        Entry {
            name,
            server: "https://127.0.49.254:8443",
            ca: Path::new("/h/profiles/x/pki/ca.crt"),
            cert: Path::new("/h/profiles/x/pki/admin.crt"),
            key: Path::new("/h/profiles/x/pki/admin.key"),
        }
    }

    #[test]
    fn merges_into_an_empty_file() {
        let text = merge("", &entry("ha-demo")).unwrap();
        let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(doc["current-context"].as_str(), Some("ha-demo"));
        assert_eq!(doc["kind"].as_str(), Some("Config"));
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"].as_str(),
            Some("https://127.0.49.254:8443")
        );
        assert_eq!(
            doc["contexts"][0]["context"]["user"].as_str(),
            Some("ha-demo")
        );
        assert_eq!(
            context_server(&text, "ha-demo").as_deref(),
            Some("https://127.0.49.254:8443")
        );
    }

    #[test]
    fn keeps_other_entries_and_replaces_its_own() {
        let other = "apiVersion: v1\nkind: Config\nclusters:\n- name: kind\n  cluster:\n    server: https://1.2.3.4\ncontexts:\n- name: kind\n  context:\n    cluster: kind\n    user: kind\nusers:\n- name: kind\n  user:\n    token: t\ncurrent-context: kind\n";
        let once = merge(other, &entry("a")).unwrap();
        let twice = merge(&once, &entry("a")).unwrap();
        assert_eq!(once, twice, "merging twice changes nothing");
        let doc: Value = serde_yaml_ng::from_str(&twice).unwrap();
        assert_eq!(doc["clusters"].as_sequence().unwrap().len(), 2);
        assert_eq!(
            context_server(&twice, "kind").as_deref(),
            Some("https://1.2.3.4")
        );
        let removed = remove(&twice, "a").unwrap();
        let doc: Value = serde_yaml_ng::from_str(&removed).unwrap();
        assert_eq!(doc["clusters"].as_sequence().unwrap().len(), 1);
        assert_eq!(doc["current-context"].as_str(), Some(""));
        assert_eq!(context_server(&removed, "a"), None);
    }

    #[test]
    fn refuses_what_is_not_a_kubeconfig() {
        assert!(merge("- a\n- b\n", &entry("a")).is_err());
        assert!(merge("a: [", &entry("a")).is_err());
    }
}
