//! The score plugins kube-scheduler enables by default, with its weights: NodeResourcesFit (LeastAllocated,
//! 1), NodeResourcesBalancedAllocation (1), PodTopologySpread (2; the pod's soft constraints, else the
//! system defaults: spread by hostname with maxSkew 3 and by zone with maxSkew 5, over the pods its
//! Services, ReplicationController, ReplicaSet or StatefulSet select), TaintToleration (3) and NodeAffinity
//! (2). Each scores a node 0–100, as upstream, so the weighted sums pick the nodes upstream's would.
//!
//! Not scored: InterPodAffinity (preferred pod affinity) and ImageLocality (simulated nodes report no
//! images, so it scores every node alike).

use super::filters::{pod_tolerates, term_matches};
use super::resources::{node_allocatable, Resources};
use crate::framework::ClusterView;
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod, ReplicationController, Service, TopologySpreadConstraint};
use std::collections::BTreeMap;
use themelios_api::pod as podutil;
use themelios_api::selector::{LabelSelector, Operator, Requirement};

const MAX_NODE_SCORE: i64 = 100;
const HOSTNAME: &str = "kubernetes.io/hostname";
const ZONE: &str = "topology.kubernetes.io/zone";

/// Requests assumed for a container that requests no cpu or memory (upstream's non-zero defaults).
const DEFAULT_MILLI_CPU: i128 = 100;
const DEFAULT_MEMORY_MILLI: i128 = 200 * 1024 * 1024 * 1000;

/// A node that passed the filters, with what is placed on it.
pub(super) struct Candidate<'a> {
    pub node: &'a Node,
    pub name: &'a str,
    /// The requests of its pods (bound and assumed).
    pub requested: Resources,
    /// The same with upstream's non-zero defaults for containers that request nothing.
    pub non_zero_requested: Resources,
}

/// The requests of a pod with upstream's non-zero defaults filled in for containers that name no cpu or
/// memory request.
pub fn non_zero_requests(pod: &Pod) -> Resources {
    let Some(spec) = pod.spec.as_ref() else { return Resources::default() };
    let mut total = Resources::default();
    let requests = |c: &k8s_openapi::api::core::v1::Container| {
        let mut r = super::resources::container_requests(c);
        for (name, default) in [("cpu", DEFAULT_MILLI_CPU), ("memory", DEFAULT_MEMORY_MILLI)] {
            r.0.entry(name.to_string()).or_insert(default);
        }
        r
    };
    for c in &spec.containers {
        total.add(&requests(c));
    }
    for c in spec.init_containers.iter().flatten() {
        for (k, v) in requests(c).0 {
            let entry = total.0.entry(k).or_default();
            *entry = (*entry).max(v);
        }
    }
    total.add(&super::resources::overhead(spec));
    total
}

/// A binding the scheduler made and its view does not show yet: upstream's node info counts it.
pub(super) struct AssumedPod<'a> {
    pub node: &'a str,
    pub namespace: &'a str,
    pub labels: &'a BTreeMap<String, String>,
}

/// The node with the highest weighted score. Among equals upstream picks one at random; here the choice
/// is a hash of the pod's and the node's names — as even, and the same on every run.
pub(super) fn best<'a>(
    view: &ClusterView,
    pod: &Pod,
    candidates: &[Candidate<'a>],
    assumed: &[AssumedPod],
) -> Option<&'a str> {
    let ask = super::pod_requests(pod);
    let ask_non_zero = non_zero_requests(pod);
    let taints = normalize(candidates.iter().map(|c| intolerable_soft_taints(pod, c.node)).collect(), true);
    let affinity = normalize(candidates.iter().map(|c| preferred_affinity(pod, c.node)).collect(), false);
    let spread = topology_spread(view, pod, candidates, assumed);
    let pod_name = pod.metadata.name.as_deref().unwrap_or("");
    let tie_break = |node: &str| crate::common::hash::fnv1a(&[pod_name.as_bytes(), b"/", node.as_bytes()]);
    let mut best: Option<(i64, u32, &str)> = None;
    for (i, c) in candidates.iter().enumerate() {
        let score = least_allocated(&c.non_zero_requested, &ask_non_zero, c.node)
            + balanced_allocation(&c.requested, &ask, c.node)
            + 3 * taints[i]
            + 2 * affinity[i]
            + 2 * spread[i];
        let tie = tie_break(c.name);
        if best.is_none_or(|(s, t, _)| score > s || (score == s && tie < t)) {
            best = Some((score, tie, c.name));
        }
    }
    best.map(|(_, _, name)| name)
}

