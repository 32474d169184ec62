//! The EncryptionConfiguration that has the API server encrypt Secrets at rest.

use base64::Engine as _;

/// Secrets are written with AES-GCM under `key1`. `identity` comes second so that values written
/// before encryption was turned on can still be read, which is how the Kubernetes documentation
/// sets encryption up.
pub(crate) fn config(secret: &[u8; 32]) -> String {
    let secret = base64::engine::general_purpose::STANDARD.encode(secret);
    format!(
        "\
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
    providers:
      - aesgcm:
          keys:
            - name: key1
              secret: {secret}
      - identity: {{}}
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text() {
        let text = config(&[0; 32]);
        assert!(
            text.contains("            - name: key1\n              secret: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"),
            "{text}"
        );
        assert!(text.ends_with("      - identity: {}\n"), "{text}");
    }
}
