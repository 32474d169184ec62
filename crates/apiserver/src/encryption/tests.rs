//! Tests for encryption at rest: formats, rotation, fallbacks and configuration errors.

use base64::Engine as _;

use super::*;

const KEY16: &str = "AAECAwQFBgcICQoLDA0ODw==";
const KEY24: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";
const KEY32: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const OTHER32: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
const ETCD_KEY: &[u8] = b"/registry/secrets/default/s1";
const PLAINTEXT: &[u8] = br#"{"kind":"Secret","apiVersion":"v1"}"#;

fn b64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// A configuration for `secrets` with the given providers, each a YAML flow mapping.
fn config(providers: &[&str]) -> Encryption {
    let yaml = format!(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers: [{}]\n",
        providers.join(", ")
    );
    Encryption::from_yaml(&yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
}

fn keyed(provider: &str, keys: &[(&str, &str)]) -> String {
    let keys: Vec<String> = keys
        .iter()
        .map(|(name, secret)| format!("{{name: {name}, secret: \"{secret}\"}}"))
        .collect();
    format!("{{{provider}: {{keys: [{}]}}}}", keys.join(", "))
}

#[test]
fn round_trip_per_provider() {
    // (provider, key, prefix, bytes between prefix and ciphertext, overhead after the plaintext)
    let cases = [
        ("aesgcm", KEY16, "k8s:enc:aesgcm:v1:key1:", 12, 16),
        ("aesgcm", KEY24, "k8s:enc:aesgcm:v1:key1:", 12, 16),
        ("aesgcm", KEY32, "k8s:enc:aesgcm:v1:key1:", 12, 16),
        ("aescbc", KEY16, "k8s:enc:aescbc:v1:key1:", 16, 13),
        ("aescbc", KEY24, "k8s:enc:aescbc:v1:key1:", 16, 13),
        ("aescbc", KEY32, "k8s:enc:aescbc:v1:key1:", 16, 13),
        ("secretbox", KEY32, "k8s:enc:secretbox:v1:key1:", 24, 16),
    ];
    for (provider, key, prefix, header, overhead) in cases {
        let enc = config(&[&keyed(provider, &[("key1", key)])]);
        assert!(enc.encrypts("secrets"));
        let stored = enc.encrypt("secrets", ETCD_KEY, PLAINTEXT).unwrap();
        assert!(
            stored.starts_with(prefix.as_bytes()),
            "{provider}: {stored:?}"
        );
        // 35 bytes of plaintext: CBC pads to 48, so 13 bytes of padding.
        assert_eq!(
            stored.len(),
            prefix.len() + header + PLAINTEXT.len() + overhead,
            "{provider} with a {}-byte key",
            b64(key).len()
        );
        assert!(!stored.windows(PLAINTEXT.len()).any(|w| w == PLAINTEXT));
        let (plain, stale) = enc.decrypt("secrets", ETCD_KEY, &stored).unwrap();
        assert_eq!((plain.as_slice(), stale), (PLAINTEXT, false), "{provider}");
        // Two writes of the same value differ: every write draws a fresh nonce or IV.
        assert_ne!(stored, enc.encrypt("secrets", ETCD_KEY, PLAINTEXT).unwrap());
    }
}

/// Values written by other implementations (Python's cryptography and libsodium, which agree
/// with Go's crypto/cipher and nacl/secretbox) in kube-apiserver's layout.
#[test]
fn reads_values_written_elsewhere() {
    let cases = [
        (
            keyed("aesgcm", &[("key1", KEY32)]),
            "azhzOmVuYzphZXNnY206djE6a2V5MTpkZWZnaGlqa2xtbm8zObUPF410pBwxOouoAB7fbuBneuI6lgDUuMMm2ZmHPqXLPVNTGst9OpQwUlAKYn7bIFA=",
        ),
        (
            keyed("aesgcm", &[("key1", KEY24)]),
            "azhzOmVuYzphZXNnY206djE6a2V5MTpkZWZnaGlqa2xtbm+SStAVPMssAvGCh2KIl++c8Xs/upPfFJ3yKieklFS6Nmt2eqrC6w1DR8cFMo6SneXHYNA=",
        ),
        (
            keyed("aescbc", &[("key1", KEY32)]),
            "azhzOmVuYzphZXNjYmM6djE6a2V5MTrIycrLzM3Oz9DR0tPU1dbXB9Fv5nNdmLeLaruI423omFYP+qUlGdMISoHlslSrmTW5HCksrxljC6jXmiv0dfti",
        ),
        (
            keyed("secretbox", &[("key1", KEY32)]),
            "azhzOmVuYzpzZWNyZXRib3g6djE6a2V5MToyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSEnMH/rbnmxHDyLcx12A+8xCVSY6l5ev0FxABGTJ0v22VAgkLEjmtB9J6PCzmsk0zVUfSn0=",
        ),
    ];
    for (provider, stored) in cases {
        let enc = config(&[&provider]);
        let (plain, stale) = enc.decrypt("secrets", ETCD_KEY, &b64(stored)).unwrap();
        assert_eq!((plain.as_slice(), stale), (PLAINTEXT, false), "{provider}");
    }
}

#[test]
fn aesgcm_binds_the_value_to_its_etcd_key() {
    let elsewhere = b"/registry/secrets/default/s2";
    // (provider, whether a value copied to another etcd key still decrypts)
    let cases = [
        (keyed("aesgcm", &[("k", KEY32)]), false),
        (keyed("aescbc", &[("k", KEY32)]), true),
        (keyed("secretbox", &[("k", KEY32)]), true),
    ];
    for (provider, movable) in cases {
        let enc = config(&[&provider]);
        let stored = enc.encrypt("secrets", ETCD_KEY, PLAINTEXT).unwrap();
        let moved = enc.decrypt("secrets", elsewhere, &stored);
        assert_eq!(moved.is_ok(), movable, "{provider}: {moved:?}");
        if let Err(e) = moved {
            let text = e.to_string();
            assert!(text.contains("message authentication failed"), "{text}");
            assert!(text.contains("/registry/secrets/default/s2"), "{text}");
        }
    }
}

#[test]
fn rotation_marks_values_from_older_keys_and_providers_stale() {
    let gcm1 = keyed("aesgcm", &[("key1", KEY32)]);
    let written = config(&[&gcm1])
        .encrypt("secrets", ETCD_KEY, PLAINTEXT)
        .unwrap();
    // (reader configuration, expected stale flag)
    let cases = [
        (vec![gcm1.clone()], false),
        (
            vec![keyed("aesgcm", &[("key2", OTHER32), ("key1", KEY32)])],
            true,
        ),
        (
            vec![keyed("aescbc", &[("key9", OTHER32)]), gcm1.clone()],
            true,
        ),
        (vec!["{identity: {}}".to_string(), gcm1.clone()], true),
        (vec![gcm1.clone(), "{identity: {}}".to_string()], false),
    ];
    for (providers, stale) in cases {
        let refs: Vec<&str> = providers.iter().map(String::as_str).collect();
        let (plain, got) = config(&refs)
            .decrypt("secrets", ETCD_KEY, &written)
            .unwrap();
        assert_eq!((plain.as_slice(), got), (PLAINTEXT, stale), "{providers:?}");
    }
}

#[test]
fn identity_reads_plaintext_and_refuses_encrypted_values() {
    let gcm = keyed("aesgcm", &[("key1", KEY32)]);
    let encrypted = config(&[&gcm])
        .encrypt("secrets", ETCD_KEY, PLAINTEXT)
        .unwrap();
    /// Plaintext and stale flag, or a piece of the error message.
    type Want<'a> = Result<(&'a [u8], bool), &'a str>;
    // (configuration, resource, stored value, expected outcome)
    let cases: Vec<(Encryption, &str, &[u8], Want)> = vec![
        (
            Encryption::identity(),
            "secrets",
            PLAINTEXT,
            Ok((PLAINTEXT, false)),
        ),
        (
            Encryption::identity(),
            "secrets",
            &encrypted,
            Err("identity transformer tried to read encrypted data"),
        ),
        (
            config(&[&gcm]),
            "configmaps",
            PLAINTEXT,
            Ok((PLAINTEXT, false)),
        ),
        (
            config(&[&gcm, "{identity: {}}"]),
            "secrets",
            PLAINTEXT,
            Ok((PLAINTEXT, true)),
        ),
        (
            config(&["{identity: {}}", &gcm]),
            "secrets",
            PLAINTEXT,
            Ok((PLAINTEXT, false)),
        ),
        (
            config(&[&gcm]),
            "secrets",
            PLAINTEXT,
            Err("no matching prefix found: the value starts with unencrypted JSON"),
        ),
        (
            config(&[&keyed("aesgcm", &[("key2", OTHER32)])]),
            "secrets",
            &encrypted,
            Err(
                "no matching key was found for the provided aesgcm transformer: the value was written with key \"key1\"",
            ),
        ),
        (
            config(&[&keyed("secretbox", &[("key1", KEY32)])]),
            "secrets",
            &encrypted,
            Err("configured providers are [secretbox[key1]]"),
        ),
    ];
    for (enc, resource, stored, want) in cases {
        let got = enc.decrypt(resource, ETCD_KEY, stored);
        match (want, got) {
            (Ok((plain, stale)), Ok((got_plain, got_stale))) => {
                assert_eq!((got_plain.as_slice(), got_stale), (plain, stale), "{enc:?}")
            }
            (Err(text), Err(e)) => assert!(e.to_string().contains(text), "{e}"),
            (want, got) => panic!("{enc:?}: want {want:?}, got {got:?}"),
        }
    }
    // Unconfigured resources and identity-first entries write plaintext.
    let enc = config(&["{identity: {}}", &gcm]);
    assert!(!enc.encrypts("secrets"));
    assert_eq!(
        enc.encrypt("secrets", ETCD_KEY, PLAINTEXT).unwrap(),
        PLAINTEXT
    );
    assert_eq!(
        config(&[&gcm])
            .encrypt("configmaps", ETCD_KEY, PLAINTEXT)
            .unwrap(),
        PLAINTEXT
    );
}

