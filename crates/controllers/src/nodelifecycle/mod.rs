//! The node lifecycle controller: notices nodes whose kubelet stopped renewing its Lease and marks every
//! condition of theirs Unknown; taints nodes as their conditions say — `unreachable` (Ready Unknown) or
//! `not-ready` (Ready False), each with NoSchedule and NoExecute, and `unschedulable` (NoSchedule) while
//! cordoned; marks the pods of a node that is not ready not ready; evicts pods that do not tolerate a
//! NoExecute taint (after their tolerationSeconds); and untaints nodes that come back.

use crate::common::backoff::{settled, Retries, Unblocked};
use crate::framework::Timers;
use crate::framework::{ClusterView, Controller, Outcome, Property};
use crate::scheduler::pod_tolerates;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use themelios_api::{pod as podutil, DeleteOptions, Kind, ObjectRef, Op, Resource, Time};

/// How long a node may go without renewing its Lease before it counts as unreachable.
pub const GRACE_PERIOD_SECONDS: i64 = 40;
/// The taint of a node whose kubelet stopped reporting.
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The taint of a node whose kubelet reports it not ready.
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";

/// The node lifecycle controller.
#[derive(Clone, Debug, Default)]
pub struct NodeLifecycleController;

/// Upstream's nodeMonitorPeriod: how often nodes are looked at.
pub const MONITOR_PERIOD_SECONDS: i64 = 5;

/// The nodes and pods whose last write failed: they wait for the next monitoring pass.
pub type Local = Retries<MONITOR_PERIOD_SECONDS, MONITOR_PERIOD_SECONDS>;

fn ready_status(node: &Node) -> &str {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .map_or("Unknown", |c| c.status.as_str())
}

fn last_heartbeat(view: &ClusterView, node: &Node) -> Option<Time> {
    let name = node.metadata.name.as_deref()?;
    let lease = view
        .get::<Lease>("kube-node-lease", name)
        .and_then(|l| l.spec.as_ref()?.renew_time.as_ref())
        .map(|t| Time(t.0.as_second()));
    let posted = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .map(Time::from_k8s);
    lease.max(posted)
}

/// The taint a cordoned node gets.
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// The taints this controller manages.
const MANAGED: [&str; 3] = [UNREACHABLE, NOT_READY, UNSCHEDULABLE];

