//! Label and field selector parsing: what upstream accepts, and clear errors for the rest.

use std::collections::BTreeMap;
use themelios_api::selector::{FieldSelector, LabelSelector, Operator};
use themelios_api::{Kind, Object};

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn parses_every_operator() {
    let s = LabelSelector::parse("a=b, c==d,e!=f,g in (x, y),h notin (z),i,!j").unwrap();
    let ops: Vec<(String, Operator)> = s.requirements().iter().map(|r| (r.key.clone(), r.operator)).collect();
    assert_eq!(ops.len(), 7);
    assert!(ops.contains(&("g".into(), Operator::In)) && ops.contains(&("j".into(), Operator::DoesNotExist)));
    let yes = labels(&[("a", "b"), ("c", "d"), ("e", "q"), ("g", "y"), ("i", "")]);
    assert!(s.matches(&yes));
    let mut no = yes.clone();
    no.insert("j".into(), "1".into());
    assert!(!s.matches(&no));
    no.remove("j");
    no.insert("h".into(), "z".into());
    assert!(!s.matches(&no));
}

#[test]
fn empty_matches_everything_and_missing_matches_nothing() {
    assert!(LabelSelector::parse("").unwrap().matches(&labels(&[("any", "thing")])));
    assert!(LabelSelector::from_k8s(Some(&Default::default())).unwrap().is_everything());
    assert!(!LabelSelector::from_k8s(None).unwrap().matches(&BTreeMap::new()));
}

#[test]
fn bad_label_selectors_get_clear_errors() {
    for (input, expect) in [
        ("a in (x", "expected: ',' or ')'"),
        // Worded as upstream's parser words them.
        ("a in x", "unable to parse requirement: found 'x' expected: '('"),
        ("a between (x)", "found 'between', expected: in, notin, =, ==, !=, gt, lt"),
        ("=b", "found '', expected: identifier"),
        ("a!b", "found '!', expected: '!='"),
        ("a in ()", "values set can't be empty"),
        ("a=b c=d", "expected: ',' or 'end of string'"),
        ("-bad-=x", "key: Invalid value: \"-bad-\""),
        ("a=-bad-", "Invalid value: \"-bad-\""),
    ] {
        let err = LabelSelector::parse(input).expect_err(input).to_string();
        assert!(err.contains(expect), "{input:?}: {err}");
    }
    let bad_op = k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
        match_expressions: Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
            key: "a".into(),
            operator: "Near".into(),
            values: None,
        }]),
        match_labels: None,
    };
    assert!(LabelSelector::from_k8s(Some(&bad_op))
        .unwrap_err()
        .to_string()
        .contains("\"Near\" is not a valid label selector operator"));
}

#[test]
fn field_selectors_match_supported_fields_only() {
    let pod: Object = Object::from_json(
        Kind::Pod,
        serde_json::json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1", "containers": []}, "status": {"phase": "Running"}}),
    )
    .unwrap();
    assert!(FieldSelector::parse(Kind::Pod, "spec.nodeName=n1,status.phase!=Failed").unwrap().matches(&pod));
    assert!(!FieldSelector::parse(Kind::Pod, "spec.nodeName==n2").unwrap().matches(&pod));
    assert!(FieldSelector::parse(Kind::Pod, "metadata.name=p,metadata.namespace=ns").unwrap().matches(&pod));
    assert!(!FieldSelector::parse(Kind::Pod, "spec.nodeName=").unwrap().matches(&pod));
    let err = FieldSelector::parse(Kind::Deployment, "spec.nodeName=n1").unwrap_err().to_string();
    assert!(
        err.starts_with(
            "\"spec.nodeName\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        ),
        "{err}"
    );
    assert!(FieldSelector::parse(Kind::Pod, "nonsense").unwrap_err().to_string().contains("invalid selector"));
    let event = Object::from_json(Kind::Event, serde_json::json!({"metadata": {"name": "e", "namespace": "ns"}, "involvedObject": {"kind": "Pod", "name": "p"}})).unwrap();
    assert!(FieldSelector::parse(Kind::Event, "involvedObject.kind=Pod,involvedObject.name=p")
        .unwrap()
        .matches(&event));
}
