//! podFailurePolicy and successPolicy of a Job.

use super::indexes::parse_intervals;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeSet;

/// What a podFailurePolicy rule says to do with a failed pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Fail the whole Job, with this message.
    FailJob(String),
    /// Fail the pod's index (backoffLimitPerIndex).
    FailIndex,
    /// Do not count the failure.
    Ignore,
    /// Count it as usual.
    Count,
}

fn exit_codes(pod: &Pod) -> Vec<(String, i32)> {
    let status = pod.status.as_ref();
    status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .chain(status.and_then(|s| s.init_container_statuses.as_ref()))
        .flatten()
        .filter_map(|c| Some((c.name.clone(), c.state.as_ref()?.terminated.as_ref()?.exit_code)))
        .collect()
}

/// The action of the first rule matching a failed pod (`None` if no rule matches: count it).
pub fn on_failure(job: &Job, pod: &Pod) -> Option<Action> {
    let rules = job.spec.as_ref()?.pod_failure_policy.as_ref()?.rules.clone();
    let pod_name =
        format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or(""), pod.metadata.name.as_deref().unwrap_or(""));
    for (i, rule) in rules.iter().enumerate() {
        let mut matched: Option<String> = None;
        if let Some(req) = &rule.on_exit_codes {
            let in_values = req.operator == "In";
            matched = exit_codes(pod)
                .into_iter()
                .filter(|(name, _)| req.container_name.as_ref().is_none_or(|n| n == name))
                .find(
                    |(_, code)| {
                        if in_values {
                            req.values.contains(code)
                        } else {
                            *code != 0 && !req.values.contains(code)
                        }
                    },
                )
                .map(|(name, code)| format!("Container {name} for pod {pod_name} failed with exit code {code}"));
        }
        for cond in rule.on_pod_conditions.iter().flatten() {
            let has = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .any(|c| c.type_ == cond.type_ && c.status == cond.status);
            if has && matched.is_none() {
                matched = Some(format!("Pod {pod_name} has condition {} matching", cond.type_));
            }
        }
        if let Some(what) = matched {
            return Some(match rule.action.as_str() {
                "FailJob" => Action::FailJob(format!("{what} matching FailJob rule at index {i}")),
                "FailIndex" => Action::FailIndex,
                "Ignore" => Action::Ignore,
                _ => Action::Count,
            });
        }
    }
    None
}

/// Whether the successPolicy of an Indexed Job is met by the succeeded indexes.
pub fn success_policy_met(job: &Job, succeeded: &BTreeSet<i32>) -> bool {
    let Some(policy) = job.spec.as_ref().and_then(|s| s.success_policy.as_ref()) else { return false };
    policy.rules.iter().any(|rule| {
        let scope: BTreeSet<i32> = match &rule.succeeded_indexes {
            Some(text) => parse_intervals(text),
            None => succeeded.clone(),
        };
        let done = scope.iter().filter(|i| succeeded.contains(i)).count() as i32;
        match (rule.succeeded_indexes.is_some(), rule.succeeded_count) {
            (true, None) => done == scope.len() as i32,
            (_, Some(count)) => done >= count,
            (false, None) => false,
        }
    })
}
