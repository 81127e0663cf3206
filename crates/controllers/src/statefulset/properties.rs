//! The StatefulSet guarantees (kubernetes-behaviour.md §2, StatefulSet), as properties.

use super::identity::{ordinal_of, ordinals, revision_of, start_ordinal, POD_NAME_LABEL};
use super::sync::is_healthy;
use crate::common::owner;
use crate::framework::{ClusterView, Property};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeMap;
use themelios_api::pod as podutil;

/// Every StatefulSet property.
pub fn properties() -> Vec<Property> {
    vec![
        Property::always("statefulset: at most one pod per identity", one_pod_per_identity),
        Property::every_step(
            "statefulset: OrderedReady creates a pod only when every predecessor is Running and Ready",
            ordered_creation,
        ),
        Property::every_step(
            "statefulset: OrderedReady deletes a pod only when its successors are gone or updated and ready",
            ordered_termination,
        ),
        Property::every_step(
            "statefulset: pods below the partition are never replaced for an update and come back at the current revision",
            partition_respected,
        ),
        Property::every_step("statefulset: OnDelete never replaces a running pod", on_delete_respected),
        Property::eventually(
            "statefulset: pods exist for exactly the ordinals in range, at the revision the strategy gives, status current",
            converged,
        ),
    ]
}

fn set_pods<'a>(view: &ClusterView<'a>, set: &StatefulSet) -> BTreeMap<i32, &'a Pod> {
    let uid = set.metadata.uid.clone().unwrap_or_default();
    let namespace = set.metadata.namespace.clone().unwrap_or_default();
    view.list_in::<Pod>(&namespace)
        .filter(|p| owner::is_controlled_by(&p.metadata, &uid))
        .filter_map(|p| Some((ordinal_of(set, p.metadata.name.as_deref()?)?, p)))
        .collect()
}

fn ordered(set: &StatefulSet) -> bool {
    set.spec.as_ref().and_then(|s| s.pod_management_policy.as_deref()).unwrap_or("OrderedReady") == "OrderedReady"
}

fn strategy(set: &StatefulSet) -> (&str, i32) {
    let s = set.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
    let partition = s.and_then(|s| s.rolling_update.as_ref()).and_then(|r| r.partition).unwrap_or(0);
    (s.and_then(|s| s.type_.as_deref()).unwrap_or("RollingUpdate"), partition)
}

fn name(set: &StatefulSet) -> &str {
    set.metadata.name.as_deref().unwrap_or("")
}

fn one_pod_per_identity(view: &ClusterView) -> Result<(), String> {
    let mut seen: BTreeMap<(String, String), &str> = BTreeMap::new();
    for p in view.list::<Pod>().filter(|p| !podutil::is_terminal(p)) {
        let Some(identity) = p.metadata.labels.as_ref().and_then(|l| l.get(POD_NAME_LABEL)) else { continue };
        let key = (p.metadata.namespace.clone().unwrap_or_default(), identity.clone());
        let pod_name = p.metadata.name.as_deref().unwrap_or("");
        if let Some(other) = seen.insert(key, pod_name) {
            return Err(format!("pods {other} and {pod_name} both carry identity {identity}"));
        }
    }
    Ok(())
}

/// Pods (by ordinal) that appeared in the step.
fn created<'a>(before: &BTreeMap<i32, &Pod>, after: &BTreeMap<i32, &'a Pod>) -> Vec<(i32, &'a Pod)> {
    after
        .iter()
        .filter(|(o, p)| before.get(o).is_none_or(|b| b.metadata.uid != p.metadata.uid))
        .map(|(o, p)| (*o, *p))
        .collect()
}

/// Ordinals of running pods that began deleting (or vanished) in the step.
fn started_deleting(before: &BTreeMap<i32, &Pod>, after: &BTreeMap<i32, &Pod>) -> Vec<i32> {
    before
        .iter()
        .filter(|(_, p)| !podutil::is_terminal(p) && !podutil::is_deleting(p))
        .filter(|(o, p)| after.get(o).is_none_or(|a| a.metadata.uid != p.metadata.uid || podutil::is_deleting(a)))
        .map(|(o, _)| *o)
        .collect()
}

/// One set across one step: the set as it was, and its pods by ordinal before and after.
type SetStep<'a> = (&'a StatefulSet, BTreeMap<i32, &'a Pod>, BTreeMap<i32, &'a Pod>);

