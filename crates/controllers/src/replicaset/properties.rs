//! The ReplicaSet guarantees (kubernetes-behaviour.md §2, ReplicaSet), as properties.

use crate::common::owner;
use crate::framework::{ClusterView, Property};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeMap;
use themelios_api::pod;
use themelios_api::selector::LabelSelector;

/// Every ReplicaSet property.
pub fn properties() -> Vec<Property> {
    vec![
        Property::every_step(
            "replicaset: a pod's controller never changes to another owner",
            controller_never_switches,
        ),
        Property::every_step(
            "replicaset: a create never takes a ReplicaSet's active pods above spec.replicas",
            no_surplus_create,
        ),
        Property::eventually("replicaset: each ReplicaSet has exactly spec.replicas active pods", replicas_match),
        Property::eventually("replicaset: no orphan pod matches a live ReplicaSet", no_matching_orphans),
        Property::eventually("replicaset: status counts its pods and observes its generation", status_is_current),
    ]
}

fn live_sets<'a>(view: &ClusterView<'a>) -> impl Iterator<Item = &'a ReplicaSet> + 'a {
    view.list::<ReplicaSet>().filter(|rs| rs.metadata.deletion_timestamp.is_none())
}

fn active_owned<'a>(view: &ClusterView<'a>, rs: &ReplicaSet) -> Vec<&'a Pod> {
    let uid = rs.metadata.uid.clone().unwrap_or_default();
    let namespace = rs.metadata.namespace.clone().unwrap_or_default();
    view.list::<Pod>()
        .filter(|p| p.metadata.namespace.as_deref() == Some(namespace.as_str()))
        .filter(|p| owner::is_controlled_by(&p.metadata, &uid) && pod::is_active(p))
        .collect()
}

fn controller_never_switches(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    let previous: BTreeMap<&str, &str> = before
        .list::<Pod>()
        .filter_map(|p| Some((p.metadata.uid.as_deref()?, owner::controller_of(&p.metadata)?.uid.as_str())))
        .collect();
    for p in after.list::<Pod>() {
        let (Some(uid), Some(now)) = (p.metadata.uid.as_deref(), owner::controller_of(&p.metadata)) else { continue };
        if let Some(was) = previous.get(uid) {
            if *was != now.uid {
                return Err(format!(
                    "pod {} was controlled by {was} and is now controlled by {} ({})",
                    p.metadata.name.as_deref().unwrap_or(""),
                    now.uid,
                    now.name
                ));
            }
        }
    }
    Ok(())
}

/// Surplus pods are what kubernetes #129795 makes: expectations expire while the pod watch lags, and the
/// controller creates pods it cannot see it already has. They are deleted once the cache catches up, so
/// only the step that creates one can be caught: after it, the ReplicaSet has more active pods than it
/// asks for, before or after the step. A create while a change of the spec is in flight (the generation
/// is above the one the status observed) is not judged: the controller may rightly act on the replicas
/// it read, the larger of two the user asked for.
fn no_surplus_create(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    for p in after.list::<Pod>() {
        let (namespace, name) =
            (p.metadata.namespace.as_deref().unwrap_or(""), p.metadata.name.as_deref().unwrap_or(""));
        if before.get::<Pod>(namespace, name).is_some_and(|old| old.metadata.uid == p.metadata.uid) {
            continue;
        }
        let Some(owner) = owner::controller_of(&p.metadata).filter(|r| r.kind == "ReplicaSet") else { continue };
        let Some(rs) = after
            .get::<ReplicaSet>(namespace, &owner.name)
            .filter(|rs| rs.metadata.uid.as_deref() == Some(owner.uid.as_str()))
        else {
            continue;
        };
        let observed = rs.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(1);
        if rs.metadata.generation.unwrap_or(1) > observed {
            continue;
        }
        let wanted = |rs: &ReplicaSet| rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let largest = before.get::<ReplicaSet>(namespace, &owner.name).map_or(0, wanted).max(wanted(rs));
        let active = active_owned(after, rs).len();
        if active > largest.max(0) as usize {
            return Err(format!(
                "creating pod {name} gave ReplicaSet {} {active} active pods for spec.replicas {largest}",
                owner.name
            ));
        }
    }
    Ok(())
}

fn replicas_match(view: &ClusterView) -> Result<(), String> {
    for rs in live_sets(view) {
        let want = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1) as usize;
        let have = active_owned(view, rs).len();
        if have != want {
            return Err(format!(
                "ReplicaSet {} wants {want} replicas and has {have} active pods",
                rs.metadata.name.as_deref().unwrap_or("")
            ));
        }
    }
    Ok(())
}

fn no_matching_orphans(view: &ClusterView) -> Result<(), String> {
    for rs in live_sets(view) {
        let Some(spec) = rs.spec.as_ref() else { continue };
        let Ok(selector) = LabelSelector::from_k8s(Some(&spec.selector)) else { continue };
        let namespace = rs.metadata.namespace.as_deref();
        let orphan = view.list::<Pod>().find(|p| {
            p.metadata.namespace.as_deref() == namespace
                && p.metadata.deletion_timestamp.is_none()
                && owner::controller_of(&p.metadata).is_none()
                && selector.matches_opt(p.metadata.labels.as_ref())
        });
        if let Some(p) = orphan {
            return Err(format!(
                "pod {} matches ReplicaSet {} but has no controller",
                p.metadata.name.as_deref().unwrap_or(""),
                rs.metadata.name.as_deref().unwrap_or("")
            ));
        }
    }
    Ok(())
}

fn status_is_current(view: &ClusterView) -> Result<(), String> {
    for rs in live_sets(view) {
        let status = rs.status.clone().unwrap_or_default();
        let active = active_owned(view, rs);
        let ready = active.iter().filter(|p| pod::is_ready(p)).count() as i32;
        let name = rs.metadata.name.as_deref().unwrap_or("");
        if status.replicas != active.len() as i32 || status.ready_replicas.unwrap_or(0) != ready {
            return Err(format!(
                "ReplicaSet {name} status says replicas={} ready={:?}, pods say {} and {ready}",
                status.replicas,
                status.ready_replicas,
                active.len()
            ));
        }
        if status.observed_generation != rs.metadata.generation {
            return Err(format!(
                "ReplicaSet {name} observedGeneration {:?} != generation {:?}",
                status.observed_generation, rs.metadata.generation
            ));
        }
    }
    Ok(())
}
