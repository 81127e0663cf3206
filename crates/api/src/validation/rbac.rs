//! Roles and bindings (rbac.authorization.k8s.io/v1): rules that name what they grant, bindings whose role
//! reference is well-formed and never changes, subjects of the three kinds.

use crate::error::FieldError;
use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef, Subject};

/// The API group of roles and bindings, which user and group subjects carry.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Every problem with a role's rules (`namespaced`: a Role, which cannot grant non-resource URLs).
pub fn rules(rules: &[PolicyRule], namespaced: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let at = |field: &str| format!("rules[{i}].{field}");
        if rule.verbs.is_empty() {
            errors.push(FieldError::required(at("verbs"), "verbs must contain at least one value"));
        }
        let urls = rule.non_resource_urls.as_deref().unwrap_or_default();
        if !urls.is_empty() {
            if namespaced {
                errors.push(FieldError::invalid_shown(
                    at("nonResourceURLs"),
                    go_strings(urls),
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            let resources = [&rule.api_groups, &rule.resources, &rule.resource_names];
            if resources.iter().any(|list| list.as_ref().is_some_and(|l| !l.is_empty())) {
                errors.push(FieldError::invalid_shown(
                    at("nonResourceURLs"),
                    go_strings(urls),
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if rule.api_groups.as_ref().is_none_or(Vec::is_empty) {
            errors.push(FieldError::required(at("apiGroups"), "resource rules must supply at least one api group"));
        }
        if rule.resources.as_ref().is_none_or(Vec::is_empty) {
            errors.push(FieldError::required(at("resources"), "resource rules must supply at least one resource"));
        }
    }
    errors
}

/// Every problem with a binding (`namespaced`: a RoleBinding, which may reference a Role).
pub fn binding(role_ref: &RoleRef, subjects: &[Subject], namespaced: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if role_ref.api_group != RBAC_GROUP {
        errors.push(FieldError::not_supported("roleRef.apiGroup", &role_ref.api_group, &[RBAC_GROUP]));
    }
    let kinds: &[&str] = if namespaced { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    if !kinds.contains(&role_ref.kind.as_str()) {
        errors.push(FieldError::not_supported("roleRef.kind", &role_ref.kind, kinds));
    }
    if role_ref.name.is_empty() {
        errors.push(FieldError::required("roleRef.name", ""));
    } else if let Some(why) = path_segment(&role_ref.name) {
        errors.push(FieldError::invalid("roleRef.name", &role_ref.name, why));
    }
    for (i, subject) in subjects.iter().enumerate() {
        let at = |field: &str| format!("subjects[{i}].{field}");
        if subject.name.is_empty() {
            errors.push(FieldError::required(at("name"), ""));
        }
        match subject.kind.as_str() {
            "ServiceAccount" => {
                if let Some(why) = crate::names::dns1123_subdomain(&subject.name).filter(|_| !subject.name.is_empty()) {
                    errors.push(FieldError::invalid(at("name"), &subject.name, why));
                }
                if subject.api_group.as_deref().is_some_and(|g| !g.is_empty()) {
                    let group = subject.api_group.as_deref().unwrap_or_default();
                    errors.push(FieldError::not_supported(at("apiGroup"), group, &[""]));
                }
                if !namespaced && subject.namespace.as_deref().unwrap_or_default().is_empty() {
                    errors.push(FieldError::required(at("namespace"), ""));
                }
            }
            "User" | "Group" => {
                let group = subject.api_group.as_deref().unwrap_or_default();
                if group != RBAC_GROUP {
                    errors.push(FieldError::not_supported(at("apiGroup"), group, &[RBAC_GROUP]));
                }
            }
            other => {
                errors.push(FieldError::not_supported(at("kind"), other, &["ServiceAccount", "User", "Group"]));
            }
        }
    }
    errors
}

/// A binding's role reference may not change.
pub fn role_ref_unchanged(new: &RoleRef, old: &RoleRef) -> Vec<FieldError> {
    if new == old {
        return Vec::new();
    }
    let shown = format!("rbac.RoleRef{{APIGroup:{:?}, Kind:{:?}, Name:{:?}}}", new.api_group, new.kind, new.name);
    vec![FieldError::invalid_shown("roleRef", shown, "cannot change roleRef")]
}

/// A list of strings as Go's `%#v` prints it.
fn go_strings(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// Why a name cannot be one segment of a URL path.
pub fn path_segment(name: &str) -> Option<String> {
    match name {
        "." | ".." => Some(format!("may not be '{name}'")),
        _ if name.contains('/') => Some("may not contain '/'".into()),
        _ if name.contains('%') => Some("may not contain '%'".into()),
        _ => None,
    }
}
