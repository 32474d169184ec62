//! Table tests for label selectors: parsing (canonical text or kube's error), conversion from
//! `metav1.LabelSelector`, and matching.

use std::collections::BTreeMap;

use serde_json::json;

use super::{LabelSelector, label_key_errors, label_value_errors};

/// kube's rule text for a label key's name part and for a label value.
const NAME_RULE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must \
     start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', \
     regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const VALUE_RULE: &str = "a valid label must be an empty string or consist of alphanumeric \
     characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. \
     'MyValue',  or 'my_value',  or '12345', regex used for validation is \
     '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const PREFIX_RULE: &str = r"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

#[test]
fn parses_to_kubes_canonical_form() {
    let cases = [
        ("", ""),
        ("a=b", "a=b"),
        ("a==b", "a==b"),
        ("a!=b", "a!=b"),
        (" a = b , c ", "a=b,c"),
        ("b=1,a=2", "a=2,b=1"),
        ("x in (b,a,a)", "x in (a,b)"),
        ("x notin (a)", "x notin (a)"),
        ("!x,y", "!x,y"),
        ("a=", "a="),
        ("a in ()", "a in ()"),
        ("a in (,b)", "a in (,b)"),
        ("a>5,b<10", "a>5,b<10"),
        ("example.com/app=web", "example.com/app=web"),
        // `in` is only a keyword where an operator is expected.
        ("in=in", "in=in"),
        ("a in (in,notin)", "a in (in,notin)"),
    ];
    for (input, want) in cases {
        let got = LabelSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(got.to_string(), want, "{input:?}");
    }
}

#[test]
fn refuses_bad_selectors_with_kubes_messages() {
    let long_key = "k".repeat(64);
    let cases: Vec<(&str, String)> = vec![
        ("a=b c", "found 'c', expected: ',' or 'end of string'".into()),
        ("a,", "found '', expected: identifier after ','".into()),
        ("=a", "found '=', expected: !, identifier, or 'end of string'".into()),
        (
            "a b",
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt".into(),
        ),
        ("a in b", "unable to parse requirement: found 'b' expected: '('".into()),
        (
            "a in (b c)",
            "unable to parse requirement: found 'c', expected: ',' or ')'".into(),
        ),
        (
            "a in (",
            "unable to parse requirement: found '', expected: ',', ')' or identifier".into(),
        ),
        ("a=(b)", "unable to parse requirement: found '(', expected: identifier".into()),
        ("!", "unable to parse requirement: found '', expected: identifier".into()),
        (
            "!a=b",
            "found '=', expected: ',' or 'end of string'".into(),
        ),
        (
            "-a=b",
            format!("unable to parse requirement: <nil>: Invalid value: \"-a\": name part {NAME_RULE}"),
        ),
        (
            "/a",
            "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be non-empty"
                .into(),
        ),
        (
            "Example.com/a",
            format!(
                "unable to parse requirement: <nil>: Invalid value: \"Example.com/a\": prefix part {PREFIX_RULE}"
            ),
        ),
        (
            "a/b/c",
            format!(
                "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name {NAME_RULE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ),
        ),
        (
            long_key.as_str(),
            format!(
                "unable to parse requirement: <nil>: Invalid value: \"{long_key}\": name part must be no more than 63 characters"
            ),
        ),
        (
            "a=b@",
            format!("unable to parse requirement: values[0][a]: Invalid value: \"b@\": {VALUE_RULE}"),
        ),
        (
            "a>b",
            "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer".into(),
        ),
    ];
    for (input, want) in cases {
        let err = LabelSelector::parse(input).expect_err(input);
        assert_eq!(err.to_string(), want, "{input:?}");
    }
}

#[test]
fn converts_metav1_label_selectors() {
    let cases = [
        (json!({}), Ok("")),
        (json!({"matchLabels": {"app": "web"}}), Ok("app=web")),
        (
            json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]}),
            Ok("tier in (a,b)"),
        ),
        (
            json!({"matchLabels": {"z": "1"}, "matchExpressions": [{"key": "a", "operator": "Exists"}]}),
            Ok("a,z=1"),
        ),
        (
            json!({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}, {"key": "b", "operator": "NotIn", "values": ["x"]}]}),
            Ok("!a,b notin (x)"),
        ),
        (
            json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
            Err("\"Gt\" is not a valid label selector operator".to_string()),
        ),
        (
            json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
            Err("values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty".to_string()),
        ),
        (
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
            Err("values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist".to_string()),
        ),
        (
            json!({"matchLabels": {"/k": "v@"}}),
            Err(format!(
                "[key: Invalid value: \"/k\": prefix part must be non-empty, values[0][/k]: Invalid value: \"v@\": {VALUE_RULE}]"
            )),
        ),
    ];
    for (input, want) in cases {
        let got = LabelSelector::from_json(&input)
            .map(|s| s.to_string())
            .map_err(|e| e.to_string());
        assert_eq!(got, want.map(str::to_string), "{input}");
    }
}

