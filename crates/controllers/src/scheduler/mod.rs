//! The scheduler: binds pending pods that name it to feasible nodes, scored as upstream's default plugins
//! score them (see [`scoring`]).
//!
//! A pod that fits nowhere gets `PodScheduled=False` with reason `Unschedulable` and upstream's message;
//! because the step is level-triggered, it is retried whenever nodes or pods change. Bindings this
//! scheduler issued count against their node until its view shows them (the "assume" cache), so a lagging
//! view cannot double-book a node.

mod filters;
mod properties;
mod resources;
mod scoring;

pub use filters::{matches_node_affinity, pod_tolerates, tolerates, unschedulable_message};
pub use properties::properties;
pub use resources::{node_allocatable, pod_requests, Resources};
pub use scoring::non_zero_requests;

use crate::common::backoff::{settled, Retries};
use crate::framework::Timers;
use crate::framework::{ClusterView, Controller, Outcome};
use k8s_openapi::api::core::v1::{Node, Pod};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use themelios_api::defaults::DEFAULT_SCHEDULER;
use themelios_api::{pod, ObjectName, Op, Resource, Time};

/// A scheduler with a name; it binds only pods whose `spec.schedulerName` is that name.
#[derive(Clone, Debug)]
pub struct Scheduler {
    scheduler_name: String,
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::named(DEFAULT_SCHEDULER)
    }
}

impl Scheduler {
    /// A scheduler that serves pods naming `scheduler_name`.
    pub fn named(scheduler_name: impl Into<String>) -> Self {
        Self { scheduler_name: scheduler_name.into() }
    }
}

/// A binding this scheduler issued and has not yet seen.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Assumed {
    pod: ObjectName,
    node: String,
    requests: Resources,
    non_zero_requests: Resources,
    /// Its labels, which topology spreading counts.
    labels: BTreeMap<String, String>,
}

/// Upstream's podInitialBackoffSeconds and podMaxBackoffSeconds: a pod whose binding or status write
/// failed waits in the backoff queue 1 s, 2 s, 4 s … at most 10 s.
pub const POD_INITIAL_BACKOFF_SECONDS: i64 = 1;
/// See [`POD_INITIAL_BACKOFF_SECONDS`].
pub const POD_MAX_BACKOFF_SECONDS: i64 = 10;

/// What the scheduler keeps in memory: its assumed bindings, by pod uid, where its next search for a
/// node starts, and the pods in the backoff queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Local {
    assumed: BTreeMap<String, Assumed>,
    /// Upstream's `nextStartNodeIndex`: in a cluster large enough that a search stops early, the next one
    /// starts where this one stopped, so every node gets its turn. It stays 0 in smaller clusters, where
    /// every search visits every node.
    next_start_node: usize,
    backoff: Retries<POD_INITIAL_BACKOFF_SECONDS, POD_MAX_BACKOFF_SECONDS>,
}

/// A pending pod in upstream's queue order: higher priority first, then older, then by name.
struct Queued<'a> {
    key: (Reverse<i32>, Option<Time>, &'a str),
    pod: &'a Pod,
}

impl<'a> Queued<'a> {
    fn of(p: &'a Pod) -> Self {
        let priority = p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
        let created = p.metadata.creation_timestamp.as_ref().map(Time::from_k8s);
        Queued { key: (Reverse(priority), created, p.metadata.name.as_deref().unwrap_or("")), pod: p }
    }
}

impl PartialEq for Queued<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Queued<'_> {}
impl PartialOrd for Queued<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

/// Where a pod can go.
enum Decision {
    Bind(String),
    Unschedulable(String),
}

