//! Pod GC guarantees, as properties.

use crate::framework::{ClusterView, Property};
use k8s_openapi::api::core::v1::{Node, Pod};
use themelios_api::pod;

/// Every Pod GC property.
pub fn properties() -> Vec<Property> {
    vec![Property::eventually(
        "podgc: no live pod stays bound to a node that no longer exists",
        no_pods_on_missing_nodes,
    )]
}

fn no_pods_on_missing_nodes(view: &ClusterView) -> Result<(), String> {
    for p in view.list::<Pod>() {
        let Some(node) = pod::node_name(p) else { continue };
        let held =
            p.metadata.deletion_timestamp.is_some() && p.metadata.finalizers.as_ref().is_some_and(|f| !f.is_empty());
        if view.get::<Node>("", node).is_none() && !held {
            return Err(format!("pod {} is bound to missing node {node}", p.metadata.name.as_deref().unwrap_or("")));
        }
    }
    Ok(())
}