#[test]
fn resources_match_exactly_then_by_group_wildcard_then_everything() {
    let gcm = keyed("aesgcm", &[("key1", KEY32)]);
    let cbc = keyed("aescbc", &[("key2", KEY32)]);
    let yaml = format!(
        "apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets, deployments.apps]
  providers: [{gcm}]
- resources: ['*.apps', '*.']
  providers: [{cbc}]
- resources: ['*.*']
  providers: [{{secretbox: {{keys: [{{name: key3, secret: {KEY32}}}]}}}}]
"
    );
    let enc = Encryption::from_yaml(&yaml).unwrap();
    let cases = [
        ("secrets", "k8s:enc:aesgcm:v1:key1:"),
        ("deployments.apps", "k8s:enc:aesgcm:v1:key1:"),
        ("statefulsets.apps", "k8s:enc:aescbc:v1:key2:"),
        ("configmaps", "k8s:enc:aescbc:v1:key2:"),
        ("leases.coordination.k8s.io", "k8s:enc:secretbox:v1:key3:"),
    ];
    for (resource, prefix) in cases {
        assert!(enc.encrypts(resource), "{resource}");
        let stored = enc.encrypt(resource, ETCD_KEY, PLAINTEXT).unwrap();
        assert!(stored.starts_with(prefix.as_bytes()), "{resource}");
    }
}