/// The taints (key, effect) the node's conditions call for.
fn wanted_taints(node: &Node) -> Vec<(&'static str, &'static str)> {
    let mut wanted = match ready_status(node) {
        "True" => vec![],
        "False" => vec![(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")],
        _ => vec![(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")],
    };
    if node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false) {
        wanted.push((UNSCHEDULABLE, "NoSchedule"));
    }
    wanted
}

impl Controller for NodeLifecycleController {
    type Local = Local;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // How long a node may miss heartbeats; tolerations' `tolerationSeconds` are read from the pods.
            time_use: crate::framework::TimeUse::Relative { longest_seconds: GRACE_PERIOD_SECONDS },
            reads: Some(&[themelios_api::Kind::Node, themelios_api::Kind::Lease, themelios_api::Kind::Pod]),
            // Upstream's nodeMonitorPeriod.
            period: Some(std::time::Duration::from_secs(MONITOR_PERIOD_SECONDS.unsigned_abs())),
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "node-lifecycle-controller".into()
    }

    fn step(&self, view: &ClusterView, retries: &mut Local, timers: &mut Timers) -> Option<Op> {
        let mut unblocked = Unblocked::new(retries, view.now());
        let chosen = decide(view, &mut |meta| unblocked.ready(meta), timers);
        unblocked.wake(timers);
        let (uid, op) = chosen?;
        retries.attempt(&uid);
        Some(op)
    }

    fn observe(&self, _op: &Op, outcome: &Outcome, now: Time, retries: &mut Local) {
        retries.record(settled(outcome), now);
    }
}

/// Whether an object may be worked on now (it is not waiting for a retry).
type Ready<'r> = dyn FnMut(&ObjectMeta) -> bool + 'r;

/// The first write the nodes and pods call for, with the uid of the object it is for.
fn decide(view: &ClusterView, ready: &mut Ready, timers: &mut Timers) -> Option<(String, Op)> {
    let now = view.now();
    let uid = |meta: &ObjectMeta| meta.uid.clone().unwrap_or_default();
    for node in view.list::<Node>() {
        if !ready(&node.metadata) {
            continue;
        }
        // A silent kubelet: Ready becomes Unknown.
        if let Some(beat) = last_heartbeat(view, node) {
            let deadline = beat.plus_seconds(GRACE_PERIOD_SECONDS);
            if now > deadline && ready_status(node) != "Unknown" {
                let mut updated = node.clone();
                for c in updated.status.as_mut().and_then(|s| s.conditions.as_mut()).into_iter().flatten() {
                    c.status = "Unknown".into();
                    c.reason = Some("NodeStatusUnknown".into());
                    c.message = Some("Kubelet stopped posting node status.".into());
                    c.last_transition_time = Some(now.to_k8s());
                }
                return Some((uid(&node.metadata), Op::UpdateStatus(updated.into_object())));
            }
            if now <= deadline {
                // Monitoring is periodic upkeep: it keeps pace with time but does not drive it.
                timers.heartbeat_at(deadline.plus_seconds(1));
            }
        }
        // Taints follow the conditions.
        let taints = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
        let wanted = wanted_taints(node);
        let ours = |t: &Taint| MANAGED.contains(&t.key.as_str());
        let mut fixed: Vec<Taint> = taints
            .iter()
            .filter(|t| !ours(t) || wanted.contains(&(t.key.as_str(), t.effect.as_str())))
            .cloned()
            .collect();
        for (key, effect) in wanted {
            if !fixed.iter().any(|t| t.key == key && t.effect == effect) {
                // A NoExecute taint records when it came: tolerationSeconds count from then.
                let time_added = (effect == "NoExecute").then(|| now.to_k8s());
                fixed.push(Taint { key: key.into(), value: None, effect: effect.into(), time_added });
            }
        }
        if fixed != taints {
            let mut updated = node.clone();
            updated.spec.get_or_insert_with(Default::default).taints = (!fixed.is_empty()).then_some(fixed);
            return Some((uid(&node.metadata), Op::Update(updated.into_object())));
        }
    }
    let chosen = mark_pods_not_ready(view, ready).or_else(|| evict(view, ready, timers))?;
    Some((uid(&chosen.0.metadata), chosen.1))
}

/// Upstream's MarkPodsNotReady: a pod on a node that is not ready is not ready either.
fn mark_pods_not_ready<'v>(view: &'v ClusterView, ready: &mut Ready) -> Option<(&'v Pod, Op)> {
    let now = view.now();
    for node in view.list::<Node>().filter(|n| ready_status(n) != "True") {
        for pod in view.pods_on_node(node.metadata.name.as_deref().unwrap_or("")) {
            if !podutil::is_ready(pod) || podutil::is_terminal(pod) || !ready(&pod.metadata) {
                continue;
            }
            let mut updated = pod.clone();
            if let Some(ready) = podutil::condition(pod, "Ready").cloned() {
                podutil::set_condition(&mut updated, PodCondition { status: "False".into(), ..ready }, now);
                return Some((pod, Op::UpdateStatus(updated.into_object())));
            }
        }
    }
    None
}

/// Deletes pods on NoExecute-tainted nodes that do not tolerate the taint, or whose tolerationSeconds ran out.
fn evict<'v>(view: &'v ClusterView, ready: &mut Ready, timers: &mut Timers) -> Option<(&'v Pod, Op)> {
    let now = view.now();
    for pod in view.list::<Pod>().filter(|p| podutil::is_active(p)) {
        if !ready(&pod.metadata) {
            continue;
        }
        let Some(node) = podutil::node_name(pod).and_then(|n| view.get::<Node>("", n)) else { continue };
        for taint in
            node.spec.as_ref().and_then(|s| s.taints.as_ref()).into_iter().flatten().filter(|t| t.effect == "NoExecute")
        {
            let due = if !pod_tolerates(pod, taint) {
                Some(now)
            } else {
                let seconds = pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.tolerations.as_ref())
                    .into_iter()
                    .flatten()
                    .filter(|t| crate::scheduler::tolerates(t, taint))
                    .map(|t| t.toleration_seconds)
                    .collect::<Vec<_>>();
                // Tolerated forever if any matching toleration has no limit.
                if seconds.iter().any(Option::is_none) {
                    None
                } else {
                    let added = taint.time_added.as_ref().map(Time::from_k8s).unwrap_or(now);
                    seconds.iter().flatten().min().map(|s| added.plus_seconds(*s))
                }
            };
            match due {
                Some(at) if at <= now => {
                    // Upstream's taint eviction says why before it deletes.
                    let marked = podutil::condition(pod, "DisruptionTarget").is_some_and(|c| c.status == "True");
                    if !marked {
                        let mut updated = pod.clone();
                        let condition = podutil::new_condition(
                            "DisruptionTarget",
                            true,
                            "DeletionByTaintManager",
                            "Taint manager: deleting due to NoExecute taint",
                        );
                        podutil::set_condition(&mut updated, condition, now);
                        return Some((pod, Op::UpdateStatus(updated.into_object())));
                    }
                    let delete = Op::Delete {
                        target: ObjectRef::new(
                            Kind::Pod,
                            pod.metadata.namespace.clone().unwrap_or_default(),
                            pod.metadata.name.clone().unwrap_or_default(),
                        ),
                        options: DeleteOptions { uid: pod.metadata.uid.clone(), ..Default::default() },
                    };
                    return Some((pod, delete));
                }
                Some(at) => timers.wake_at(at),
                None => {}
            }
        }
    }
    None
}

/// The node lifecycle goal: taints match the conditions.
pub fn properties() -> Vec<Property> {
    vec![Property::eventually("nodelifecycle: readiness and cordon taints match each node's conditions", |view| {
        for node in view.list::<Node>() {
            let mut have: Vec<(&str, &str)> = node
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .into_iter()
                .flatten()
                .filter(|t| MANAGED.contains(&t.key.as_str()))
                .map(|t| (t.key.as_str(), t.effect.as_str()))
                .collect();
            let mut want = wanted_taints(node);
            have.sort();
            want.sort();
            if have != want {
                return Err(format!(
                    "node {} has taints {have:?} while Ready is {} (want {want:?})",
                    node.metadata.name.as_deref().unwrap_or(""),
                    ready_status(node)
                ));
            }
        }
        Ok(())
    })]
}
