//! Which pods go first on scale-down: upstream's ActivePodsWithRanks ordering.
//!
//! Earlier in the order is deleted first: unassigned before assigned; Pending before Unknown before Running;
//! not ready before ready; lower `controller.kubernetes.io/pod-deletion-cost`; more related pods on the same
//! node; ready for a shorter time (log-scale buckets); more container restarts; created more recently.

use k8s_openapi::api::core::v1::Pod;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use themelios_api::{pod, Time};

/// The annotation that sets a pod's deletion cost.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

fn phase_rank(p: &Pod) -> u8 {
    match pod::phase(p) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    }
}

fn deletion_cost(p: &Pod) -> i32 {
    p.metadata.annotations.as_ref().and_then(|a| a.get(POD_DELETION_COST)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn max_restarts(p: &Pod) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().map(|c| c.restart_count).max())
        .unwrap_or(0)
}

/// The log2 bucket of how long ago `since` was, in nanoseconds as upstream measures it (-1 if not past).
fn log_bucket(since: Time, now: Time) -> i64 {
    let seconds = now.seconds_since(since);
    if seconds <= 0 {
        return -1;
    }
    ((seconds as f64) * 1e9).log2().floor() as i64
}

/// Sorts `pods` so that the pod to delete first comes first. `related` are the active pods of this owner
/// and its siblings, used to find pods doubled up on a node.
pub fn rank_for_deletion<'a>(mut pods: Vec<&'a Pod>, related: &[&Pod], now: Time) -> Vec<&'a Pod> {
    let mut per_node: BTreeMap<&str, i32> = BTreeMap::new();
    for p in related {
        if let Some(node) = pod::node_name(p) {
            *per_node.entry(node).or_default() += 1;
        }
    }
    let colocated = |p: &Pod| pod::node_name(p).and_then(|n| per_node.get(n)).copied().unwrap_or(0);
    pods.sort_by(|a, b| {
        let assigned = |p: &Pod| pod::node_name(p).is_some();
        assigned(a)
            .cmp(&assigned(b))
            .then_with(|| phase_rank(a).cmp(&phase_rank(b)))
            .then_with(|| pod::is_ready(a).cmp(&pod::is_ready(b)))
            .then_with(|| deletion_cost(a).cmp(&deletion_cost(b)))
            .then_with(|| colocated(b).cmp(&colocated(a)))
            .then_with(|| match (pod::ready_since(a), pod::ready_since(b)) {
                (Some(ra), Some(rb)) => log_bucket(ra, now).cmp(&log_bucket(rb, now)),
                _ => Ordering::Equal,
            })
            .then_with(|| max_restarts(b).cmp(&max_restarts(a)))
            .then_with(|| {
                let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(Time::from_k8s);
                match (created(a), created(b)) {
                    (Some(ca), Some(cb)) => log_bucket(ca, now).cmp(&log_bucket(cb, now)),
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                }
            })
            .then_with(|| b.metadata.name.cmp(&a.metadata.name))
    });
    pods
}
