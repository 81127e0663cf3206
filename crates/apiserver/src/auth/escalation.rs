//! Escalation prevention: a user may write a role only with rules they already hold (or with the
//! `escalate` verb on roles), and bind a role only if they hold its rules (or have `bind` on it) — so RBAC
//! cannot be used to grant more than one has.

use super::attributes::Attributes;
use super::{authorize, rbac, UserInfo, MASTERS};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef};
use themelios_api::{ApiError, Object, Reason, Resource, StateRead};

/// Whether `user` may write `object` (a role or binding; anything else passes).
pub fn check(state: &impl StateRead, user: &UserInfo, object: &Object) -> Result<(), ApiError> {
    if user.groups.iter().any(|g| g == MASTERS) {
        return Ok(());
    }
    let meta = object.meta();
    let (namespace, name) = (meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default());
    let verb_on = |verb: &str, resource: &str, target: &str| {
        let attributes = Attributes::resource(verb, RBAC, resource, "", &namespace, target);
        authorize(state, user, &attributes).allowed
    };
    let kind = object.kind();
    let (granted, resource) = match object {
        Object::Role(_) | Object::ClusterRole(_) => {
            let resource = kind.plural();
            if verb_on("escalate", resource, &name) {
                return Ok(());
            }
            if let Some(role) = ClusterRole::from_object(object) {
                if role.aggregation_rule.is_some() {
                    return Err(forbidden(
                        kind.plural(),
                        &name,
                        "must have cluster-admin privileges to write aggregated cluster roles",
                    ));
                }
            }
            let rules = Role::from_object(object)
                .and_then(|r| r.rules.clone())
                .or_else(|| ClusterRole::from_object(object).and_then(|r| r.rules.clone()))
                .unwrap_or_default();
            (rules, resource)
        }
        Object::RoleBinding(_) | Object::ClusterRoleBinding(_) => {
            let role_ref: &RoleRef = match (RoleBinding::from_object(object), ClusterRoleBinding::from_object(object)) {
                (Some(binding), _) => &binding.role_ref,
                (_, Some(binding)) => &binding.role_ref,
                _ => return Ok(()),
            };
            let role_resource = if role_ref.kind == "Role" { "roles" } else { "clusterroles" };
            if verb_on("bind", role_resource, &role_ref.name) {
                return Ok(());
            }
            (rbac::role_rules(state, role_ref, &namespace), kind.plural())
        }
        _ => return Ok(()),
    };
    let held = rbac::rules_for(state, user, &namespace);
    let missing: Vec<PolicyRule> = granted
        .iter()
        .flat_map(breakdown)
        .filter(|wanted| !held.iter().any(|rule| rule_covers(rule, wanted)))
        .collect();
    let mut missing: Vec<String> = merge_verbs(missing).iter().map(compact).collect();
    missing.sort();
    if missing.is_empty() {
        return Ok(());
    }
    let groups: Vec<String> = user.groups.iter().map(|g| format!("{g:?}")).collect();
    Err(forbidden(
        resource,
        &name,
        &format!(
            "user {:?} (groups=[{}]) is attempting to grant RBAC permissions not currently held:\n{}",
            user.name,
            groups.join(" "),
            missing.join("\n")
        ),
    ))
}

const RBAC: &str = "rbac.authorization.k8s.io";

fn forbidden(resource: &str, name: &str, why: &str) -> ApiError {
    let mut error = ApiError::new(Reason::Forbidden, format!("{resource}.{RBAC} {name:?} is forbidden: {why}"));
    error.details = Some(Box::new(themelios_api::error::Details {
        name: name.to_string(),
        group: RBAC.to_string(),
        kind: resource.to_string(),
        ..Default::default()
    }));
    error
}

