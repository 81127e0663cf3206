//! [`PodsByNode`]: an informer-cache index of pods by the node they are bound to.

use k8s_openapi::api::core::v1::Pod;
use std::sync::Arc;
use themelios_api::store::KindMap;
use themelios_api::{pod, Kind, Object, Resource, StoredObject};

/// The pods of a cache grouped by the node they are bound to, pods not yet bound under the empty name.
///
/// Upstream's kubelet watches only its own node's pods (a field selector) and the scheduler keeps pending
/// pods in a queue; a driver that holds thousands of nodes' pods in one cache builds this index so that a
/// kubelet's or the scheduler's step reads its share instead of every pod. It changes nothing a step
/// sees: [`ClusterView::pods_on_node`](super::ClusterView::pods_on_node) without an index filters all pods.
///
/// ```
/// use themelios_controllers::framework::PodsByNode;
/// use themelios_api::store::KindMap;
/// let index = PodsByNode::build(&KindMap::default());
/// assert!(index.on("node-1").is_none());
/// ```
#[derive(Clone, Debug, Default)]
pub struct PodsByNode {
    nodes: imbl::HashMap<String, KindMap>,
}

/// The node agents a change to `object` concerns, for a driver that wakes each
/// [node agent](super::Role::NodeAgent) only for its own objects: `Some(node)` for a pod bound to
/// `node` (`Some("")` for one not yet bound: no agent's), a Node, or a Lease named for a node; `None` for
/// an object of another kind, which concerns every agent that reads its kind.
///
/// ```
/// use themelios_controllers::framework::node_of_change;
/// use themelios_api::Resource;
/// let mut node = k8s_openapi::api::core::v1::Node::default();
/// node.metadata.name = Some("node-1".into());
/// assert_eq!(node_of_change(&node.into_object()), Some("node-1"));
/// ```
pub fn node_of_change(object: &Object) -> Option<&str> {
    match object.kind() {
        Kind::Pod => Some(Pod::from_object(object).and_then(pod::node_name).unwrap_or("")),
        Kind::Node | Kind::Lease => Some(object.meta().name.as_deref().unwrap_or("")),
        _ => None,
    }
}

fn node_of(object: &StoredObject) -> &str {
    Pod::from_object(object.object()).and_then(pod::node_name).unwrap_or("")
}

impl PodsByNode {
    /// The index of every pod in `pods`.
    pub fn build(pods: &KindMap) -> Self {
        let mut index = Self::default();
        for object in pods.values() {
            index.update(None, Some(object));
        }
        index
    }

    /// Records a change to a pod: `old` is the version the cache held (none for a new pod), `new` the
    /// version it holds now (none once deleted).
    pub fn update(&mut self, old: Option<&Arc<StoredObject>>, new: Option<&Arc<StoredObject>>) {
        if let Some(old) = old {
            let node = node_of(old);
            if let Some(pods) = self.nodes.get_mut(node) {
                pods.remove(old.name());
                if pods.is_empty() {
                    self.nodes.remove(node);
                }
            }
        }
        if let Some(new) = new {
            self.nodes.entry(node_of(new).to_string()).or_default().insert(new.clone());
        }
    }

    /// The pods bound to `node` (the empty name: the pods not yet bound), if any.
    pub fn on(&self, node: &str) -> Option<&KindMap> {
        self.nodes.get(node)
    }
}

#[cfg(test)]
mod tests {
    use super::PodsByNode;
    use crate::fixtures::pod;
    use crate::framework::ClusterView;
    use std::sync::Arc;
    use themelios_api::store::{KindMap, Objects};
    use themelios_api::{Kind, ObjectRef, Resource, StoredObject, Time};

    fn stored(name: &str, node: Option<&str>) -> Arc<StoredObject> {
        let mut p = pod("default", name, &[]);
        if let Some(spec) = p.spec.as_mut() {
            spec.node_name = node.map(str::to_string);
        }
        StoredObject::new(p.into_object())
    }

    fn names<'a>(pods: impl Iterator<Item = &'a k8s_openapi::api::core::v1::Pod>) -> Vec<String> {
        pods.map(|p| p.metadata.name.clone().unwrap_or_default()).collect()
    }

    /// Every question answered from the index is answered as a filter over all pods answers it, through a
    /// sequence of binds, moves and deletions.
    #[test]
    fn the_index_answers_as_a_scan_does() {
        let mut pods = KindMap::default();
        let mut index = PodsByNode::default();
        let put = |pods: &mut KindMap, index: &mut PodsByNode, object: Option<Arc<StoredObject>>, name: &str| {
            let key = ObjectRef::new(Kind::Pod, "default", name).name;
            let old = match &object {
                Some(new) => pods.insert(new.clone()),
                None => pods.remove(&key),
            };
            index.update(old.as_ref(), object.as_ref());
        };
        for i in 0..40 {
            let node = ["node-1", "node-2", "node-3"].get(i % 4).copied();
            put(&mut pods, &mut index, Some(stored(&format!("p{i:02}"), node)), &format!("p{i:02}"));
        }
        put(&mut pods, &mut index, Some(stored("p03", Some("node-2"))), "p03");
        put(&mut pods, &mut index, Some(stored("p00", None)), "p00");
        put(&mut pods, &mut index, None, "p01");
        assert_eq!(index.on("node-1").map(KindMap::len), PodsByNode::build(&pods).on("node-1").map(KindMap::len));

        let objects = Objects::default();
        let scan =
            ClusterView::per_kind(|k| if k == Kind::Pod { (&pods, 1) } else { (objects.of_kind(k), 1) }, Time(0));
        let indexed =
            ClusterView::per_kind(|k| if k == Kind::Pod { (&pods, 1) } else { (objects.of_kind(k), 1) }, Time(0))
                .with_pods_by_node(&index);
        for node in ["node-1", "node-2", "node-3", "node-4"] {
            assert_eq!(names(indexed.pods_on_node(node)), names(scan.pods_on_node(node)), "{node}");
        }
        assert_eq!(names(indexed.unscheduled_pods()), names(scan.unscheduled_pods()));
        assert!(names(scan.unscheduled_pods()).contains(&"p00".to_string()));
        assert!(!names(scan.pods_on_node("node-1")).contains(&"p01".to_string()));
        assert!(names(scan.pods_on_node("node-2")).contains(&"p03".to_string()));
    }
}
