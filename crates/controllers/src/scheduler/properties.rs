//! The scheduler's guarantees (kubernetes-behaviour.md §2, Scheduler), as properties.

use super::filters::{matches_node_affinity, pod_tolerates};
use super::resources::{node_allocatable, pod_requests, Resources};
use crate::framework::{ClusterView, Property};
use k8s_openapi::api::core::v1::{Node, Pod};
use std::collections::BTreeMap;
use themelios_api::pod;

/// Every scheduler property.
pub fn properties() -> Vec<Property> {
    vec![
        Property::every_step(
            "scheduler: a bind never takes a node's requests past its allocatable resources",
            binds_fit,
        ),
        Property::every_step("scheduler: a pod's node never changes once set", node_never_changes),
        Property::every_step(
            "scheduler: binds only to nodes the pod selects and whose NoSchedule taints it tolerates",
            binds_to_feasible_nodes,
        ),
    ]
}

fn binds_fit(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    let newly_bound: Vec<&str> = after
        .list::<Pod>()
        .filter(|p| {
            let ns = p.metadata.namespace.as_deref().unwrap_or("");
            let name = p.metadata.name.as_deref().unwrap_or("");
            pod::node_name(p).is_some() && before.get::<Pod>(ns, name).is_some_and(|old| pod::node_name(old).is_none())
        })
        .filter_map(|p| pod::node_name(p))
        .collect();
    let mut used: BTreeMap<&str, Resources> = BTreeMap::new();
    for p in after.list::<Pod>().filter(|p| !pod::is_terminal(p)) {
        if let Some(node) = pod::node_name(p) {
            used.entry(node).or_default().add(&pod_requests(p));
        }
    }
    for name in newly_bound {
        let (Some(node), Some(requested)) = (after.get::<Node>("", name), used.get(name)) else { continue };
        let allocatable = node_allocatable(node);
        for resource in ["cpu", "memory"] {
            if allocatable.0.contains_key(resource) && requested.get(resource) > allocatable.get(resource) {
                return Err(format!(
                    "binding to node {name} made {resource} requests {} exceed allocatable {} (milli-units)",
                    requested.get(resource),
                    allocatable.get(resource)
                ));
            }
        }
    }
    Ok(())
}

fn node_never_changes(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    for p in after.list::<Pod>() {
        let ns = p.metadata.namespace.as_deref().unwrap_or("");
        let name = p.metadata.name.as_deref().unwrap_or("");
        let Some(old) = before.get::<Pod>(ns, name) else { continue };
        if old.metadata.uid != p.metadata.uid {
            continue;
        }
        if let (Some(was), now) = (pod::node_name(old), pod::node_name(p)) {
            if now != Some(was) {
                return Err(format!("pod {ns}/{name} moved from node {was} to {now:?}"));
            }
        }
    }
    Ok(())
}

fn binds_to_feasible_nodes(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    for p in after.list::<Pod>() {
        let ns = p.metadata.namespace.as_deref().unwrap_or("");
        let name = p.metadata.name.as_deref().unwrap_or("");
        let Some(node_name) = pod::node_name(p) else { continue };
        let newly_bound = before.get::<Pod>(ns, name).is_some_and(|old| pod::node_name(old).is_none());
        // Pods bound directly through spec.nodeName bypass the scheduler and are not its doing.
        let by_scheduler = pod::condition(p, "PodScheduled").is_some_and(|c| c.status == "True");
        if !newly_bound || !by_scheduler {
            continue;
        }
        let Some(node) = before.get::<Node>("", node_name) else { continue };
        if !matches_node_affinity(p, node) {
            return Err(format!("pod {ns}/{name} bound to {node_name}, which its node selector or affinity excludes"));
        }
        let taints = node.spec.as_ref().and_then(|s| s.taints.as_ref()).into_iter().flatten();
        if let Some(t) = taints.filter(|t| t.effect == "NoSchedule").find(|t| !pod_tolerates(p, t)) {
            return Err(format!("pod {ns}/{name} bound to {node_name} despite untolerated taint {}", t.key));
        }
    }
    Ok(())
}
