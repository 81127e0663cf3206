//! Pod garbage collection: force-deletes pods nobody else will finish.
//!
//! In upstream's order: terminated pods above a threshold (oldest first); terminating pods on nodes marked
//! out of service; pods bound to nodes that no longer exist (after a quarantine, so a node that is only
//! briefly missing from the cache is not mistaken for a deleted one); terminating pods that were never
//! scheduled. A pod that is not yet terminal is first marked Failed with a `DisruptionTarget` condition
//! (reason `DeletionByPodGC`), then deleted with no grace period.

mod properties;

pub use properties::properties;

use crate::common::backoff::{settled, Retries, Unblocked};
use crate::framework::Timers;
use crate::framework::{ClusterView, Controller, Outcome};
use k8s_openapi::api::core::v1::{Node, Pod};
use std::collections::BTreeMap;
use themelios_api::time::Deadline;
use themelios_api::{pod, DeleteOptions, Kind, ObjectRef, Op, Resource, Time};

/// The default number of terminated pods kept (kube-controller-manager's terminated-pod-gc-threshold).
pub const DEFAULT_TERMINATED_THRESHOLD: usize = 12_500;
/// How long a node must be missing before its pods are collected.
pub const QUARANTINE_SECONDS: i64 = 40;
/// The taint that marks a node out of service.
pub const OUT_OF_SERVICE_TAINT: &str = "node.kubernetes.io/out-of-service";

/// The pod garbage collector.
#[derive(Clone, Debug)]
pub struct PodGc {
    terminated_threshold: usize,
}

impl Default for PodGc {
    fn default() -> Self {
        Self { terminated_threshold: DEFAULT_TERMINATED_THRESHOLD }
    }
}

impl PodGc {
    /// A collector that keeps at most `threshold` terminated pods.
    pub fn with_threshold(threshold: usize) -> Self {
        Self { terminated_threshold: threshold }
    }
}

/// Upstream's gcCheckPeriod: how often the collector looks.
pub const CHECK_PERIOD_SECONDS: i64 = 20;

/// What the collector keeps in memory: for each missing node, when its quarantine ends
/// ([`QUARANTINE_SECONDS`] after it was first seen missing); and the pods whose last request failed, which
/// wait for the next pass ([`CHECK_PERIOD_SECONDS`]), as upstream's periodic loop retries them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Local {
    quarantined_until: BTreeMap<String, Deadline>,
    retries: Retries<CHECK_PERIOD_SECONDS, CHECK_PERIOD_SECONDS>,
}

impl Controller for PodGc {
    type Local = Local;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // How long a pod's node must be missing before its pods are collected.
            time_use: crate::framework::TimeUse::Relative { longest_seconds: QUARANTINE_SECONDS },
            reads: Some(&[themelios_api::Kind::Pod, themelios_api::Kind::Node]),
            // Upstream's gcCheckPeriod.
            period: Some(std::time::Duration::from_secs(CHECK_PERIOD_SECONDS.unsigned_abs())),
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "pod-garbage-collector".into()
    }

    fn step(&self, view: &ClusterView, local: &mut Local, timers: &mut Timers) -> Option<Op> {
        let now = view.now();
        let Local { quarantined_until, retries } = local;
        let mut unblocked = Unblocked::new(retries, now);
        let mut ready = |p: &Pod| unblocked.ready(&p.metadata);
        let chosen = self
            .terminated_over_threshold(view, &mut ready)
            .or_else(|| terminating_out_of_service(view, &mut ready))
            .or_else(|| orphaned(view, quarantined_until, timers, &mut ready))
            .or_else(|| unscheduled_terminating(view, &mut ready));
        unblocked.wake(timers);
        let (pod, op) = chosen?;
        retries.attempt(pod.metadata.uid.as_deref().unwrap_or(""));
        Some(op)
    }

    fn observe(&self, _op: &Op, outcome: &Outcome, now: Time, local: &mut Local) {
        local.retries.record(settled(outcome), now);
    }
}

/// Whether a pod may be worked on now (it is not waiting for a retry).
type Ready<'r> = dyn FnMut(&Pod) -> bool + 'r;

