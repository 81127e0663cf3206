//! Manifest decoding: objects out, and errors naming file, line and field.

use themelios_api::manifest::decode;
use themelios_api::Kind;

#[test]
fn decodes_documents_and_lists() {
    let text = "# leading comment\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n---\n\
                apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a, namespace: demo}\n\
                - {\"apiVersion\": \"apps/v1\", \"kind\": \"ReplicaSet\", \"metadata\": {\"name\": \"r\"}}\n";
    let objects = decode("f.yaml", text).unwrap();
    let kinds: Vec<Kind> = objects.iter().map(|m| m.object.kind()).collect();
    assert_eq!(kinds, vec![Kind::Namespace, Kind::ConfigMap, Kind::ReplicaSet]);
    assert_eq!(objects[0].line, 1);
    assert_eq!(objects[1].line, 7);
}

#[test]
fn errors_name_file_line_and_field() {
    let cases = [
        (
            "apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n",
            "f.yaml:4: not valid YAML: did not find expected ',' or ']'",
        ),
        ("kind: Pod\n", "f.yaml:1: apiVersion: Required value"),
        ("apiVersion: v1\nmetadata: {}\n", "f.yaml:1: kind: Required value"),
        (
            "apiVersion: v1\nkind: Deployment\n",
            "f.yaml:2: kind: kind \"Deployment\" is served as apiVersion \"apps/v1\", not \"v1\"",
        ),
        (
            "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: r\nspec:\n  replicas: three\n",
            "f.yaml:6: spec.replicas: invalid type: string \"three\", expected i32",
        ),
        ("- just\n- a list\n", "f.yaml:1: a manifest document must be a mapping"),
    ];
    for (text, expected) in cases {
        let err = decode("f.yaml", text).unwrap_err().to_string();
        assert!(err.starts_with(expected), "{text:?}\n  got: {err}\n want: {expected}");
    }
}
