//! Validation of the workload kinds: replicas, selectors, templates, strategies.

use super::validate_pod_spec;
use crate::error::{FieldError, GoLabelSelector, GoMap};
use crate::selector::LabelSelector;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn non_negative(errors: &mut Vec<FieldError>, field: &str, value: Option<i32>) {
    if let Some(v) = value.filter(|v| *v < 0) {
        errors.push(FieldError::invalid(field, v, "must be greater than or equal to 0"));
    }
}

/// The selector is required, non-empty and valid, and the template's labels must satisfy it.
fn selector_and_template(
    errors: &mut Vec<FieldError>,
    selector: Option<&meta::LabelSelector>,
    template: Option<&PodTemplateSpec>,
    allowed_restart: &[&str],
) {
    let parsed = match selector {
        None => {
            errors.push(FieldError::required("spec.selector", ""));
            None
        }
        Some(s) => match LabelSelector::from_k8s(Some(s)) {
            Err(e) => {
                errors.push(FieldError::invalid("spec.selector", s, e.to_string()));
                None
            }
            Ok(parsed) if parsed.is_everything() => {
                errors.push(FieldError::invalid("spec.selector", s, "empty selector is invalid for deployment"));
                None
            }
            Ok(parsed) => Some(parsed),
        },
    };
    let Some(template) = template else {
        errors.push(FieldError::required("spec.template", ""));
        return;
    };
    let labels = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
    if let Some(parsed) = parsed {
        if !parsed.matches(&labels) {
            errors.push(FieldError::invalid(
                "spec.template.metadata.labels",
                GoMap(Some(&labels)),
                "`selector` does not match template `labels`",
            ));
        }
    }
    match &template.spec {
        None => errors.push(FieldError::required("spec.template.spec", "")),
        Some(spec) => {
            errors.extend(validate_pod_spec(spec, "spec.template.spec"));
            let policy = spec.restart_policy.as_deref().unwrap_or("Always");
            if !allowed_restart.contains(&policy) {
                errors.push(FieldError::not_supported("spec.template.spec.restartPolicy", policy, allowed_restart));
            }
        }
    }
}

/// A percentage or a non-negative integer.
fn int_or_percent(errors: &mut Vec<FieldError>, field: &str, value: Option<&IntOrString>) -> Option<bool> {
    match value? {
        IntOrString::Int(i) if *i < 0 => {
            errors.push(FieldError::invalid(field, i, "must be greater than or equal to 0"));
            None
        }
        IntOrString::Int(i) => Some(*i == 0),
        IntOrString::String(s) => match s.strip_suffix('%').and_then(|n| n.parse::<i32>().ok()) {
            Some(p) if (0..=100).contains(&p) => Some(p == 0),
            Some(_) => {
                errors.push(FieldError::invalid(field, s, "must not be greater than 100%"));
                None
            }
            None => {
                errors.push(FieldError::invalid(
                    field,
                    s,
                    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                ));
                None
            }
        },
    }
}

pub(super) fn replica_set(rs: &ReplicaSet) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(spec) = &rs.spec else { return vec![FieldError::required("spec", "")] };
    non_negative(&mut errors, "spec.replicas", spec.replicas);
    non_negative(&mut errors, "spec.minReadySeconds", spec.min_ready_seconds);
    selector_and_template(&mut errors, Some(&spec.selector), spec.template.as_ref(), &["Always"]);
    errors
}