/// Whether this collector already force-deleted the pod (it waits on finalizers now).
fn force_deleted(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some() && p.metadata.deletion_grace_period_seconds == Some(0)
}

/// Marks the pod Failed first if it is not terminal, else force-deletes it.
fn fail_then_delete(p: &Pod, message: &str, now: Time) -> Op {
    if !pod::is_terminal(p) {
        let mut failed = p.clone();
        failed.status.get_or_insert_with(Default::default).phase = Some("Failed".into());
        pod::set_condition(&mut failed, pod::new_condition("DisruptionTarget", true, "DeletionByPodGC", message), now);
        return Op::UpdateStatus(failed.into_object());
    }
    force_delete(p)
}

fn force_delete(p: &Pod) -> Op {
    Op::Delete {
        target: ObjectRef::new(
            Kind::Pod,
            p.metadata.namespace.clone().unwrap_or_default(),
            p.metadata.name.clone().unwrap_or_default(),
        ),
        options: DeleteOptions { grace_period_seconds: Some(0), uid: p.metadata.uid.clone(), ..Default::default() },
    }
}

impl PodGc {
    fn terminated_over_threshold<'v>(&self, view: &'v ClusterView, ready: &mut Ready) -> Option<(&'v Pod, Op)> {
        let mut terminated: Vec<&Pod> =
            view.list::<Pod>().filter(|p| pod::is_terminal(p) && !force_deleted(p)).collect();
        if terminated.len() <= self.terminated_threshold {
            return None;
        }
        terminated
            .sort_by_key(|p| (p.metadata.creation_timestamp.as_ref().map(Time::from_k8s), p.metadata.name.clone()));
        terminated.into_iter().find(|p| ready(p)).map(|p| (p, force_delete(p)))
    }
}

fn terminating_out_of_service<'v>(view: &'v ClusterView, ready: &mut Ready) -> Option<(&'v Pod, Op)> {
    let out_of_service = |name: &str| {
        view.get::<Node>("", name).is_some_and(|n| {
            let tainted = n
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .into_iter()
                .flatten()
                .any(|t| t.key == OUT_OF_SERVICE_TAINT && t.effect == "NoExecute");
            let ready = n
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            tainted && !ready
        })
    };
    view.list::<Pod>()
        .filter(|p| pod::is_deleting(p) && !force_deleted(p))
        .find(|p| pod::node_name(p).is_some_and(out_of_service) && ready(p))
        .map(|p| (p, fail_then_delete(p, "PodGC: node is out of service", view.now())))
}

fn orphaned<'v>(
    view: &'v ClusterView,
    quarantined_until: &mut BTreeMap<String, Deadline>,
    timers: &mut Timers,
    ready: &mut Ready,
) -> Option<(&'v Pod, Op)> {
    let now = view.now();
    let missing: std::collections::BTreeSet<&str> =
        view.list::<Pod>().filter_map(|p| pod::node_name(p)).filter(|n| view.get::<Node>("", n).is_none()).collect();
    quarantined_until.retain(|n, _| missing.contains(n.as_str()));
    for node in &missing {
        let until = *quarantined_until.entry(node.to_string()).or_insert(Deadline::after(now, QUARANTINE_SECONDS));
        if let Some(at) = until.pending(now) {
            timers.wake_at(at);
        }
    }
    let expired = |n: &str| quarantined_until.get(n).is_some_and(|until| until.has_passed(now));
    view.list::<Pod>()
        .filter(|p| !force_deleted(p))
        .find(|p| pod::node_name(p).is_some_and(expired) && ready(p))
        .map(|p| (p, fail_then_delete(p, "PodGC: node no longer exists", now)))
}

fn unscheduled_terminating<'v>(view: &'v ClusterView, ready: &mut Ready) -> Option<(&'v Pod, Op)> {
    view.list::<Pod>()
        .find(|p| pod::is_deleting(p) && pod::node_name(p).is_none() && !force_deleted(p) && ready(p))
        .map(|p| (p, force_delete(p)))
}