/// Upstream's `DefaultNormalizeScore`: scaled so the highest is 100 (reversed: the lowest is 100).
fn normalize(raw: Vec<i64>, reverse: bool) -> Vec<i64> {
    let max = raw.iter().copied().max().unwrap_or(0);
    raw.into_iter()
        .map(|s| {
            let scaled = if max == 0 { 0 } else { MAX_NODE_SCORE * s / max };
            if reverse {
                MAX_NODE_SCORE - scaled
            } else {
                scaled
            }
        })
        .collect()
}

/// cpu and memory, each `(allocatable - requested) * 100 / allocatable`, averaged.
fn least_allocated(requested: &Resources, ask: &Resources, node: &Node) -> i64 {
    let allocatable = node_allocatable(node);
    let (mut sum, mut weights) = (0i128, 0i128);
    for resource in ["cpu", "memory"] {
        let capacity = allocatable.get(resource);
        if capacity == 0 {
            continue;
        }
        let used = requested.get(resource) + ask.get(resource);
        sum += if used > capacity { 0 } else { (capacity - used) * i128::from(MAX_NODE_SCORE) / capacity };
        weights += 1;
    }
    if weights == 0 {
        0
    } else {
        i64::try_from(sum / weights).unwrap_or(0)
    }
}

/// `(1 - |cpu fraction - memory fraction| / 2) * 100` over the requests as they are.
fn balanced_allocation(requested: &Resources, ask: &Resources, node: &Node) -> i64 {
    let allocatable = node_allocatable(node);
    let fractions: Vec<f64> = ["cpu", "memory"]
        .into_iter()
        .filter(|r| allocatable.get(r) != 0)
        .map(|r| ((requested.get(r) + ask.get(r)) as f64 / allocatable.get(r) as f64).min(1.0))
        .collect();
    let spread = match fractions.as_slice() {
        [a, b] => ((a - b) / 2.0).abs(),
        _ => 0.0,
    };
    ((1.0 - spread) * MAX_NODE_SCORE as f64) as i64
}

/// How many of the node's PreferNoSchedule taints the pod does not tolerate.
fn intolerable_soft_taints(pod: &Pod, node: &Node) -> i64 {
    let taints = node.spec.as_ref().and_then(|s| s.taints.as_ref());
    taints.into_iter().flatten().filter(|t| t.effect == "PreferNoSchedule" && !pod_tolerates(pod, t)).count() as i64
}

/// The summed weights of the pod's preferred node-affinity terms the node matches.
fn preferred_affinity(pod: &Pod, node: &Node) -> i64 {
    let preferred = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_ref());
    let labels = node.metadata.labels.clone().unwrap_or_default();
    preferred
        .into_iter()
        .flatten()
        .filter(|p| p.weight != 0 && term_matches(&p.preference, node, &labels))
        .map(|p| i64::from(p.weight))
        .sum()
}

/// A soft spreading constraint with the pods it counts.
struct Spread {
    topology_key: String,
    max_skew: i32,
    selector: LabelSelector,
}

/// PodTopologySpread's normalized scores for the candidates.
fn topology_spread(view: &ClusterView, pod: &Pod, candidates: &[Candidate], assumed: &[AssumedPod]) -> Vec<i64> {
    let own = pod.spec.as_ref().and_then(|s| s.topology_spread_constraints.as_ref()).filter(|c| !c.is_empty());
    let (constraints, require_all) = match own {
        Some(own) => (own_constraints(pod, own), true),
        None => (default_constraints(view, pod), false),
    };
    if constraints.is_empty() {
        return vec![0; candidates.len()];
    }
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
    let labels_of = |node: &Node| node.metadata.labels.clone().unwrap_or_default();
    let has_all = |node: &Node| {
        let labels = labels_of(node);
        constraints.iter().all(|c| labels.contains_key(&c.topology_key))
    };
    let ignored: Vec<bool> = candidates.iter().map(|c| require_all && !has_all(c.node)).collect();
    let counted = |node: &str, selector: &LabelSelector| {
        let bound = view
            .pods_on_node(node)
            .filter(|p| !podutil::is_terminal(p) && !podutil::is_deleting(p))
            .filter(|p| p.metadata.namespace.as_deref() == Some(namespace))
            .filter(|p| selector.matches_opt(p.metadata.labels.as_ref()))
            .count();
        let pending =
            assumed.iter().filter(|a| a.node == node && a.namespace == namespace && selector.matches(a.labels)).count();
        (bound + pending) as i64
    };
    // Pods per topology value for keys other than the hostname, over every node that has the value among
    // the candidates'.
    let mut per_value: Vec<BTreeMap<String, i64>> = vec![BTreeMap::new(); constraints.len()];
    for (i, c) in constraints.iter().enumerate().filter(|(_, c)| c.topology_key != HOSTNAME) {
        for (candidate, _) in candidates.iter().zip(&ignored).filter(|(_, ignored)| !**ignored) {
            per_value[i]
                .entry(labels_of(candidate.node).get(&c.topology_key).cloned().unwrap_or_default())
                .or_default();
        }
        for node in view.list::<Node>() {
            if require_all && !has_all(node) {
                continue;
            }
            let value = labels_of(node).get(&c.topology_key).cloned().unwrap_or_default();
            if let Some(count) = per_value[i].get_mut(&value) {
                *count += counted(node.metadata.name.as_deref().unwrap_or(""), &c.selector);
            }
        }
    }
    let scored = ignored.iter().filter(|i| !**i).count();
    let weights: Vec<f64> = constraints
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let size = if c.topology_key == HOSTNAME { scored } else { per_value[i].len() };
            ((size + 2) as f64).ln()
        })
        .collect();
    let raw: Vec<Option<i64>> = candidates
        .iter()
        .zip(&ignored)
        .map(|(candidate, ignored)| {
            if *ignored {
                return None;
            }
            let labels = labels_of(candidate.node);
            let mut score = 0.0;
            for (i, c) in constraints.iter().enumerate() {
                let Some(value) = labels.get(&c.topology_key) else { continue };
                let count = if c.topology_key == HOSTNAME {
                    counted(candidate.name, &c.selector)
                } else {
                    per_value[i].get(value).copied().unwrap_or(0)
                };
                score += count as f64 * weights[i] + f64::from(c.max_skew - 1);
            }
            Some(score.round() as i64)
        })
        .collect();
    let present = raw.iter().flatten();
    let (min, max) = (present.clone().copied().min().unwrap_or(0), present.copied().max().unwrap_or(0));
    raw.into_iter()
        .map(|score| match score {
            None => 0,
            Some(_) if max == 0 => MAX_NODE_SCORE,
            Some(s) => MAX_NODE_SCORE * (max + min - s) / max,
        })
        .collect()
}

