//! The roles and bindings every cluster starts with, as upstream names them: `cluster-admin` for
//! `system:masters`; `admin`, `edit` and `view` built by aggregation; what every authenticated user may do
//! (discovery, its own access reviews); and the roles of the control-plane components.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde_json::{json, Value};
use themelios_api::{Kind, Object, Resource};

/// The annotation by which an administrator keeps a bootstrap object as they changed it.
const AUTOUPDATE: &str = "rbac.authorization.kubernetes.io/autoupdate";

/// A stored bootstrap role or binding with what the defaults add — missing rules, missing subjects — as
/// upstream reconciles them at every start; `None` if nothing is missing or its `autoupdate` annotation
/// is `false`. Nothing an administrator added is taken away.
pub fn reconciled(stored: &Object, default: &Object) -> Option<Object> {
    let meta = stored.meta();
    if meta.annotations.as_ref().and_then(|a| a.get(AUTOUPDATE)).map(String::as_str) == Some("false") {
        return None;
    }
    match (ClusterRole::from_object(stored), ClusterRole::from_object(default)) {
        (Some(stored), Some(default)) => {
            let mut updated = stored.clone();
            let rules = updated.rules.get_or_insert_with(Vec::new);
            let missing: Vec<_> = default.rules.iter().flatten().filter(|r| !rules.contains(r)).cloned().collect();
            rules.extend(missing.iter().cloned());
            let aggregation_missing = stored.aggregation_rule.is_none() && default.aggregation_rule.is_some();
            if aggregation_missing {
                updated.aggregation_rule = default.aggregation_rule.clone();
            }
            return (!missing.is_empty() || aggregation_missing).then(|| updated.into_object());
        }
        (None, None) => {}
        _ => return None,
    }
    let (stored, default) = (ClusterRoleBinding::from_object(stored)?, ClusterRoleBinding::from_object(default)?);
    let mut updated = stored.clone();
    let subjects = updated.subjects.get_or_insert_with(Vec::new);
    let missing: Vec<_> = default.subjects.iter().flatten().filter(|s| !subjects.contains(s)).cloned().collect();
    subjects.extend(missing.iter().cloned());
    (!missing.is_empty()).then(|| updated.into_object())
}

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];
const AGGREGATE: &str = "rbac.authorization.k8s.io/aggregate-to-";

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

fn urls(urls: &[&str], verbs: &[&str]) -> Value {
    json!({"nonResourceURLs": urls, "verbs": verbs})
}

fn cluster_role(name: &str, labels: Value, rules: Vec<Value>, aggregate_from: Option<&str>) -> Value {
    let mut labels = labels;
    labels["kubernetes.io/bootstrapping"] = "rbac-defaults".into();
    let mut role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name, "labels": labels, "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
        "rules": rules,
    });
    if let Some(target) = aggregate_from {
        role["aggregationRule"] =
            json!({"clusterRoleSelectors": [{"matchLabels": {format!("{AGGREGATE}{target}"): "true"}}]});
    }
    role
}

fn cluster_binding(name: &str, role: &str, subjects: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    })
}

fn group(name: &str) -> Value {
    json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name})
}

fn user(name: &str) -> Value {
    json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name})
}

