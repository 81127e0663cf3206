//! StatefulSet status from its pods and revisions.

use super::identity::{replicas, revision_of};
use super::sync::Revisions;
use crate::framework::ClusterView;
use crate::framework::Timers;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use themelios_api::pod as podutil;

/// The status the set should have: counts over its pods (terminating pods count as replicas but as
/// neither current nor updated), its revisions, and the rolling update completed once every pod is
/// updated and ready.
pub fn compute(
    set: &StatefulSet,
    pods: &[&Pod],
    revisions: &Revisions,
    view: &ClusterView,
    timers: &mut Timers,
) -> StatefulSetStatus {
    let min_ready = i64::from(set.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0));
    let current = revisions.current.metadata.name.clone();
    let update = revisions.update.metadata.name.clone();
    let previous = set.status.clone().unwrap_or_default();
    let mut status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        // Upstream writes the count even when it is 0.
        collision_count: Some(previous.collision_count.unwrap_or(0)),
        current_revision: current.clone(),
        update_revision: update.clone(),
        conditions: previous.conditions.clone(),
        ..Default::default()
    };
    let (mut ready, mut available, mut at_current, mut at_update) = (0, 0, 0, 0);
    for pod in pods {
        status.replicas += 1;
        if podutil::phase(pod) == "Running" && podutil::is_ready(pod) {
            ready += 1;
            if podutil::is_available(pod, min_ready, view.now()) {
                available += 1;
            } else if let Some(since) = podutil::ready_since(pod) {
                timers.wake_at(since.plus_seconds(min_ready));
            }
        }
        if !podutil::is_deleting(pod) {
            let revision = revision_of(pod).map(str::to_string);
            at_current += i32::from(revision.is_some() && revision == current);
            at_update += i32::from(revision.is_some() && revision == update);
        }
    }
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(available);
    status.current_replicas = Some(at_current);
    status.updated_replicas = Some(at_update);
    let rolling = set
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
        == "RollingUpdate";
    if rolling && at_update == status.replicas && ready == status.replicas && status.replicas == replicas(set) {
        status.current_revision = update;
        status.current_replicas = Some(at_update);
    }
    status
}