fn both<'a>(before: &ClusterView<'a>, after: &ClusterView<'a>) -> Vec<SetStep<'a>> {
    after
        .list::<StatefulSet>()
        .map(|set| {
            let old =
                before.get::<StatefulSet>(set.metadata.namespace.as_deref().unwrap_or(""), name(set)).unwrap_or(set);
            (old, set_pods(before, old), set_pods(after, set))
        })
        .collect()
}

fn ordered_creation(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    for (set, pods_before, pods_after) in both(before, after) {
        if !ordered(set) {
            continue;
        }
        for (ordinal, _) in created(&pods_before, &pods_after) {
            let start = start_ordinal(set);
            if let Some(gap) = (start..ordinal).find(|j| pods_before.get(j).is_none_or(|p| !is_healthy(p))) {
                return Err(format!("{} created pod {ordinal} while pod {gap} was not Running and Ready", name(set)));
            }
        }
    }
    Ok(())
}

fn ordered_termination(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    for (set, pods_before, pods_after) in both(before, after) {
        if !ordered(set) {
            continue;
        }
        let range = ordinals(set);
        let update = super::revision::update_revision_name(before, set);
        for k in started_deleting(&pods_before, &pods_after) {
            let successors = pods_before.iter().filter(|(o, _)| **o > k);
            for (j, pod) in successors {
                let fine = range.contains(&k)
                    && range.contains(j)
                    && is_healthy(pod)
                    && revision_of(pod).map(str::to_string) == update;
                if !fine {
                    return Err(format!("{} deleted pod {k} while pod {j} was still there", name(set)));
                }
            }
        }
    }
    Ok(())
}

fn partition_respected(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    for (set, pods_before, pods_after) in both(before, after) {
        let (kind, partition) = strategy(set);
        if kind != "RollingUpdate" {
            continue;
        }
        let range = ordinals(set);
        let limit = (range.start + partition).min(range.end);
        if let Some(k) =
            started_deleting(&pods_before, &pods_after).into_iter().find(|k| *k >= range.start && *k < limit)
        {
            return Err(format!("{} replaced pod {k}, below partition {partition}", name(set)));
        }
        let current = set.status.as_ref().and_then(|s| s.current_revision.clone());
        for (ordinal, pod) in created(&pods_before, &pods_after) {
            if ordinal < limit && current.is_some() && revision_of(pod).map(str::to_string) != current {
                return Err(format!(
                    "{} recreated pod {ordinal} below the partition at {:?}, not {current:?}",
                    name(set),
                    revision_of(pod)
                ));
            }
        }
    }
    Ok(())
}

fn on_delete_respected(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    for (set, pods_before, pods_after) in both(before, after) {
        if strategy(set).0 != "OnDelete" {
            continue;
        }
        let range = ordinals(set);
        if let Some(k) = started_deleting(&pods_before, &pods_after).into_iter().find(|k| range.contains(k)) {
            return Err(format!("{} (OnDelete) replaced running pod {k}", name(set)));
        }
    }
    Ok(())
}

fn converged(view: &ClusterView) -> Result<(), String> {
    for set in view.list::<StatefulSet>().filter(|s| s.metadata.deletion_timestamp.is_none()) {
        let pods = set_pods(view, set);
        let range = ordinals(set);
        let live: Vec<i32> = pods.iter().filter(|(_, p)| podutil::is_active(p)).map(|(o, _)| *o).collect();
        let wanted: Vec<i32> = range.clone().collect();
        if live != wanted {
            return Err(format!("{} has live pods {live:?}, wants {wanted:?}", name(set)));
        }
        let status = set.status.clone().unwrap_or_default();
        let (kind, partition) = strategy(set);
        if kind == "RollingUpdate" {
            for o in (range.start + partition)..range.end {
                if revision_of(pods[&o]).map(str::to_string) != status.update_revision {
                    return Err(format!(
                        "{} pod {o} is not at the update revision {:?}",
                        name(set),
                        status.update_revision
                    ));
                }
            }
        }
        if status.replicas != range.len() as i32 || status.observed_generation != set.metadata.generation {
            return Err(format!(
                "{} status replicas={} observedGeneration={:?}, wants {} and {:?}",
                name(set),
                status.replicas,
                status.observed_generation,
                range.len(),
                set.metadata.generation
            ));
        }
    }
    Ok(())
}