impl Controller for Scheduler {
    type Local = Local;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // Pods are queued by creation time (order only) and back off after failed writes.
            time_use: crate::framework::TimeUse::Relative { longest_seconds: POD_MAX_BACKOFF_SECONDS },
            // Pods and nodes to place pods; Services and the controllers of pods for the default spreading.
            reads: Some(&[
                themelios_api::Kind::Pod,
                themelios_api::Kind::Node,
                themelios_api::Kind::Service,
                themelios_api::Kind::ReplicationController,
                themelios_api::Kind::ReplicaSet,
                themelios_api::Kind::StatefulSet,
            ]),
            // Bindings wait in `Local::assumed` until the view shows them.
            assumes_own_writes: true,
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        self.scheduler_name.clone()
    }

    fn step(&self, view: &ClusterView, local: &mut Local, timers: &mut Timers) -> Option<Op> {
        local.assumed.retain(|_, a| {
            view.get::<Pod>(&a.pod.namespace, &a.pod.name)
                .is_some_and(|p| pod::node_name(p).is_none() && !pod::is_deleting(p))
        });
        let pending = view
            .unscheduled_pods()
            .filter(|p| !pod::is_deleting(p) && !pod::is_terminal(p))
            .filter(|p| {
                p.spec.as_ref().and_then(|s| s.scheduler_name.as_deref()).unwrap_or(DEFAULT_SCHEDULER)
                    == self.scheduler_name
            })
            .filter(|p| !p.metadata.uid.as_ref().is_some_and(|u| local.assumed.contains_key(u)))
            .filter(|p| !local.backoff.waiting(p.metadata.uid.as_deref().unwrap_or(""), view.now(), timers));
        // The scheduling queue: usually only its head is taken, so heapify (linear) rather than sort.
        let mut queue: BinaryHeap<Reverse<Queued>> = pending.map(|p| Reverse(Queued::of(p))).collect();
        if queue.is_empty() {
            return None;
        }
        let pending = std::iter::from_fn(|| queue.pop().map(|Reverse(q)| q.pod));
        let nodes: Vec<&Node> = view.list::<Node>().collect();
        let usage = NodeUsage { view, assumed: assumed_per_node(local) };
        let assumed_pods: Vec<scoring::AssumedPod> = local
            .assumed
            .values()
            .map(|a| scoring::AssumedPod { node: &a.node, namespace: &a.pod.namespace, labels: &a.labels })
            .collect();
        for p in pending {
            let (decision, next_start) = decide(view, p, &nodes, &usage, &assumed_pods, local.next_start_node);
            local.next_start_node = next_start;
            match decision {
                Decision::Bind(node) => {
                    let name = ObjectName::new(
                        p.metadata.namespace.clone().unwrap_or_default(),
                        p.metadata.name.clone().unwrap_or_default(),
                    );
                    local.backoff.attempt(p.metadata.uid.as_deref().unwrap_or(""));
                    if let Some(uid) = p.metadata.uid.clone() {
                        local.assumed.insert(
                            uid,
                            Assumed {
                                pod: name.clone(),
                                node: node.clone(),
                                requests: pod_requests(p),
                                non_zero_requests: non_zero_requests(p),
                                labels: p.metadata.labels.clone().unwrap_or_default(),
                            },
                        );
                    }
                    return Some(Op::Bind { pod: name, uid: p.metadata.uid.clone(), node });
                }
                Decision::Unschedulable(message) => {
                    let mut updated = p.clone();
                    let condition = pod::new_condition("PodScheduled", false, "Unschedulable", &message);
                    if pod::set_condition(&mut updated, condition, view.now()) {
                        local.backoff.attempt(p.metadata.uid.as_deref().unwrap_or(""));
                        return Some(Op::UpdateStatus(updated.into_object()));
                    }
                }
            }
        }
        None
    }

    fn observe(&self, op: &Op, outcome: &Outcome, now: Time, local: &mut Local) {
        local.backoff.record(settled(outcome), now);
        if let (Op::Bind { uid: Some(uid), .. }, Err(_)) = (op, outcome) {
            local.assumed.remove(uid);
        }
    }
}

/// What is placed on a node: the requests of its pods, the same with non-zero defaults, and how many.
#[derive(Clone, Debug, Default)]
struct Placed {
    requested: Resources,
    non_zero_requested: Resources,
    pods: usize,
}

/// What the bindings this scheduler assumed place on each node.
fn assumed_per_node(local: &Local) -> BTreeMap<String, Placed> {
    let mut usage: BTreeMap<String, Placed> = BTreeMap::new();
    for a in local.assumed.values() {
        let entry = usage.entry(a.node.clone()).or_default();
        entry.requested.add(&a.requests);
        entry.non_zero_requested.add(&a.non_zero_requests);
        entry.pods += 1;
    }
    usage
}

/// What is already placed on a node: its bound non-terminal pods plus assumed bindings, computed only for
/// the nodes a search visits.
struct NodeUsage<'v, 'a> {
    view: &'v ClusterView<'a>,
    assumed: BTreeMap<String, Placed>,
}

impl NodeUsage<'_, '_> {
    fn of(&self, node: &str) -> Placed {
        let mut placed = self.assumed.get(node).cloned().unwrap_or_default();
        for p in self.view.pods_on_node(node).filter(|p| !pod::is_terminal(p)) {
            placed.requested.add(&pod_requests(p));
            placed.non_zero_requested.add(&non_zero_requests(p));
            placed.pods += 1;
        }
        placed
    }
}

/// Below this many nodes every search visits every node (upstream's `minFeasibleNodesToFind`).
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The least share of nodes a search looks for, in percent (`minFeasibleNodesPercentageToFind`).
const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;

/// How many feasible nodes a search stops at: all of them in a small cluster; in a large one upstream's
/// adaptive `percentageOfNodesToScore` (50% less 1% per 125 nodes, at least 5% and 100 nodes).
fn feasible_nodes_to_find(nodes: usize) -> usize {
    if nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return nodes;
    }
    let percentage = 50usize.saturating_sub(nodes / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE);
    (nodes * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// Filters nodes from `start` on until enough are feasible, scores those, and returns the decision and
/// where the next search starts.
fn decide(
    view: &ClusterView,
    p: &Pod,
    nodes: &[&Node],
    usage: &NodeUsage,
    assumed: &[scoring::AssumedPod],
    start: usize,
) -> (Decision, usize) {
    let wanted = feasible_nodes_to_find(nodes.len());
    let start = if wanted < nodes.len() { start % nodes.len() } else { 0 };
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut candidates = Vec::new();
    let mut visited = 0;
    for node in nodes[start..].iter().chain(&nodes[..start]) {
        if candidates.len() == wanted {
            break;
        }
        visited += 1;
        let name = node.metadata.name.as_deref().unwrap_or("");
        let placed = usage.of(name);
        let failures = filters::filter(p, node, &placed.requested, placed.pods);
        if !failures.is_empty() {
            for reason in failures {
                *reasons.entry(reason).or_default() += 1;
            }
            continue;
        }
        candidates.push(scoring::Candidate {
            node,
            name,
            requested: placed.requested,
            non_zero_requested: placed.non_zero_requested,
        });
    }
    let next_start = if wanted < nodes.len() { (start + visited) % nodes.len() } else { 0 };
    let decision = match scoring::best(view, p, &candidates, assumed) {
        Some(node) => Decision::Bind(node.to_string()),
        None => Decision::Unschedulable(unschedulable_message(nodes.len(), &reasons)),
    };
    (decision, next_start)
}