#[test]
fn bad_configurations_are_rejected_with_a_clear_message() {
    let head = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n";
    let with = |entries: &str| format!("{head}resources:\n{entries}");
    let cases = [
        (
            "resources: [",
            "error decoding encryption provider configuration",
        ),
        (
            "apiVersion: v1\nkind: EncryptionConfig\nresources: []\n",
            "expected apiVersion \"apiserver.config.k8s.io/v1\" and kind \"EncryptionConfiguration\"",
        ),
        (
            &format!("{head}resources: []\n"),
            "at least one resources is required",
        ),
        (
            &with("- resources: [secrets]\n  providers: [{aesgcmm: {keys: []}}]\n"),
            "unknown field `aesgcmm`",
        ),
        (
            &with("- resources: [secrets]\n  providers: []\n"),
            "resources[0].providers: Required value",
        ),
        (
            &with("- resources: []\n  providers: [{identity: {}}]\n"),
            "resources[0].resources: Required value",
        ),
        (
            &with(
                "- resources: [secrets]\n  providers: [{aesgcm: {keys: [{name: k, secret: 'not base64!'}]}}]\n",
            ),
            "resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: \"REDACTED\": secrets must be base64 encoded",
        ),
        (
            &with(
                "- resources: [secrets]\n  providers: [{aescbc: {keys: [{name: k, secret: 'AAECAwQ='}]}}]\n",
            ),
            "secret is not of the expected length, got 5, expected one of [16, 24, 32]",
        ),
        (
            &with(&format!(
                "- resources: [secrets]\n  providers: [{{secretbox: {{keys: [{{name: k, secret: '{KEY16}'}}]}}}}]\n"
            )),
            "secret is not of the expected length, got 16, expected one of [32]",
        ),
        (
            &with("- resources: [secrets]\n  providers: [{aesgcm: {keys: []}}]\n"),
            "resources[0].providers[0].aesgcm.keys: Required value: at least one keys is required",
        ),
        (
            &with(&format!(
                "- resources: [secrets]\n  providers: [{{aesgcm: {{keys: [{{secret: '{KEY32}'}}]}}}}]\n"
            )),
            "keys[0].name: Required value: name is a mandatory field for a key",
        ),
        (
            &with("- resources: [secrets]\n  providers: [{identity: {}, aesgcm: {keys: []}}]\n"),
            "more than one provider specified in a single element",
        ),
        (
            &with("- resources: [secrets]\n  providers: [{}]\n"),
            "provider does not contain any of the expected providers",
        ),
        (
            &with(
                "- resources: [secrets]\n  providers: [{kms: {apiVersion: v2, name: x, endpoint: 'unix:///kms.sock'}}]\n",
            ),
            "KMS providers need an external plugin, which hakube does not run",
        ),
        (
            &with("- resources: [Secrets]\n  providers: [{identity: {}}]\n"),
            "resource name should not contain capital letters",
        ),
        (
            &with("- resources: ['*']\n  providers: [{identity: {}}]\n"),
            "use '*.' to encrypt all the resources from core API group",
        ),
        (
            &with("- resources: [secrets, '*.']\n  providers: [{identity: {}}]\n"),
            "using overlapping resources such as 'secrets' and '*.'",
        ),
        (
            &with("- resources: [secrets, secrets]\n  providers: [{identity: {}}]\n"),
            "the same resource cannot be specified multiple times",
        ),
        (
            &with("- resources: [events.events.k8s.io]\n  providers: [{identity: {}}]\n"),
            "Use 'events' instead",
        ),
        (
            &with(
                "- resources: ['*.*']\n  providers: [{identity: {}}]\n- resources: [secrets]\n  providers: [{identity: {}}]\n",
            ),
            "resource \"secrets\" is masked by earlier rule \"*.*\"",
        ),
        (
            &with(
                "- resources: ['*.']\n  providers: [{identity: {}}]\n- resources: [configmaps]\n  providers: [{identity: {}}]\n",
            ),
            "resource \"configmaps\" is masked by earlier rule \"*.\"",
        ),
    ];
    for (yaml, want) in cases {
        let err = Encryption::from_yaml(yaml).expect_err(yaml);
        let text = err.to_string();
        assert!(text.contains(want), "{yaml}\n=> {text}\nwant {want}");
        assert!(!text.contains(KEY32) && !text.contains(KEY16), "{text}");
    }
}