#[test]
fn null_selector_matches_nothing_and_empty_matches_everything() {
    let nothing = LabelSelector::from_json(&serde_json::Value::Null).unwrap();
    let everything = LabelSelector::from_json(&json!({})).unwrap();
    let labels = json!({"app": "web"});
    assert!(!nothing.matches_value(Some(&labels)));
    assert!(!nothing.matches(&BTreeMap::new()));
    assert!(everything.matches_value(Some(&labels)));
    assert!(everything.matches_value(None));
    assert!(everything.is_empty() && !nothing.is_empty());
}

/// A label set written inline in a table.
type Labels = &'static [(&'static str, &'static str)];

#[test]
fn matches_label_sets() {
    let cases: &[(&str, Labels, bool)] = &[
        ("", &[], true),
        ("a=b", &[("a", "b")], true),
        ("a=b", &[], false),
        ("a==b", &[("a", "c")], false),
        ("a!=b", &[], true),
        ("a!=b", &[("a", "b")], false),
        ("a in (x,y)", &[("a", "y")], true),
        ("a in (x,y)", &[("a", "z")], false),
        ("a notin (x)", &[("a", "x")], false),
        ("a notin (x)", &[], true),
        ("a", &[("a", "")], true),
        ("!a", &[("a", "")], false),
        ("!a", &[("b", "")], true),
        ("a>5", &[("a", "6")], true),
        ("a>5", &[("a", "x")], false),
        ("a<5", &[("a", "5")], false),
        ("a=", &[("a", "")], true),
        ("a=,b", &[("a", ""), ("b", "1")], true),
        ("a=1,b=2", &[("a", "1"), ("b", "3")], false),
    ];
    for (selector, labels, want) in cases {
        let s = LabelSelector::parse(selector).unwrap();
        let map: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let value = serde_json::to_value(&map).unwrap();
        assert_eq!(s.matches(&map), *want, "{selector} on {map:?}");
        assert_eq!(
            s.matches_value(Some(&value)),
            *want,
            "{selector} on {value}"
        );
    }
}

#[test]
fn exact_matches_and_sets() {
    let s = LabelSelector::parse("a=1,b in (2),c in (3,4),!d").unwrap();
    assert_eq!(s.requires_exact_match("a"), Some("1"));
    assert_eq!(s.requires_exact_match("b"), Some("2"));
    assert_eq!(s.requires_exact_match("c"), None);
    assert_eq!(s.requires_exact_match("d"), None);
    let set = BTreeMap::from([("app".to_string(), "web".to_string())]);
    assert_eq!(LabelSelector::from_set(&set).to_string(), "app=web");
    assert!(LabelSelector::from_set(&BTreeMap::new()).is_empty());
}

#[test]
fn validates_keys_and_values_alone() {
    assert!(label_key_errors("app.kubernetes.io/name").is_empty());
    assert_eq!(
        label_key_errors(""),
        vec![
            "name part must be non-empty".to_string(),
            format!("name part {NAME_RULE}")
        ]
    );
    assert!(label_value_errors("").is_empty());
    assert_eq!(
        label_value_errors(&"v".repeat(64)),
        vec!["must be no more than 63 characters".to_string()]
    );
}
