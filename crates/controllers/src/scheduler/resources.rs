//! Resource requests of pods and allocatable resources of nodes, in milli-units.

use k8s_openapi::api::core::v1::{Container, Node, Pod, PodSpec};
use std::collections::BTreeMap;
use themelios_api::quantity::parse_milli;

/// Requests or capacity per resource name, in thousandths (cpu `100m` → 100, memory `1Ki` → 1,024,000).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Resources(pub BTreeMap<String, i128>);

impl Resources {
    /// The amount of one resource.
    pub fn get(&self, name: &str) -> i128 {
        self.0.get(name).copied().unwrap_or(0)
    }
    /// Adds another set of resources.
    pub fn add(&mut self, other: &Resources) {
        for (k, v) in &other.0 {
            *self.0.entry(k.clone()).or_default() += v;
        }
    }
}

fn parse_list(list: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>) -> Resources {
    Resources(list.into_iter().flatten().filter_map(|(k, q)| Some((k.clone(), parse_milli(&q.0).ok()?))).collect())
}

/// A container's requests.
pub fn container_requests(c: &Container) -> Resources {
    parse_list(c.resources.as_ref().and_then(|r| r.requests.as_ref()))
}

/// A pod's overhead (what its runtime class adds).
pub fn overhead(spec: &PodSpec) -> Resources {
    parse_list(spec.overhead.as_ref())
}

/// A pod's effective requests: the larger of the containers' sum and any single init container, plus overhead.
pub fn pod_requests(pod: &Pod) -> Resources {
    let Some(spec) = pod.spec.as_ref() else { return Resources::default() };
    let mut total = Resources::default();
    for c in &spec.containers {
        total.add(&container_requests(c));
    }
    for c in spec.init_containers.iter().flatten() {
        for (k, v) in container_requests(c).0 {
            let entry = total.0.entry(k).or_default();
            *entry = (*entry).max(v);
        }
    }
    total.add(&overhead(spec));
    total
}

/// A node's allocatable resources, falling back to capacity when allocatable is not reported.
pub fn node_allocatable(node: &Node) -> Resources {
    let status = node.status.as_ref();
    let allocatable = status.and_then(|s| s.allocatable.as_ref()).filter(|a| !a.is_empty());
    parse_list(allocatable.or_else(|| status.and_then(|s| s.capacity.as_ref())))
}