pub(super) fn deployment(d: &Deployment) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(spec) = &d.spec else { return vec![FieldError::required("spec", "")] };
    non_negative(&mut errors, "spec.replicas", spec.replicas);
    non_negative(&mut errors, "spec.minReadySeconds", spec.min_ready_seconds);
    non_negative(&mut errors, "spec.revisionHistoryLimit", spec.revision_history_limit);
    selector_and_template(&mut errors, Some(&spec.selector), Some(&spec.template), &["Always"]);
    if let Some(strategy) = &spec.strategy {
        let type_ = strategy.type_.as_deref().unwrap_or("RollingUpdate");
        match type_ {
            "Recreate" if strategy.rolling_update.is_some() => errors.push(FieldError::forbidden(
                "spec.strategy.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            )),
            "RollingUpdate" => {
                let ru = strategy.rolling_update.clone().unwrap_or_default();
                let surge_zero =
                    int_or_percent(&mut errors, "spec.strategy.rollingUpdate.maxSurge", ru.max_surge.as_ref());
                let unavailable_zero = int_or_percent(
                    &mut errors,
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    ru.max_unavailable.as_ref(),
                );
                if surge_zero == Some(true) && unavailable_zero == Some(true) {
                    errors.push(FieldError::invalid(
                        "spec.strategy.rollingUpdate.maxUnavailable",
                        ru.max_unavailable.as_ref().map(int_or_string_text).unwrap_or_default(),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
            }
            "Recreate" => {}
            other => {
                errors.push(FieldError::not_supported("spec.strategy.type", other, &["Recreate", "RollingUpdate"]))
            }
        }
    }
    if let (Some(deadline), Some(min_ready)) = (spec.progress_deadline_seconds, spec.min_ready_seconds) {
        if deadline <= min_ready {
            errors.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errors
}

fn int_or_string_text(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

pub(super) fn stateful_set(s: &StatefulSet) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(spec) = &s.spec else { return vec![FieldError::required("spec", "")] };
    non_negative(&mut errors, "spec.replicas", spec.replicas);
    non_negative(&mut errors, "spec.minReadySeconds", spec.min_ready_seconds);
    if let Some(start) = spec.ordinals.as_ref().and_then(|o| o.start).filter(|s| *s < 0) {
        errors.push(FieldError::invalid("spec.ordinals.start", start, "must be greater than or equal to 0"));
    }
    let policy = spec.pod_management_policy.as_deref().unwrap_or("OrderedReady");
    if !["OrderedReady", "Parallel"].contains(&policy) {
        errors.push(FieldError::not_supported("spec.podManagementPolicy", policy, &["OrderedReady", "Parallel"]));
    }
    selector_and_template(&mut errors, Some(&spec.selector), Some(&spec.template), &["Always"]);
    errors
}

pub(super) fn daemon_set(d: &DaemonSet) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(spec) = &d.spec else { return vec![FieldError::required("spec", "")] };
    non_negative(&mut errors, "spec.minReadySeconds", spec.min_ready_seconds);
    selector_and_template(&mut errors, Some(&spec.selector), Some(&spec.template), &["Always"]);
    errors
}

pub(super) fn job(j: &Job) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(spec) = &j.spec else { return vec![FieldError::required("spec", "")] };
    if let Some(selector) = &spec.selector {
        if let Ok(parsed) = LabelSelector::from_k8s(Some(selector)) {
            let labels = spec.template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
            if !parsed.matches(&labels) {
                errors.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    GoMap(Some(&labels)),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    let mode = spec.completion_mode.as_deref().unwrap_or("NonIndexed");
    if !["NonIndexed", "Indexed"].contains(&mode) {
        errors.push(FieldError::not_supported("spec.completionMode", mode, &["NonIndexed", "Indexed"]));
    }
    if mode == "Indexed" && spec.completions.is_none() {
        errors.push(FieldError::required("spec.completions", "when completion mode is Indexed"));
    }
    if spec.backoff_limit_per_index.is_some() && mode != "Indexed" {
        errors.push(FieldError::forbidden("spec.backoffLimitPerIndex", "requires indexed completion mode"));
    }
    if let Some(deadline) = spec.active_deadline_seconds.filter(|d| *d <= 0) {
        errors.push(FieldError::invalid("spec.activeDeadlineSeconds", deadline, "must be greater than 0"));
    }
    if spec.pod_failure_policy.is_some()
        && spec.template.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) != Some("Never")
    {
        errors.push(FieldError::invalid(
            "spec.template.spec.restartPolicy",
            spec.template.spec.as_ref().and_then(|s| s.restart_policy.clone()).unwrap_or_default(),
            "only \"Never\" is supported when podFailurePolicy is specified",
        ));
    }
    if let Some(policy) = spec.pod_replacement_policy.as_deref() {
        if !["TerminatingOrFailed", "Failed"].contains(&policy) {
            errors.push(FieldError::not_supported(
                "spec.podReplacementPolicy",
                policy,
                &["TerminatingOrFailed", "Failed"],
            ));
        }
    }
    non_negative(&mut errors, "spec.parallelism", spec.parallelism);
    non_negative(&mut errors, "spec.completions", spec.completions);
    non_negative(&mut errors, "spec.backoffLimit", spec.backoff_limit);
    if let Some(template) = &spec.template.spec {
        errors.extend(validate_pod_spec(template, "spec.template.spec"));
        let policy = template.restart_policy.as_deref().unwrap_or("Always");
        if !["OnFailure", "Never"].contains(&policy) {
            errors.push(FieldError::not_supported("spec.template.spec.restartPolicy", policy, &["OnFailure", "Never"]));
        }
    } else {
        errors.push(FieldError::required("spec.template.spec", ""));
    }
    errors
}

/// apps/v1 selectors never change after create.
pub(super) fn selector_immutable(
    new: Option<&meta::LabelSelector>,
    old: Option<&meta::LabelSelector>,
) -> Vec<FieldError> {
    if new == old {
        return Vec::new();
    }
    let new = new.cloned().unwrap_or_default();
    vec![FieldError::invalid("spec.selector", GoLabelSelector(&new), "field is immutable")]
}

/// A StatefulSet may change only replicas, ordinals, template, update strategy, revision history limit,
/// minReadySeconds and the PVC retention policy.
pub(super) fn stateful_set_update(new: &StatefulSet, old: &StatefulSet) -> Vec<FieldError> {
    let (Some(n), Some(o)) = (&new.spec, &old.spec) else { return Vec::new() };
    let mut masked = n.clone();
    masked.replicas = o.replicas;
    masked.ordinals = o.ordinals.clone();
    masked.template = o.template.clone();
    masked.update_strategy = o.update_strategy.clone();
    masked.revision_history_limit = o.revision_history_limit;
    masked.min_ready_seconds = o.min_ready_seconds;
    masked.persistent_volume_claim_retention_policy = o.persistent_volume_claim_retention_policy.clone();
    if masked == *o {
        return Vec::new();
    }
    vec![FieldError::forbidden(
        "spec",
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', \
         'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    )]
}

/// A Job's selector and completion mode never change; its template only while it is suspended; its
/// completions only together with parallelism on an Indexed Job (elastic Indexed Jobs).
pub(super) fn job_update(new: &Job, old: &Job) -> Vec<FieldError> {
    let (Some(n), Some(o)) = (&new.spec, &old.spec) else { return Vec::new() };
    let mut errors = Vec::new();
    if n.selector != o.selector {
        let selector = n.selector.clone().unwrap_or_default();
        errors.push(FieldError::invalid("spec.selector", GoLabelSelector(&selector), "field is immutable"));
    }
    if n.completion_mode != o.completion_mode {
        errors.push(FieldError::invalid(
            "spec.completionMode",
            n.completion_mode.clone().unwrap_or_default(),
            "field is immutable",
        ));
    }
    if n.template != o.template && o.suspend != Some(true) {
        errors.push(FieldError::invalid("spec.template", "", "field is immutable"));
    }
    let elastic = n.completion_mode.as_deref() == Some("Indexed") && n.completions == n.parallelism;
    if n.completions != o.completions && !elastic {
        errors.push(FieldError::invalid("spec.completions", n.completions.unwrap_or(0), "field is immutable"));
    }
    errors
}

/// A CronJob's schedule and time zone must parse; its policies be supported; its limits non-negative.
pub(super) fn cron_job(c: &k8s_openapi::api::batch::v1::CronJob) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(spec) = &c.spec else { return vec![FieldError::required("spec", "")] };
    if spec.schedule.trim().is_empty() {
        errors.push(FieldError::required("spec.schedule", ""));
    } else {
        match crate::schedule::Schedule::parse(&spec.schedule, spec.time_zone.as_deref()) {
            Ok(_) => {}
            Err(crate::schedule::ScheduleError::TimeZone(zone)) => {
                errors.push(FieldError::invalid("spec.timeZone", &zone, format!("unknown time zone {zone}")))
            }
            Err(e) => errors.push(FieldError::invalid("spec.schedule", &spec.schedule, e.to_string())),
        }
    }
    let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
    if !["Allow", "Forbid", "Replace"].contains(&policy) {
        errors.push(FieldError::not_supported("spec.concurrencyPolicy", policy, &["Allow", "Forbid", "Replace"]));
    }
    if let Some(d) = spec.starting_deadline_seconds.filter(|d| *d < 0) {
        errors.push(FieldError::invalid("spec.startingDeadlineSeconds", d, "must be greater than or equal to 0"));
    }
    non_negative(&mut errors, "spec.successfulJobsHistoryLimit", spec.successful_jobs_history_limit);
    non_negative(&mut errors, "spec.failedJobsHistoryLimit", spec.failed_jobs_history_limit);
    errors
}
