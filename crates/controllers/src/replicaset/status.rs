//! ReplicaSet status from its active pods.

use super::Failure;
use crate::framework::ClusterView;
use crate::framework::Timers;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use themelios_api::pod;

/// The status a ReplicaSet should have: counts over its active pods, the generation observed, and the
/// ReplicaFailure condition while creates or deletes fail. Asks to be woken when a ready pod will become
/// available.
pub(super) fn compute(
    rs: &ReplicaSet,
    active: &[&Pod],
    failure: Option<&Failure>,
    view: &ClusterView,
    timers: &mut Timers,
) -> ReplicaSetStatus {
    let spec = rs.spec.as_ref();
    let min_ready = i64::from(spec.and_then(|s| s.min_ready_seconds).unwrap_or(0));
    let template_labels = spec
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let now = view.now();
    let fully_labeled = active
        .iter()
        .filter(|p| {
            let labels = p.metadata.labels.clone().unwrap_or_default();
            template_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
        .count();
    let ready = active.iter().filter(|p| pod::is_ready(p)).count();
    let available = active.iter().filter(|p| pod::is_available(p, min_ready, now)).count();
    for p in active {
        if let Some(since) = pod::ready_since(p) {
            timers.wake_at(since.plus_seconds(min_ready));
        }
    }
    let previous = rs.status.clone().unwrap_or_default();
    let mut conditions: Vec<ReplicaSetCondition> =
        previous.conditions.clone().unwrap_or_default().into_iter().filter(|c| c.type_ != "ReplicaFailure").collect();
    if let Some(failure) = failure {
        let kept = previous.conditions.iter().flatten().find(|c| c.type_ == "ReplicaFailure" && c.status == "True");
        conditions.push(ReplicaSetCondition {
            type_: "ReplicaFailure".into(),
            status: "True".into(),
            reason: Some(failure.reason.into()),
            message: Some(failure.message.clone()),
            last_transition_time: Some(
                kept.and_then(|c| c.last_transition_time.clone()).unwrap_or_else(|| now.to_k8s()),
            ),
        });
    }
    ReplicaSetStatus {
        replicas: active.len() as i32,
        fully_labeled_replicas: Some(fully_labeled as i32),
        ready_replicas: Some(ready as i32),
        available_replicas: Some(available as i32),
        observed_generation: rs.metadata.generation,
        conditions: (!conditions.is_empty()).then_some(conditions),
        terminating_replicas: previous.terminating_replicas,
    }
}
