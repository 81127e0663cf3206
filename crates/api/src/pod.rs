//! Facts about pods that the API rules and several controllers need: phase, readiness, conditions.

use crate::time::Time;
use k8s_openapi::api::core::v1::{Pod, PodCondition};

/// `status.phase`, `Pending` when unset.
pub fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending")
}

/// Whether the pod has finished for good (Succeeded or Failed).
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn is_deleting(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Whether the pod counts as active for a workload controller: not terminal and not being deleted.
pub fn is_active(pod: &Pod) -> bool {
    !is_terminal(pod) && !is_deleting(pod)
}

/// The condition of the given type.
pub fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

/// Whether the Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

/// When the pod last became Ready, if it is Ready.
pub fn ready_since(pod: &Pod) -> Option<Time> {
    let ready = condition(pod, "Ready").filter(|c| c.status == "True")?;
    Some(ready.last_transition_time.as_ref().map(Time::from_k8s).unwrap_or(Time(0)))
}

/// Whether the pod has been Ready for at least `min_ready_seconds` at `now`.
pub fn is_available(pod: &Pod, min_ready_seconds: i64, now: Time) -> bool {
    match ready_since(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(since) => now.seconds_since(since) >= min_ready_seconds,
    }
}

/// Sets a condition, keeping lastTransitionTime when the status does not change. Returns whether anything changed.
pub fn set_condition(pod: &mut Pod, mut new: PodCondition, now: Time) -> bool {
    let status = pod.status.get_or_insert_with(Default::default);
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(existing) => {
            if existing.status == new.status {
                new.last_transition_time = existing.last_transition_time.clone();
            } else if new.last_transition_time.is_none() {
                new.last_transition_time = Some(now.to_k8s());
            }
            new.last_probe_time = existing.last_probe_time.clone().or(new.last_probe_time);
            if *existing == new {
                return false;
            }
            *existing = new;
        }
        None => {
            if new.last_transition_time.is_none() {
                new.last_transition_time = Some(now.to_k8s());
            }
            conditions.push(new);
        }
    }
    true
}

/// A condition with a type, status, reason and message.
pub fn new_condition(type_: &str, status: bool, reason: &str, message: &str) -> PodCondition {
    PodCondition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: (!reason.is_empty()).then(|| reason.to_string()),
        message: (!message.is_empty()).then(|| message.to_string()),
        ..Default::default()
    }
}

/// The sum of restart counts over the pod's containers.
pub fn restart_count(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).sum())
        .unwrap_or(0)
}

/// `spec.nodeName`, if bound.
pub fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.node_name.as_deref().filter(|n| !n.is_empty())
}
