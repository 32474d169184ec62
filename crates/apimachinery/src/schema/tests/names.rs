//! Name formats and generated names.

use crate::schema::names::{
    NAME_SUFFIX_ALPHABET, generate_name, is_config_map_key, is_dns1035_label, is_dns1123_label,
    is_dns1123_subdomain, is_label_value, is_qualified_name, is_valid_path_segment_name,
    is_valid_port_name, name_is_dns_subdomain, name_suffix,
};

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

#[test]
fn generated_names_fit_a_label() {
    assert_eq!(generate_name("hello-", "x7k2q"), "hello-x7k2q");
    let long = "a".repeat(80);
    let name = generate_name(&long, "bcdfg");
    assert_eq!(name.len(), 63);
    assert!(name.ends_with("bcdfg"));
    let suffix = name_suffix([0, 1, 26, 27, 255]);
    assert_eq!(suffix.len(), 5);
    assert!(suffix.chars().all(|c| NAME_SUFFIX_ALPHABET.contains(c)));
    assert_eq!(&suffix[..3], "bc9");
}

#[test]
fn formats_and_their_messages() {
    type Check = fn(&str) -> Vec<String>;
    let cases: &[(Check, &str, &[&str])] = &[
        (is_dns1123_subdomain, "hello.example.com", &[]),
        (is_dns1123_subdomain, "Hello", &[SUBDOMAIN_MSG]),
        (is_dns1123_subdomain, "hello-", &[SUBDOMAIN_MSG]),
        (is_dns1123_label, "kube-system", &[]),
        (is_dns1123_label, "a.b", &["must not contain dots"]),
        (is_dns1123_label, "a_b", &[LABEL_MSG]),
        (is_dns1035_label, "1abc", &[DNS1035_MSG]),
        (is_dns1035_label, "web", &[]),
        (is_qualified_name, "app.kubernetes.io/name", &[]),
        (is_qualified_name, "bad key", &[QUALIFIED_MSG]),
        (is_qualified_name, "/x", &["prefix part must be non-empty"]),
        (is_label_value, "", &[]),
        (is_label_value, "v1.2_3", &[]),
        (is_config_map_key, "..data", &["must not start with '..'"]),
        (is_valid_path_segment_name, "system:admin", &[]),
        (is_valid_path_segment_name, "..", &["may not be '..'"]),
        (
            is_valid_path_segment_name,
            "a/b%",
            &["may not contain '/'", "may not contain '%'"],
        ),
        (is_valid_port_name, "http", &[]),
        (
            is_valid_port_name,
            "80",
            &["must contain at least one letter (a-z)"],
        ),
    ];
    for (check, value, expected) in cases {
        assert_eq!(check(value), *expected, "{value:?}");
    }
    assert_eq!(
        is_dns1123_label(&"a".repeat(64)),
        vec!["must be no more than 63 characters".to_string()]
    );
}

#[test]
fn generate_name_prefixes_may_end_in_a_dash() {
    assert!(name_is_dns_subdomain("web-", true).is_empty());
    assert_eq!(
        name_is_dns_subdomain("web-", false),
        vec![SUBDOMAIN_MSG.to_string()]
    );
}