fn view_rules() -> Vec<Value> {
    vec![
        rule(
            &[""],
            &[
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
            ],
            READ,
        ),
        rule(
            &[""],
            &[
                "bindings",
                "events",
                "limitranges",
                "namespaces/status",
                "pods/log",
                "pods/status",
                "replicationcontrollers/status",
                "resourcequotas",
                "resourcequotas/status",
            ],
            READ,
        ),
        rule(&[""], &["namespaces"], READ),
        rule(&["discovery.k8s.io"], &["endpointslices"], READ),
        rule(
            &["apps"],
            &[
                "controllerrevisions",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ],
            READ,
        ),
        rule(&["autoscaling"], &["horizontalpodautoscalers", "horizontalpodautoscalers/status"], READ),
        rule(&["batch"], &["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
        rule(
            &["extensions"],
            &[
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "ingresses",
                "ingresses/status",
                "networkpolicies",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "replicationcontrollers/scale",
            ],
            READ,
        ),
        rule(&["policy"], &["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
        rule(&["networking.k8s.io"], &["ingresses", "ingresses/status", "networkpolicies"], READ),
    ]
}

fn edit_rules() -> Vec<Value> {
    let pods_exec = ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"];
    vec![
        rule(&[""], &["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"], READ),
        rule(&[""], &["serviceaccounts"], &["impersonate"]),
        rule(&[""], &pods_exec, WRITE),
        rule(&[""], &["pods/eviction"], &["create"]),
        rule(
            &[""],
            &[
                "configmaps",
                "events",
                "persistentvolumeclaims",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "secrets",
                "serviceaccounts",
                "services",
                "services/proxy",
            ],
            WRITE,
        ),
        rule(&[""], &["serviceaccounts/token"], &["create"]),
        rule(
            &["apps"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ],
            WRITE,
        ),
        rule(&["autoscaling"], &["horizontalpodautoscalers"], WRITE),
        rule(&["batch"], &["cronjobs", "jobs"], WRITE),
        rule(
            &["extensions"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "ingresses",
                "networkpolicies",
                "replicasets",
                "replicasets/scale",
                "replicationcontrollers/scale",
            ],
            WRITE,
        ),
        rule(&["policy"], &["poddisruptionbudgets"], WRITE),
        rule(&["networking.k8s.io"], &["ingresses", "networkpolicies"], WRITE),
        rule(
            &["coordination.k8s.io"],
            &["leases"],
            &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        ),
    ]
}

fn admin_rules() -> Vec<Value> {
    vec![
        rule(&["authorization.k8s.io"], &["localsubjectaccessreviews"], &["create"]),
        rule(
            &["rbac.authorization.k8s.io"],
            &["rolebindings", "roles"],
            &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        ),
    ]
}

/// The bootstrap ClusterRoles and ClusterRoleBindings, to create where absent.
pub fn objects() -> Vec<Object> {
    let discovery_urls = [
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
        "/healthz",
        "/livez",
        "/openapi",
        "/openapi/*",
        "/readyz",
        "/version",
        "/version/",
    ];
    let public_urls = ["/healthz", "/livez", "/readyz", "/version", "/version/"];
    let everything = json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]});
    let roles = vec![
        cluster_role("cluster-admin", json!({}), vec![everything, urls(&["*"], &["*"])], None),
        cluster_role("admin", json!({}), vec![], Some("admin")),
        cluster_role("edit", json!({format!("{AGGREGATE}admin"): "true"}), vec![], Some("edit")),
        cluster_role("view", json!({format!("{AGGREGATE}edit"): "true"}), vec![], Some("view")),
        cluster_role("system:aggregate-to-admin", json!({format!("{AGGREGATE}admin"): "true"}), admin_rules(), None),
        cluster_role("system:aggregate-to-edit", json!({format!("{AGGREGATE}edit"): "true"}), edit_rules(), None),
        cluster_role("system:aggregate-to-view", json!({format!("{AGGREGATE}view"): "true"}), view_rules(), None),
        cluster_role("system:discovery", json!({}), vec![urls(&discovery_urls, &["get"])], None),
        cluster_role("system:public-info-viewer", json!({}), vec![urls(&public_urls, &["get"])], None),
        cluster_role(
            "system:basic-user",
            json!({}),
            vec![
                rule(&["authentication.k8s.io"], &["selfsubjectreviews"], &["create"]),
                rule(&["authorization.k8s.io"], &["selfsubjectaccessreviews", "selfsubjectrulesreviews"], &["create"]),
            ],
            None,
        ),
        cluster_role(
            "system:kube-scheduler",
            json!({}),
            vec![
                rule(&[""], &["events"], &["create", "patch", "update"]),
                rule(&["events.k8s.io"], &["events"], &["create", "patch", "update"]),
                rule(&["coordination.k8s.io"], &["leases"], &["create"]),
                rule(&["coordination.k8s.io"], &["leases"], &["get", "update"]),
                rule(&[""], &["nodes"], READ),
                rule(&[""], &["namespaces"], READ),
                rule(&[""], &["pods"], &["delete", "get", "list", "watch"]),
                rule(&[""], &["bindings", "pods/binding"], &["create"]),
                rule(&[""], &["pods/status"], &["patch", "update"]),
                rule(&[""], &["replicationcontrollers", "services"], READ),
                rule(&["apps", "extensions"], &["replicasets"], READ),
                rule(&["apps"], &["statefulsets"], READ),
                rule(&["policy"], &["poddisruptionbudgets"], READ),
                rule(&[""], &["persistentvolumeclaims", "persistentvolumes"], READ),
                rule(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
                rule(&["authorization.k8s.io"], &["subjectaccessreviews"], &["create"]),
            ],
            None,
        ),
        cluster_role(
            "system:kube-controller-manager",
            json!({}),
            vec![
                rule(&["", "events.k8s.io"], &["events"], &["create", "patch", "update"]),
                rule(&["coordination.k8s.io"], &["leases"], &["create"]),
                rule(&["coordination.k8s.io"], &["leases"], &["get", "update"]),
                rule(&[""], &["secrets", "serviceaccounts"], &["create"]),
                rule(&[""], &["secrets"], &["delete"]),
                rule(&[""], &["configmaps", "namespaces", "secrets", "serviceaccounts"], &["get"]),
                rule(&[""], &["secrets", "serviceaccounts"], &["update"]),
                rule(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
                rule(&["authorization.k8s.io"], &["subjectaccessreviews"], &["create"]),
                rule(&["*"], &["*"], &["list", "watch"]),
                rule(&[""], &["serviceaccounts/token"], &["create"]),
            ],
            None,
        ),
    ];
    let bindings = vec![
        cluster_binding("cluster-admin", "cluster-admin", json!([group("system:masters")])),
        cluster_binding("system:discovery", "system:discovery", json!([group("system:authenticated")])),
        cluster_binding("system:basic-user", "system:basic-user", json!([group("system:authenticated")])),
        cluster_binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            json!([group("system:authenticated"), group("system:unauthenticated")]),
        ),
        cluster_binding("system:kube-scheduler", "system:kube-scheduler", json!([user("system:kube-scheduler")])),
        cluster_binding(
            "system:kube-controller-manager",
            "system:kube-controller-manager",
            json!([user("system:kube-controller-manager")]),
        ),
    ];
    roles
        .into_iter()
        .map(|r| (Kind::ClusterRole, r))
        .chain(bindings.into_iter().map(|b| (Kind::ClusterRoleBinding, b)))
        .filter_map(|(kind, value)| Object::from_json(kind, value).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(kind: Kind, name: &str) -> Object {
        objects().into_iter().find(|o| o.kind() == kind && o.meta().name.as_deref() == Some(name)).unwrap()
    }

    #[test]
    fn reconciling_adds_what_the_defaults_have_and_keeps_what_an_administrator_added() {
        let default = named(Kind::ClusterRole, "system:basic-user");
        assert!(reconciled(&default, &default).is_none(), "nothing missing");
        let mut trimmed = ClusterRole::from_object(&default).unwrap().clone();
        let extra = k8s_openapi::api::rbac::v1::PolicyRule {
            verbs: vec!["get".into()],
            api_groups: Some(vec!["".into()]),
            resources: Some(vec!["configmaps".into()]),
            ..Default::default()
        };
        trimmed.rules = Some(vec![extra.clone()]);
        let fixed = reconciled(&trimmed.clone().into_object(), &default).expect("missing rules added");
        let rules = ClusterRole::from_object(&fixed).unwrap().rules.clone().unwrap();
        assert!(rules.contains(&extra), "the administrator's rule stays");
        for rule in ClusterRole::from_object(&default).unwrap().rules.iter().flatten() {
            assert!(rules.contains(rule));
        }
        trimmed.metadata.annotations = Some([(AUTOUPDATE.to_string(), "false".to_string())].into());
        assert!(reconciled(&trimmed.into_object(), &default).is_none(), "autoupdate=false is left alone");

        let binding = named(Kind::ClusterRoleBinding, "system:discovery");
        let mut emptied = ClusterRoleBinding::from_object(&binding).unwrap().clone();
        emptied.subjects = None;
        let fixed = reconciled(&emptied.into_object(), &binding).expect("the subject is back");
        assert_eq!(ClusterRoleBinding::from_object(&fixed).unwrap().subjects.as_ref().unwrap().len(), 1);
    }
}
