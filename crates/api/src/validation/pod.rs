//! Pod spec validation, and the rule that a pod's spec is almost entirely immutable.

use super::names;
use crate::error::FieldError;
use crate::quantity;
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use std::collections::BTreeSet;

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];

/// Every problem with a pod spec, with field paths under `path` (`spec` or `spec.template.spec`).
pub fn validate_pod_spec(spec: &PodSpec, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if spec.containers.is_empty() {
        errors.push(FieldError::required(format!("{path}.containers"), ""));
    }
    let mut seen = BTreeSet::new();
    let all = spec.containers.iter().enumerate().map(|(i, c)| (format!("{path}.containers[{i}]"), c)).chain(
        spec.init_containers.iter().flatten().enumerate().map(|(i, c)| (format!("{path}.initContainers[{i}]"), c)),
    );
    for (at, c) in all {
        if c.name.is_empty() {
            errors.push(FieldError::required(format!("{at}.name"), ""));
        } else if let Some(why) = names::dns1123_label(&c.name) {
            errors.push(FieldError::invalid(format!("{at}.name"), &c.name, why));
        } else if !seen.insert(c.name.clone()) {
            errors.push(FieldError::duplicate(format!("{at}.name"), &c.name));
        }
        if c.image.as_deref().is_none_or(|i| i.trim().is_empty()) {
            errors.push(FieldError::required(format!("{at}.image"), ""));
        }
        if let Some(resources) = &c.resources {
            for (kind, list) in [("requests", &resources.requests), ("limits", &resources.limits)] {
                for (name, q) in list.iter().flatten() {
                    match quantity::parse_milli(&q.0) {
                        Err(e) => errors.push(FieldError::invalid(
                            format!("{at}.resources.{kind}[{name}]"),
                            &q.0,
                            e.to_string(),
                        )),
                        Ok(v) if v < 0 => errors.push(FieldError::invalid(
                            format!("{at}.resources.{kind}[{name}]"),
                            &q.0,
                            "must be greater than or equal to 0",
                        )),
                        Ok(_) => {}
                    }
                }
            }
        }
    }
    if let Some(policy) = spec.restart_policy.as_deref() {
        if !RESTART_POLICIES.contains(&policy) {
            errors.push(FieldError::not_supported(format!("{path}.restartPolicy"), policy, RESTART_POLICIES));
        }
    }
    if let Some(grace) = spec.termination_grace_period_seconds {
        if grace < 0 {
            errors.push(FieldError::invalid(
                format!("{path}.terminationGracePeriodSeconds"),
                grace,
                "must be greater than or equal to 0",
            ));
        }
    }
    if let Some(deadline) = spec.active_deadline_seconds {
        if deadline <= 0 {
            errors.push(FieldError::invalid(
                format!("{path}.activeDeadlineSeconds"),
                deadline,
                "must be greater than 0",
            ));
        }
    }
    for (i, t) in spec.tolerations.iter().flatten().enumerate() {
        let op = t.operator.as_deref().unwrap_or("Equal");
        if !["Equal", "Exists"].contains(&op) {
            errors.push(FieldError::not_supported(
                format!("{path}.tolerations[{i}].operator"),
                op,
                &["Equal", "Exists"],
            ));
        }
        if op == "Exists" && t.value.as_deref().is_some_and(|v| !v.is_empty()) {
            errors.push(FieldError::invalid(
                format!("{path}.tolerations[{i}].operator"),
                op,
                "value must be empty when `operator` is 'Exists'",
            ));
        }
        if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty()) {
            let effects = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
            if !effects.contains(&effect) {
                errors.push(FieldError::not_supported(format!("{path}.tolerations[{i}].effect"), effect, &effects));
            }
        }
    }
    errors
}

/// A pod's spec may change only in container images, activeDeadlineSeconds, added tolerations and a
/// negative grace period set to 1; binding sets nodeName through its own subresource.
pub(super) fn validate_spec_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let (Some(new_spec), Some(old_spec)) = (&new.spec, &old.spec) else { return Vec::new() };
    let mut masked_new = new_spec.clone();
    let mut masked_old = old_spec.clone();
    for (n, o) in masked_new.containers.iter_mut().zip(masked_old.containers.iter_mut()) {
        n.image = o.image.clone();
    }
    for (n, o) in masked_new.init_containers.iter_mut().flatten().zip(masked_old.init_containers.iter_mut().flatten()) {
        n.image = o.image.clone();
    }
    masked_new.active_deadline_seconds = masked_old.active_deadline_seconds;
    let old_tolerations = masked_old.tolerations.clone().unwrap_or_default();
    let new_tolerations = masked_new.tolerations.clone().unwrap_or_default();
    if old_tolerations.iter().all(|t| new_tolerations.contains(t)) {
        masked_new.tolerations = masked_old.tolerations.clone();
    }
    if old_spec.termination_grace_period_seconds.is_some_and(|g| g < 0)
        && new_spec.termination_grace_period_seconds == Some(1)
    {
        masked_new.termination_grace_period_seconds = masked_old.termination_grace_period_seconds;
    }
    if masked_new == masked_old {
        return Vec::new();
    }
    vec![FieldError::forbidden(
        "spec",
        "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,\
         `spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),\
         `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    )]
}

/// A finished pod stays finished: the status subresource cannot move a terminal phase back.
pub(super) fn validate_status_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let old_phase = crate::pod::phase(old);
    let new_phase = crate::pod::phase(new);
    if crate::pod::is_terminal(old) && old_phase != new_phase {
        return vec![FieldError::forbidden(
            "status.phase",
            format!("cannot transition from terminal phase {old_phase:?} to {new_phase:?}"),
        )];
    }
    Vec::new()
}
