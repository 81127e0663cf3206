//! The DaemonSet guarantees (kubernetes-behaviour.md §2, DaemonSet), as properties.

use super::{placement, target_node};
use crate::common::owner;
use crate::framework::{ClusterView, Property};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use std::collections::BTreeMap;
use themelios_api::pod as podutil;

/// Every DaemonSet property.
pub fn properties() -> Vec<Property> {
    vec![
        Property::always("daemonset: at most one daemon pod per node outside a surge window", one_per_node),
        Property::eventually(
            "daemonset: exactly one pod on every eligible node and none elsewhere, status current",
            converged,
        ),
    ]
}

fn per_node<'a>(view: &ClusterView<'a>, ds: &DaemonSet) -> BTreeMap<String, Vec<&'a Pod>> {
    let uid = ds.metadata.uid.clone().unwrap_or_default();
    let mut map: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
    for p in view.list::<Pod>().filter(|p| owner::is_controlled_by(&p.metadata, &uid) && podutil::is_active(p)) {
        map.entry(target_node(p).unwrap_or_default()).or_default().push(p);
    }
    map
}

fn one_per_node(view: &ClusterView) -> Result<(), String> {
    for ds in view.list::<DaemonSet>() {
        let strategy = ds.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
        let surge =
            strategy.and_then(|s| s.rolling_update.as_ref()).and_then(|r| r.max_surge.as_ref()).is_some_and(|v| {
                !matches!(v, k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(0))
                    && *v != k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("0%".into())
            });
        let allowed = if surge { 2 } else { 1 };
        for (node, pods) in per_node(view, ds) {
            if pods.len() > allowed {
                return Err(format!(
                    "DaemonSet {} has {} pods on node {node}",
                    ds.metadata.name.as_deref().unwrap_or(""),
                    pods.len()
                ));
            }
        }
    }
    Ok(())
}

fn converged(view: &ClusterView) -> Result<(), String> {
    for ds in view.list::<DaemonSet>().filter(|d| d.metadata.deletion_timestamp.is_none()) {
        let name = ds.metadata.name.as_deref().unwrap_or("");
        let pods = per_node(view, ds);
        let mut desired = 0;
        for node in view.list::<Node>() {
            let node_name = node.metadata.name.clone().unwrap_or_default();
            let count = pods.get(&node_name).map_or(0, Vec::len);
            let (should_run, should_continue) = placement(ds, node);
            desired += i32::from(should_run);
            if should_run && count != 1 {
                return Err(format!("DaemonSet {name} has {count} pods on eligible node {node_name}"));
            }
            if !should_continue && count > 0 {
                return Err(format!("DaemonSet {name} still runs on ineligible node {node_name}"));
            }
        }
        let status = ds.status.clone().unwrap_or_default();
        if status.desired_number_scheduled != desired || status.observed_generation != ds.metadata.generation {
            return Err(format!(
                "DaemonSet {name} status desired={} observedGeneration={:?}",
                status.desired_number_scheduled, status.observed_generation
            ));
        }
    }
    Ok(())
}
