//! kubeconfig files with the certificates embedded, so one file is all a client needs.

use std::path::Path;

use base64::Engine as _;

use crate::error::Result;
use crate::files;

/// A kubeconfig for `user` (identified by the client certificate `cert` and key `key`) talking to
/// `server` (e.g. `https://192.168.49.254:8443`), which is trusted through the CA in `ca`.
///
/// The file has one cluster named `cluster`, one user named `user`, and one context named
/// `cluster` that joins them and is the current context. The PEM files are embedded base64
/// encoded (`certificate-authority-data`, `client-certificate-data`, `client-key-data`), as
/// `kubectl config set-cluster --embed-certs` writes them. Fails if a file cannot be read.
pub fn kubeconfig(
    server: &str,
    ca: &Path,
    cert: &Path,
    key: &Path,
    cluster: &str,
    user: &str,
) -> Result<String> {
    let embed = |path: &Path| -> Result<String> {
        let pem = files::read_to_string(path)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(pem))
    };
    let ca = embed(ca)?;
    let cert = embed(cert)?;
    let key = embed(key)?;
    Ok(render(server, &ca, &cert, &key, cluster, user))
}

/// The kubeconfig's text, from base64 data already encoded. Pure.
fn render(server: &str, ca: &str, cert: &str, key: &str, cluster: &str, user: &str) -> String {
    let server = quote(server);
    let cluster = quote(cluster);
    let user = quote(user);
    format!(
        "\
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: {ca}
    server: {server}
  name: {cluster}
contexts:
- context:
    cluster: {cluster}
    user: {user}
  name: {cluster}
current-context: {cluster}
preferences: {{}}
users:
- name: {user}
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
"
    )
}

/// A YAML double-quoted scalar, so that names such as `on`, `1.0` or `a: b` stay strings.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        let cases = [
            ("hakube", r#""hakube""#),
            ("on", r#""on""#),
            ("a: b", r#""a: b""#),
            (r#"say "hi""#, r#""say \"hi\"""#),
            (r"back\slash", r#""back\\slash""#),
            ("tab\there", r#""tab\u0009here""#),
        ];
        for (text, want) in cases {
            assert_eq!(quote(text), want);
        }
    }

    #[test]
    fn text() {
        let text = render(
            "https://127.0.0.1:8443",
            "Q0E=",
            "Q0VSVA==",
            "S0VZ",
            "hakube",
            "admin",
        );
        assert_eq!(
            text,
            r#"apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: "https://127.0.0.1:8443"
  name: "hakube"
contexts:
- context:
    cluster: "hakube"
    user: "admin"
  name: "hakube"
current-context: "hakube"
preferences: {}
users:
- name: "admin"
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
"#
        );
    }
}