/// The pod's own ScheduleAnyway constraints (DoNotSchedule ones are a filter, not a score).
fn own_constraints(pod: &Pod, constraints: &[TopologySpreadConstraint]) -> Vec<Spread> {
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    constraints
        .iter()
        .filter(|c| c.when_unsatisfiable == "ScheduleAnyway")
        .filter_map(|c| {
            let mut selector = LabelSelector::from_k8s(c.label_selector.as_ref()).ok()?;
            for key in c.match_label_keys.iter().flatten() {
                if let Some(value) = labels.get(key) {
                    selector = selector.and(Requirement::new(key, Operator::In, vec![value.clone()]).ok()?);
                }
            }
            Some(Spread { topology_key: c.topology_key.clone(), max_skew: c.max_skew, selector })
        })
        .collect()
}

/// The system default constraints over the pods selected like this one by its Services and controller.
fn default_constraints(view: &ClusterView, pod: &Pod) -> Vec<Spread> {
    let selector = default_selector(view, pod);
    if selector.is_everything() {
        return Vec::new();
    }
    [(HOSTNAME, 3), (ZONE, 5)]
        .into_iter()
        .map(|(key, skew)| Spread { topology_key: key.into(), max_skew: skew, selector: selector.clone() })
        .collect()
}

/// Upstream's `DefaultSelector`: the selectors of the Services that select the pod, merged with its
/// controller's (a ReplicationController, ReplicaSet or StatefulSet).
fn default_selector(view: &ClusterView, pod: &Pod) -> LabelSelector {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let mut merged: BTreeMap<String, String> = BTreeMap::new();
    for service in view.list::<Service>().filter(|s| s.metadata.namespace.as_deref() == Some(namespace)) {
        let Some(selector) = service.spec.as_ref().and_then(|s| s.selector.as_ref()).filter(|s| !s.is_empty()) else {
            continue;
        };
        if selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            merged.extend(selector.clone());
        }
    }
    let mut selector = LabelSelector::from_labels(&merged);
    let Some(owner) = pod.metadata.owner_references.iter().flatten().find(|r| r.controller == Some(true)) else {
        return selector;
    };
    let controller_selector = match (owner.api_version.as_str(), owner.kind.as_str()) {
        ("v1", "ReplicationController") => view
            .get::<ReplicationController>(namespace, &owner.name)
            .and_then(|rc| rc.spec.as_ref()?.selector.clone())
            .map(|s| LabelSelector::from_labels(&s)),
        ("apps/v1", "ReplicaSet") => view
            .get::<ReplicaSet>(namespace, &owner.name)
            .and_then(|rs| LabelSelector::from_k8s(rs.spec.as_ref().map(|s| &s.selector)).ok()),
        ("apps/v1", "StatefulSet") => view
            .get::<StatefulSet>(namespace, &owner.name)
            .and_then(|ss| LabelSelector::from_k8s(ss.spec.as_ref().map(|s| &s.selector)).ok()),
        _ => None,
    };
    if let Some(extra) = controller_selector {
        for requirement in extra.requirements() {
            selector = selector.and(requirement.clone());
        }
    }
    selector
}
