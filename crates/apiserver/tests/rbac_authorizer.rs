//! RBAC decisions on a representative set of the situations upstream's authorizer tests cover (written
//! for this project from the documented semantics, not copied): wildcards in verbs, groups and resources;
//! subresources and `*/sub`; resource names, which never cover a list or a create; non-resource URLs with
//! a trailing `*`; RoleBindings granting ClusterRoles only in their namespace; service-account subjects
//! defaulting to the binding's namespace; group subjects; aggregation.

use serde_json::{json, Value};
use themelios_api::{apply, ApiState, ApplyContext, Kind, Object, Op, Time};
use themelios_apiserver::auth::attributes::Attributes;
use themelios_apiserver::auth::{authorize, UserInfo};

fn create(state: &mut ApiState, kind: Kind, value: Value) {
    let object = Object::from_json(kind, value).unwrap();
    let change = apply(&*state, &Op::Create(object), &ApplyContext { now: Time::EPOCH }).unwrap();
    state.commit(&change).unwrap();
}

fn cluster_role(state: &mut ApiState, name: &str, labels: Value, rules: Value) {
    create(state, Kind::ClusterRole, json!({"metadata": {"name": name, "labels": labels}, "rules": rules}));
}

fn bind(state: &mut ApiState, namespace: Option<&str>, role_kind: &str, role: &str, subject: Value) {
    let name = format!("{role}-{}", subject["name"].as_str().unwrap());
    let role_ref = json!({"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role});
    match namespace {
        Some(ns) => create(
            state,
            Kind::RoleBinding,
            json!({"metadata": {"name": name, "namespace": ns}, "roleRef": role_ref, "subjects": [subject]}),
        ),
        None => create(
            state,
            Kind::ClusterRoleBinding,
            json!({"metadata": {"name": name}, "roleRef": role_ref, "subjects": [subject]}),
        ),
    }
}

fn user(name: &str) -> Value {
    json!({"kind": "User", "name": name})
}

fn world() -> ApiState {
    let mut state = ApiState::default();
    for ns in ["ns1", "ns2"] {
        create(&mut state, Kind::Namespace, json!({"metadata": {"name": ns}}));
    }
    cluster_role(
        &mut state,
        "everything",
        json!({}),
        json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
    );
    cluster_role(
        &mut state,
        "read-anything",
        json!({}),
        json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}]),
    );
    cluster_role(
        &mut state,
        "pods-only",
        json!({}),
        json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]),
    );
    cluster_role(
        &mut state,
        "status-of-anything",
        json!({}),
        json!([{"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["update"]}]),
    );
    cluster_role(
        &mut state,
        "one-config",
        json!({}),
        json!([{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"], "verbs": ["get", "update", "list", "create"]}]),
    );
    cluster_role(
        &mut state,
        "health",
        json!({}),
        json!([{"nonResourceURLs": ["/healthz", "/apis/*"], "verbs": ["get"]}]),
    );
    cluster_role(&mut state, "aggregated", json!({}), json!([]));
    create(
        &mut state,
        Kind::ClusterRole,
        json!({"metadata": {"name": "aggregator"}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"part-of": "agg"}}]}}),
    );
    cluster_role(
        &mut state,
        "agg-part",
        json!({"part-of": "agg"}),
        json!([{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["delete"]}]),
    );
    bind(&mut state, None, "ClusterRole", "everything", json!({"kind": "Group", "name": "admins"}));
    bind(&mut state, Some("ns1"), "ClusterRole", "read-anything", user("reader"));
    bind(&mut state, Some("ns1"), "ClusterRole", "pods-only", json!({"kind": "ServiceAccount", "name": "robot"}));
    bind(&mut state, None, "ClusterRole", "status-of-anything", user("statuser"));
    bind(&mut state, Some("ns1"), "ClusterRole", "one-config", user("configurer"));
    bind(&mut state, None, "ClusterRole", "health", user("prober"));
    bind(&mut state, None, "ClusterRole", "aggregator", user("aggregated"));
    create(
        &mut state,
        Kind::Role,
        json!({"metadata": {"name": "local", "namespace": "ns2"}, "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["watch"]}]}),
    );
    bind(&mut state, Some("ns2"), "Role", "local", user("watcher"));
    state
}

fn resource(verb: &str, group: &str, resource: &str, sub: &str, ns: &str, name: &str) -> Attributes {
    Attributes::resource(verb, group, resource, sub, ns, name)
}

fn path(verb: &str, path: &str) -> Attributes {
    Attributes { verb: verb.into(), path: path.into(), ..Attributes::default() }
}

#[test]
fn rbac_decides_as_upstream_documents() {
    let state = world();
    let someone = |name: &str, groups: &[&str]| UserInfo::new(name, "", groups.iter().map(|g| g.to_string()));
    let robot = UserInfo::new("system:serviceaccount:ns1:robot", "", Vec::new());
    let cases: Vec<(&str, UserInfo, Attributes, bool)> = vec![
        (
            "a group bound cluster-wide to * may do anything",
            someone("x", &["admins"]),
            resource("delete", "apps", "deployments", "", "ns2", "d"),
            true,
        ),
        ("… cluster-scoped too", someone("x", &["admins"]), resource("create", "", "nodes", "", "", "n"), true),
        ("… but not without the group", someone("x", &[]), resource("get", "", "pods", "", "ns1", "p"), false),
        (
            "a RoleBinding of a ClusterRole grants in its namespace",
            someone("reader", &[]),
            resource("get", "batch", "jobs", "", "ns1", "j"),
            true,
        ),
        ("… and nowhere else", someone("reader", &[]), resource("get", "batch", "jobs", "", "ns2", "j"), false),
        ("… nor cluster-wide", someone("reader", &[]), resource("get", "", "nodes", "", "", "n"), false),
        ("a verb not granted", someone("reader", &[]), resource("list", "", "pods", "", "ns1", ""), false),
        (
            "resources * covers subresources",
            someone("reader", &[]),
            resource("get", "", "pods", "log", "ns1", "p"),
            true,
        ),
        (
            "a resource does not cover its subresources",
            robot.clone(),
            resource("get", "", "pods", "status", "ns1", "p"),
            false,
        ),
        (
            "a service account subject defaults to the binding's namespace",
            robot.clone(),
            resource("list", "", "pods", "", "ns1", ""),
            true,
        ),
        (
            "… as that account only",
            UserInfo::new("system:serviceaccount:ns2:robot", "", Vec::new()),
            resource("list", "", "pods", "", "ns1", ""),
            false,
        ),
        (
            "*/status covers every status",
            someone("statuser", &[]),
            resource("update", "apps", "deployments", "status", "ns2", "d"),
            true,
        ),
        (
            "… and not the object",
            someone("statuser", &[]),
            resource("update", "apps", "deployments", "", "ns2", "d"),
            false,
        ),
        (
            "a resource name covers that object",
            someone("configurer", &[]),
            resource("update", "", "configmaps", "", "ns1", "settings"),
            true,
        ),
        ("… not another", someone("configurer", &[]), resource("update", "", "configmaps", "", "ns1", "other"), false),
        ("… never a list", someone("configurer", &[]), resource("list", "", "configmaps", "", "ns1", ""), false),
        (
            "… never a create without a name",
            someone("configurer", &[]),
            resource("create", "", "configmaps", "", "ns1", ""),
            false,
        ),
        ("an exact non-resource URL", someone("prober", &[]), path("get", "/healthz"), true),
        ("… not a longer one", someone("prober", &[]), path("get", "/healthz/ping"), false),
        ("a URL prefix with *", someone("prober", &[]), path("get", "/apis/apps/v1"), true),
        ("… not the prefix without its slash", someone("prober", &[]), path("get", "/apis"), false),
        ("… not another verb", someone("prober", &[]), path("post", "/healthz"), false),
        (
            "a Role grants in its namespace",
            someone("watcher", &[]),
            resource("watch", "apps", "deployments", "", "ns2", ""),
            true,
        ),
        (
            "… in its API group only",
            someone("watcher", &[]),
            resource("watch", "extensions", "deployments", "", "ns2", ""),
            false,
        ),
        (
            "an aggregated ClusterRole grants what it selects",
            someone("aggregated", &[]),
            resource("delete", "batch", "jobs", "", "ns1", "j"),
            true,
        ),
        ("… and nothing else", someone("aggregated", &[]), resource("get", "batch", "jobs", "", "ns1", "j"), false),
        (
            "system:masters may do anything",
            UserInfo::admin(),
            resource("escalate", "rbac.authorization.k8s.io", "clusterroles", "", "", "x"),
            true,
        ),
    ];
    let mut wrong = Vec::new();
    for (what, who, attributes, expected) in &cases {
        if authorize(&state, who, attributes).allowed != *expected {
            wrong.push(format!("{what}: expected {}", if *expected { "allow" } else { "deny" }));
        }
    }
    assert!(wrong.is_empty(), "{} of {} cases decided wrongly:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
}