#[test]
fn json_configurations_are_accepted() {
    let json = format!(
        r#"{{"apiVersion":"apiserver.config.k8s.io/v1","kind":"EncryptionConfiguration","resources":[{{"resources":["secrets"],"providers":[{{"secretbox":{{"keys":[{{"name":"k","secret":"{KEY32}"}}]}}}},{{"identity":{{}}}}]}}]}}"#
    );
    let enc = Encryption::from_yaml(&json).unwrap();
    assert!(enc.encrypts("secrets"));
}

#[test]
fn debug_names_providers_but_never_key_material() {
    let enc = config(&[
        &keyed("aesgcm", &[("key1", KEY32), ("old", OTHER32)]),
        "{identity: {}}",
    ]);
    let text = format!("{enc:?}");
    assert_eq!(text, r#"{"secrets": ["aesgcm[key1,old]", "identity"]}"#);
}

#[test]
fn default_config_encrypts_secrets_with_aesgcm_and_reads_plaintext() {
    let secret = [7u8; 32];
    let yaml = default_config_yaml("key-2024", &secret);
    let enc = Encryption::from_yaml(&yaml).unwrap();
    assert!(enc.encrypts("secrets"));
    assert!(!enc.encrypts("configmaps"));
    let stored = enc.encrypt("secrets", ETCD_KEY, PLAINTEXT).unwrap();
    assert!(stored.starts_with(b"k8s:enc:aesgcm:v1:key-2024:"));
    assert_eq!(
        enc.decrypt("secrets", ETCD_KEY, PLAINTEXT).unwrap(),
        (PLAINTEXT.to_vec(), true)
    );
}

#[test]
fn load_reads_a_file_and_names_it_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("encryption.yaml");
    std::fs::write(&path, default_config_yaml("k", &[1u8; 32])).unwrap();
    assert!(Encryption::load(&path).unwrap().encrypts("secrets"));

    std::fs::write(&path, "").unwrap();
    let err = Encryption::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("is empty") && err.contains("encryption.yaml"),
        "{err}"
    );

    let err = Encryption::load(&dir.path().join("missing.yaml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.yaml"), "{err}");
}