/// A rule split into rules of one group, one resource, one verb and at most one name (or one URL and one
/// verb), each of which must be held.
fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |s: &String| Some(vec![s.clone()]);
    let mut out = Vec::new();
    for verb in &rule.verbs {
        for url in rule.non_resource_urls.iter().flatten() {
            out.push(PolicyRule { verbs: vec![verb.clone()], non_resource_urls: one(url), ..Default::default() });
        }
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                let base = PolicyRule {
                    verbs: vec![verb.clone()],
                    api_groups: one(group),
                    resources: one(resource),
                    ..Default::default()
                };
                match rule.resource_names.as_deref() {
                    None | Some([]) => out.push(base),
                    Some(names) => {
                        out.extend(names.iter().map(|n| PolicyRule { resource_names: one(n), ..base.clone() }))
                    }
                }
            }
        }
    }
    out
}

/// Rules of one group and one resource (and no names or URLs) merged into one with all their verbs, in
/// the order they came, as upstream reports missing permissions.
fn merge_verbs(rules: Vec<PolicyRule>) -> Vec<PolicyRule> {
    let mut merged: Vec<PolicyRule> = Vec::new();
    for rule in rules {
        let simple = |r: &PolicyRule| {
            r.resource_names.as_ref().is_none_or(Vec::is_empty)
                && r.non_resource_urls.as_ref().is_none_or(Vec::is_empty)
        };
        let same = merged
            .iter_mut()
            .find(|m| simple(m) && simple(&rule) && m.api_groups == rule.api_groups && m.resources == rule.resources);
        match same {
            Some(existing) => {
                for verb in rule.verbs {
                    if !existing.verbs.contains(&verb) {
                        existing.verbs.push(verb);
                    }
                }
            }
            None => merged.push(rule),
        }
    }
    merged
}

/// Whether `held` grants everything `wanted` (a broken-down rule) grants, wildcards included.
fn rule_covers(held: &PolicyRule, wanted: &PolicyRule) -> bool {
    let has = |list: &Option<Vec<String>>, item: &str| list.iter().flatten().any(|h| h == "*" || h == item);
    if !wanted.verbs.iter().all(|v| held.verbs.iter().any(|h| h == "*" || h == v)) {
        return false;
    }
    if let Some(urls) = wanted.non_resource_urls.as_ref().filter(|u| !u.is_empty()) {
        return urls.iter().all(|url| {
            held.non_resource_urls.iter().flatten().any(|h| match h.strip_suffix('*') {
                Some(prefix) => url.starts_with(prefix),
                None => h == url,
            })
        });
    }
    let groups_ok = wanted.api_groups.iter().flatten().all(|g| has(&held.api_groups, g));
    let resources_ok = wanted.resources.iter().flatten().all(|r| {
        has(&held.resources, r)
            || r.split_once('/')
                .is_some_and(|(_, sub)| held.resources.iter().flatten().any(|h| *h == format!("*/{sub}")))
    });
    let names_ok = match held.resource_names.as_deref() {
        None | Some([]) => true,
        Some(names) => {
            wanted.resource_names.iter().flatten().all(|n| names.contains(n))
                && wanted.resource_names.as_ref().is_some_and(|w| !w.is_empty())
        }
    };
    groups_ok && resources_ok && names_ok
}

/// A rule as upstream prints a missing one: `{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}`.
fn compact(rule: &PolicyRule) -> String {
    let list = |items: &Option<Vec<String>>| {
        let quoted: Vec<String> = items.iter().flatten().map(|i| format!("{i:?}")).collect();
        format!("[{}]", quoted.join(" "))
    };
    let verbs = list(&Some(rule.verbs.clone()));
    if rule.non_resource_urls.as_ref().is_some_and(|u| !u.is_empty()) {
        return format!("{{NonResourceURLs:{}, Verbs:{verbs}}}", list(&rule.non_resource_urls));
    }
    let mut out = format!("{{APIGroups:{}, Resources:{}", list(&rule.api_groups), list(&rule.resources));
    if rule.resource_names.as_ref().is_some_and(|n| !n.is_empty()) {
        out.push_str(&format!(", ResourceNames:{}", list(&rule.resource_names)));
    }
    out.push_str(&format!(", Verbs:{verbs}}}"));
    out
}
