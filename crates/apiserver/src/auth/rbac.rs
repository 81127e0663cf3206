//! Role-based access control: a request is allowed when a rule of a role bound to its user (by name, by
//! group, or as a service account) covers it. ClusterRoleBindings grant everywhere; RoleBindings grant in
//! their namespace, with a Role of that namespace or a ClusterRole. A ClusterRole with an aggregation rule
//! grants the rules of every ClusterRole its selectors match, resolved at each decision.

use super::attributes::Attributes;
use super::{Decision, UserInfo};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use themelios_api::{selector, Kind, ObjectName, Resource, StateRead};

/// Whether RBAC allows `request` for `user`.
pub fn authorize(state: &impl StateRead, user: &UserInfo, request: &Attributes) -> Decision {
    for binding in state.list(Kind::ClusterRoleBinding, None) {
        let Some(binding) = ClusterRoleBinding::from_object(binding.object()) else { continue };
        let Some(subject) = matching_subject(binding.subjects.as_deref(), user, "") else { continue };
        if role_rules(state, &binding.role_ref, "").iter().any(|rule| covers(rule, request)) {
            return allowed("ClusterRoleBinding", binding.metadata.name.as_deref(), "", &binding.role_ref, subject);
        }
    }
    if !request.namespace.is_empty() {
        for binding in state.list(Kind::RoleBinding, Some(&request.namespace)) {
            let Some(binding) = RoleBinding::from_object(binding.object()) else { continue };
            let namespace = binding.metadata.namespace.as_deref().unwrap_or_default();
            let Some(subject) = matching_subject(binding.subjects.as_deref(), user, namespace) else { continue };
            if role_rules(state, &binding.role_ref, namespace).iter().any(|rule| covers(rule, request)) {
                return allowed("RoleBinding", binding.metadata.name.as_deref(), namespace, &binding.role_ref, subject);
            }
        }
    }
    Decision { allowed: false, reason: String::new() }
}

/// Every rule granted to `user` in `namespace` (and cluster-wide), as a rules review lists them.
pub fn rules_for(state: &impl StateRead, user: &UserInfo, namespace: &str) -> Vec<PolicyRule> {
    let mut rules: Vec<PolicyRule> = Vec::new();
    let mut add = |granted: Vec<PolicyRule>| {
        for rule in granted {
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
    };
    for binding in state.list(Kind::ClusterRoleBinding, None) {
        let Some(binding) = ClusterRoleBinding::from_object(binding.object()) else { continue };
        if matching_subject(binding.subjects.as_deref(), user, "").is_some() {
            add(role_rules(state, &binding.role_ref, ""));
        }
    }
    if !namespace.is_empty() {
        for binding in state.list(Kind::RoleBinding, Some(namespace)) {
            let Some(binding) = RoleBinding::from_object(binding.object()) else { continue };
            if matching_subject(binding.subjects.as_deref(), user, namespace).is_some() {
                add(role_rules(state, &binding.role_ref, namespace));
            }
        }
    }
    rules
}

fn allowed(binding_kind: &str, name: Option<&str>, namespace: &str, role: &RoleRef, subject: &Subject) -> Decision {
    let binding = match namespace {
        "" => name.unwrap_or_default().to_string(),
        ns => format!("{}/{ns}", name.unwrap_or_default()),
    };
    // Upstream names a service account `name/namespace`, as it names a RoleBinding.
    let who = match subject.kind.as_str() {
        "ServiceAccount" => format!(
            "ServiceAccount {:?}",
            format!("{}/{}", subject.name, subject.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(namespace))
        ),
        kind => format!("{kind} {:?}", subject.name),
    };
    Decision {
        allowed: true,
        reason: format!("RBAC: allowed by {binding_kind} {binding:?} of {} {:?} to {who}", role.kind, role.name),
    }
}

/// The first of `subjects` that is `user` (`namespace`: a RoleBinding's, the default for service accounts).
fn matching_subject<'a>(subjects: Option<&'a [Subject]>, user: &UserInfo, namespace: &str) -> Option<&'a Subject> {
    subjects.into_iter().flatten().find(|subject| match subject.kind.as_str() {
        "User" => subject.name == user.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let account_namespace = subject.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(namespace);
            user.name == format!("system:serviceaccount:{account_namespace}:{}", subject.name)
        }
        _ => false,
    })
}

/// The rules a role reference grants (`namespace`: where a Role is looked up).
pub fn role_rules(state: &impl StateRead, role: &RoleRef, namespace: &str) -> Vec<PolicyRule> {
    match role.kind.as_str() {
        "Role" => state
            .get(Kind::Role, &ObjectName::new(namespace, role.name.clone()))
            .and_then(|r| Role::from_object(r.object()).and_then(|r| r.rules.clone()))
            .unwrap_or_default(),
        "ClusterRole" => cluster_role_rules(state, &role.name),
        _ => Vec::new(),
    }
}

/// A ClusterRole's rules, with those of the roles it aggregates (transitively: `edit` aggregates `view`,
/// which aggregates `system:aggregate-to-view`).
pub fn cluster_role_rules(state: &impl StateRead, name: &str) -> Vec<PolicyRule> {
    let mut rules = Vec::new();
    let mut visited = Vec::new();
    collect_rules(state, name, &mut rules, &mut visited);
    rules
}

fn collect_rules(state: &impl StateRead, name: &str, rules: &mut Vec<PolicyRule>, visited: &mut Vec<String>) {
    if visited.iter().any(|v| v == name) {
        return;
    }
    visited.push(name.to_string());
    let Some(stored) = state.get(Kind::ClusterRole, &ObjectName::cluster(name)) else { return };
    let Some(role) = ClusterRole::from_object(stored.object()) else { return };
    for rule in role.rules.iter().flatten() {
        if !rules.contains(rule) {
            rules.push(rule.clone());
        }
    }
    let selectors = role.aggregation_rule.as_ref().and_then(|a| a.cluster_role_selectors.clone()).unwrap_or_default();
    if selectors.is_empty() {
        return;
    }
    for other in state.list(Kind::ClusterRole, None) {
        let Some(other) = ClusterRole::from_object(other.object()) else { continue };
        let labels = other.metadata.labels.as_ref();
        let selected =
            selectors.iter().any(|s| selector::LabelSelector::from_k8s(Some(s)).is_ok_and(|s| s.matches_opt(labels)));
        if selected {
            collect_rules(state, other.metadata.name.as_deref().unwrap_or_default(), rules, visited);
        }
    }
}

fn has(list: &Option<Vec<String>>, wanted: &str) -> bool {
    list.iter().flatten().any(|item| item == "*" || item == wanted)
}

/// Whether `rule` covers `request`.
pub fn covers(rule: &PolicyRule, request: &Attributes) -> bool {
    if !rule.verbs.iter().any(|v| v == "*" || *v == request.verb) {
        return false;
    }
    if !request.is_resource {
        return rule.non_resource_urls.iter().flatten().any(|url| match url.strip_suffix('*') {
            Some(prefix) => request.path.starts_with(prefix),
            None => *url == request.path,
        });
    }
    if !has(&rule.api_groups, &request.group) {
        return false;
    }
    let resource_matches = match request.subresource.as_str() {
        "" => has(&rule.resources, &request.resource),
        sub => {
            let combined = format!("{}/{sub}", request.resource);
            rule.resources.iter().flatten().any(|r| *r == "*" || *r == combined || *r == format!("*/{sub}"))
        }
    };
    if !resource_matches {
        return false;
    }
    match rule.resource_names.as_deref() {
        None | Some([]) => true,
        Some(names) => !request.name.is_empty() && names.contains(&request.name),
    }
}
