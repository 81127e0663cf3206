//! The DaemonSet controller: one pod on every eligible node.
//!
//! Pods are placed through the scheduler with a required node affinity on `metadata.name`, and carry the
//! daemon tolerations. Finished pods are replaced; pods on nodes that stopped being eligible (an
//! untolerated NoExecute taint, a changed selector) are removed, while an untolerated NoSchedule taint only
//! keeps new pods off. Template changes become ControllerRevisions (pods are labelled with the revision
//! hash); RollingUpdate replaces pods within maxUnavailable, or starts the new pod beside the old one within
//! maxSurge; OnDelete replaces nothing.

mod eligibility;
mod plan;
mod properties;

pub use eligibility::{daemon_tolerations, placement};
pub use properties::properties;

use crate::common::owner::{self, Claim};
use crate::common::revision;
use crate::framework::Timers;
use crate::framework::{status_update, ClusterView, Controller, Outcome};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use plan::{Planner, PodChange};
use std::collections::BTreeMap;
use themelios_api::selector::LabelSelector;
use themelios_api::{pod as podutil, DeleteOptions, Kind, ObjectRef, Op, Resource, Time};

/// The pod label naming the revision a daemon pod was made from.
pub const REVISION_HASH: &str = "controller-revision-hash";
/// The label upstream puts the DaemonSet's generation in.
pub const TEMPLATE_GENERATION: &str = "pod-template-generation";

/// The DaemonSet controller.
#[derive(Clone, Debug, Default)]
pub struct DaemonSetController;

/// What the DaemonSet controller keeps in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Local {
    /// Expectations per DaemonSet and the pod changes being sent.
    planner: Planner,
    /// Per-set backoff after failed writes (upstream's rate-limited requeue).
    retries: crate::common::backoff::Retries,
}

impl Controller for DaemonSetController {
    type Local = Local;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // Its backoff; `minReadySeconds` is read from the DaemonSet.
            time_use: crate::framework::TimeUse::Relative {
                longest_seconds: crate::common::backoff::BACKOFF_CAP_SECONDS,
            },
            reads: Some(&[
                themelios_api::Kind::DaemonSet,
                themelios_api::Kind::Pod,
                themelios_api::Kind::Node,
                themelios_api::Kind::ControllerRevision,
            ]),
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "daemonset-controller".into()
    }

    fn step(&self, view: &ClusterView, local: &mut Local, timers: &mut Timers) -> Option<Op> {
        if let Some(op) = local.planner.next() {
            return Some(op);
        }
        let live: std::collections::BTreeSet<&str> =
            view.list::<DaemonSet>().filter_map(|ds| ds.metadata.uid.as_deref()).collect();
        local.planner.retain(|uid| live.contains(uid));
        for ds in view.list::<DaemonSet>() {
            let uid = ds.metadata.uid.clone().unwrap_or_default();
            let namespace = ds.metadata.namespace.as_deref().unwrap_or("");
            let backing_off = local.retries.blocked_until(&uid, view.now());
            if let Some(at) = backing_off {
                timers.wake_at(at);
            }
            let satisfied = local.planner.satisfied(
                &uid,
                view.now(),
                |name| view.get::<Pod>(namespace, name).is_some(),
                |pod_uid| {
                    view.list_in::<Pod>(namespace)
                        .any(|p| p.metadata.uid.as_deref() == Some(pod_uid) && !podutil::is_deleting(p))
                },
            );
            if let Err(Some(at)) = satisfied {
                timers.wake_at(at);
            }
            let may_manage = backing_off.is_none() && satisfied.is_ok();
            let op = match sync(view, ds, may_manage, timers)? {
                Decision::Write(op) => Some(op),
                Decision::Changes(changes) => local.planner.start(&uid, changes, view.now()),
            };
            if op.is_some() {
                local.retries.attempt(&uid);
                return op;
            }
        }
        None
    }

    fn observe(&self, op: &Op, outcome: &Outcome, now: Time, local: &mut Local) {
        if matches!(op, Op::Create(o) if o.kind() == Kind::Pod)
            || matches!(op, Op::Delete { target, .. } if target.kind == Kind::Pod)
        {
            let created = outcome.as_ref().ok().and_then(|o| o.object().meta().name.clone());
            local.planner.observe(outcome.is_ok(), created.as_deref());
        }
        local.retries.record(outcome.is_ok(), now);
    }
}

/// What one sync of a DaemonSet decided.
enum Decision<'a> {
    /// One write (a claim, a revision, status).
    Write(Op),
    /// Pod creates and deletes, sent one per step under expectations.
    Changes(Vec<PodChange<'a>>),
}

/// The node a daemon pod is for: its binding, or the node its required affinity names.
pub fn target_node(pod: &Pod) -> Option<String> {
    if let Some(node) = podutil::node_name(pod) {
        return Some(node.to_string());
    }
    let terms = &pod
        .spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|f| f.key == "metadata.name" && f.operator == "In")
        .and_then(|f| f.values.as_ref()?.first().cloned())
}

fn hash_of(pod: &Pod) -> Option<&str> {
    pod.metadata.labels.as_ref()?.get(REVISION_HASH).map(String::as_str)
}

fn is_available(pod: &Pod, min_ready: i64, now: Time) -> bool {
    podutil::is_active(pod) && podutil::is_available(pod, min_ready, now)
}

/// The update revision: created, renumbered, or recorded as a collision; duplicates of it are merged.
/// `Err` carries the write that settles it first.
fn settle_revision<'a>(
    view: &ClusterView<'a>,
    ds: &DaemonSet,
    pods: &[&Pod],
) -> Result<&'a ControllerRevision, Box<Op>> {
    let template = ds.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let data = revision::data_for(&template);
    let all = revision::owned(view, &ds.metadata);
    let highest = all.last().map_or(0, |r| r.revision);
    let equal: Vec<&ControllerRevision> =
        all.iter().copied().filter(|r| r.data.as_ref().map(|d| &d.0) == Some(&data)).collect();
    let Some(keep) = equal.last().copied() else {
        let collision_count = ds.status.as_ref().and_then(|s| s.collision_count);
        let name = revision::name_for(ds.metadata.name.as_deref().unwrap_or(""), &data, collision_count);
        if view.get::<ControllerRevision>(ds.metadata.namespace.as_deref().unwrap_or(""), &name).is_some() {
            let mut bumped = ds.clone();
            bumped.status.get_or_insert_with(Default::default).collision_count = Some(collision_count.unwrap_or(0) + 1);
            return Err(Box::new(Op::UpdateStatus(bumped.into_object())));
        }
        return Err(Box::new(Op::Create(
            revision::new_revision(Kind::DaemonSet, &ds.metadata, &template, highest + 1, collision_count)
                .into_object(),
        )));
    };
    // Duplicates of the current template: relabel their pods to the kept revision, then delete them.
    let keep_hash = keep.metadata.labels.as_ref().and_then(|l| l.get(REVISION_HASH)).cloned().unwrap_or_default();
    if let Some(dup) = equal.iter().find(|r| r.metadata.uid != keep.metadata.uid) {
        let dup_hash = dup.metadata.labels.as_ref().and_then(|l| l.get(REVISION_HASH)).cloned().unwrap_or_default();
        if let Some(p) = pods.iter().find(|p| hash_of(p) == Some(dup_hash.as_str())) {
            let mut relabelled = (*p).clone();
            relabelled
                .metadata
                .labels
                .get_or_insert_with(BTreeMap::new)
                .insert(REVISION_HASH.into(), keep_hash.clone());
            return Err(Box::new(Op::Update(relabelled.into_object())));
        }
        return Err(Box::new(Op::Delete {
            target: ObjectRef::new(
                Kind::ControllerRevision,
                dup.metadata.namespace.clone().unwrap_or_default(),
                dup.metadata.name.clone().unwrap_or_default(),
            ),
            options: DeleteOptions::default(),
        }));
    }
    if keep.revision != highest {
        let mut renumbered = keep.clone();
        renumbered.revision = highest + 1;
        return Err(Box::new(Op::Update(renumbered.into_object())));
    }
    Ok(keep)
}

fn new_pod(ds: &DaemonSet, node: &str, hash: &str) -> Pod {
    let mut pod = eligibility::template_pod(ds);
    let name = ds.metadata.name.clone().unwrap_or_default();
    pod.metadata.name = None;
    pod.metadata.generate_name = Some(format!("{name}-"));
    pod.metadata.namespace = ds.metadata.namespace.clone();
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(REVISION_HASH.into(), hash.into());
    // Deprecated upstream but still set: the DaemonSet's generation the pod was made from.
    if let Some(generation) = ds.metadata.generation {
        labels.insert(TEMPLATE_GENERATION.into(), generation.to_string());
    }
    pod.metadata.owner_references = Some(vec![owner::controller_ref(Kind::DaemonSet, &ds.metadata)]);
    let spec = pod.spec.get_or_insert_with(Default::default);
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default)
        .required_during_scheduling_ignored_during_execution = Some(NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![node.into()]),
            }]),
        }],
    });
    pod
}

fn scaled(value: Option<&IntOrString>, total: i32, default: i32) -> i32 {
    match value {
        None => default,
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(p)) => {
            let percent: i32 = p.trim_end_matches('%').parse().unwrap_or(0);
            (total * percent + 99) / 100
        }
    }
}

/// What the DaemonSet needs next: a claim, a revision, pod changes (when `may_manage`), or status.
fn sync<'a>(view: &ClusterView<'a>, ds: &'a DaemonSet, may_manage: bool, timers: &mut Timers) -> Option<Decision<'a>> {
    let uid = ds.metadata.uid.clone()?;
    let namespace = ds.metadata.namespace.clone()?;
    let spec = ds.spec.as_ref()?;
    let now = view.now();
    let selector = LabelSelector::from_k8s(Some(&spec.selector)).ok()?;
    // A DaemonSet being deleted is left to the garbage collector: upstream neither claims, manages nor
    // writes status for it (its revisions may already be gone).
    if ds.metadata.deletion_timestamp.is_some() {
        return None;
    }
    for p in view.list_in::<Pod>(&namespace) {
        let matches = selector.matches_opt(p.metadata.labels.as_ref());
        let meta = match owner::claim(&p.metadata, &uid, false, matches) {
            Claim::Adopt => owner::adopted(&p.metadata, themelios_api::Kind::DaemonSet, &ds.metadata),
            Claim::Release => owner::released(&p.metadata, &uid),
            Claim::Owned | Claim::Ignore => continue,
        };
        let mut changed = p.clone();
        changed.metadata = meta;
        return Some(Decision::Write(Op::Update(changed.into_object())));
    }
    let pods: Vec<&Pod> =
        view.list_in::<Pod>(&namespace).filter(|p| owner::is_controlled_by(&p.metadata, &uid)).collect();
    let update = match settle_revision(view, ds, &pods) {
        Ok(r) => r,
        Err(op) => return Some(Decision::Write(*op)),
    };
    let update_hash = update.metadata.labels.as_ref().and_then(|l| l.get(REVISION_HASH)).cloned().unwrap_or_default();
    let nodes: Vec<&Node> = view.list::<Node>().collect();
    let mut by_node: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
    for p in &pods {
        by_node.entry(target_node(p).unwrap_or_default()).or_default().push(p);
    }
    let min_ready = i64::from(spec.min_ready_seconds.unwrap_or(0));

    // Upstream's sync: pod changes only with expectations met; the rolling update only if the first pass
    // changed nothing (its own changes would be unmet expectations).
    if may_manage {
        let mut changes = manage(ds, &nodes, &by_node, &update_hash);
        if changes.is_empty() && rolling(ds) {
            changes = rolling_update(ds, &nodes, &by_node, &update_hash, min_ready, now);
        }
        if !changes.is_empty() {
            return Some(Decision::Changes(changes));
        }
    }

    // Unmet expectations leave observedGeneration where it was, as upstream's status update does then.
    let status = status(ds, &nodes, &by_node, &update_hash, min_ready, may_manage, view, timers);
    status_update(ds, |ds| ds.status = Some(status)).map(Decision::Write)
}

fn rolling(ds: &DaemonSet) -> bool {
    let strategy = ds.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
    strategy.and_then(|s| s.type_.as_deref()).unwrap_or("RollingUpdate") == "RollingUpdate"
}

/// The pods every node should run and no more (upstream's `podsShouldBeOnNode` over all nodes).
fn manage<'a>(
    ds: &DaemonSet,
    nodes: &[&Node],
    by_node: &BTreeMap<String, Vec<&'a Pod>>,
    update_hash: &str,
) -> Vec<PodChange<'a>> {
    let mut changes = Vec::new();
    // Pods waiting for a node that is gone.
    for (node, pods) in by_node {
        if !nodes.iter().any(|n| n.metadata.name.as_deref() == Some(node.as_str())) {
            let waiting = pods.iter().filter(|p| podutil::node_name(p).is_none() && !podutil::is_deleting(p));
            changes.extend(waiting.map(|p| PodChange::Delete(p)));
        }
    }
    let surge_allowed = rolling(ds) && {
        let ru = ds.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|s| s.rolling_update.as_ref());
        scaled(ru.and_then(|r| r.max_surge.as_ref()), nodes.len() as i32, 0) > 0
    };
    for node in nodes {
        let name = node.metadata.name.clone().unwrap_or_default();
        // A finished pod already being deleted (kept by a finalizer) is no longer this controller's
        // concern: it neither counts as the node's pod nor needs deleting.
        let pods: Vec<&Pod> = by_node
            .get(&name)
            .into_iter()
            .flatten()
            .copied()
            .filter(|p| !(podutil::is_terminal(p) && podutil::is_deleting(p)))
            .collect();
        let (should_run, should_continue) = placement(ds, node);
        if should_run && pods.is_empty() {
            changes.push(PodChange::Create(Box::new(new_pod(ds, &name, update_hash))));
            continue;
        }
        let live: Vec<&Pod> = pods.iter().copied().filter(|p| !podutil::is_deleting(p)).collect();
        if !should_continue {
            changes.extend(live.into_iter().map(PodChange::Delete));
            continue;
        }
        // Finished pods go (a replacement follows in a later sync, once they are gone).
        changes.extend(live.iter().filter(|p| podutil::is_terminal(p)).map(|p| PodChange::Delete(p)));
        // More than one running pod on a node: keep the oldest (during a surge, one old and one new may
        // share it).
        let mut running: Vec<&Pod> = live.into_iter().filter(|p| !podutil::is_terminal(p)).collect();
        let surging = surge_allowed
            && running.len() == 2
            && running.iter().filter(|p| hash_of(p) == Some(update_hash)).count() == 1;
        if running.len() > 1 && !surging {
            running
                .sort_by_key(|p| (p.metadata.creation_timestamp.as_ref().map(Time::from_k8s), p.metadata.name.clone()));
            changes.extend(running.into_iter().skip(1).map(PodChange::Delete));
        }
    }
    changes
}

/// The changes of one pass of a rolling update (upstream's `rollingUpdate`).
fn rolling_update<'a>(
    ds: &DaemonSet,
    nodes: &[&Node],
    by_node: &BTreeMap<String, Vec<&'a Pod>>,
    update_hash: &str,
    min_ready: i64,
    now: Time,
) -> Vec<PodChange<'a>> {
    let ru = ds.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|s| s.rolling_update.as_ref());
    let eligible: Vec<&&Node> = nodes.iter().filter(|n| placement(ds, n).0).collect();
    let total = eligible.len() as i32;
    let max_surge = scaled(ru.and_then(|r| r.max_surge.as_ref()), total, 0);
    let max_unavailable = scaled(ru.and_then(|r| r.max_unavailable.as_ref()), total, 1);
    let pods_on = |n: &Node| active_on(by_node, n);
    let mut changes = Vec::new();
    if max_surge == 0 {
        // Old pods that are not available go first (they cost nothing), then available ones within budget.
        let unavailable =
            eligible.iter().filter(|n| !pods_on(n).iter().any(|p| is_available(p, min_ready, now))).count() as i32;
        let mut candidates = Vec::new();
        for n in &eligible {
            for old in pods_on(n).into_iter().filter(|p| hash_of(p) != Some(update_hash)) {
                if is_available(old, min_ready, now) {
                    candidates.push(old);
                } else {
                    changes.push(PodChange::Delete(old));
                }
            }
        }
        let budget = (max_unavailable - unavailable).max(0) as usize;
        changes.extend(candidates.into_iter().take(budget).map(PodChange::Delete));
        return changes;
    }
    // Surge: start the new pod beside the old one, retire the old one once the new is available.
    let surging = eligible
        .iter()
        .filter(|n| {
            let pods = pods_on(n);
            pods.iter().any(|p| hash_of(p) == Some(update_hash)) && pods.iter().any(|p| hash_of(p) != Some(update_hash))
        })
        .count() as i32;
    let mut surge_left = max_surge - surging;
    for n in &eligible {
        let pods = pods_on(n);
        let new = pods.iter().find(|p| hash_of(p) == Some(update_hash));
        let old = pods.iter().find(|p| hash_of(p) != Some(update_hash));
        match (old, new) {
            (Some(old), Some(new)) if is_available(new, min_ready, now) => changes.push(PodChange::Delete(old)),
            (Some(old), None) if !is_available(old, min_ready, now) => changes.push(PodChange::Delete(old)),
            (Some(_), None) if surge_left > 0 => {
                surge_left -= 1;
                changes.push(PodChange::Create(Box::new(new_pod(
                    ds,
                    n.metadata.name.as_deref().unwrap_or(""),
                    update_hash,
                ))));
            }
            _ => {}
        }
    }
    changes
}

/// The active daemon pods for a node.
fn active_on<'a>(by_node: &BTreeMap<String, Vec<&'a Pod>>, node: &Node) -> Vec<&'a Pod> {
    by_node
        .get(node.metadata.name.as_deref().unwrap_or(""))
        .into_iter()
        .flatten()
        .copied()
        .filter(|p| podutil::is_active(p))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn status(
    ds: &DaemonSet,
    nodes: &[&Node],
    by_node: &BTreeMap<String, Vec<&Pod>>,
    update_hash: &str,
    min_ready: i64,
    observe_generation: bool,
    view: &ClusterView,
    timers: &mut Timers,
) -> DaemonSetStatus {
    let now = view.now();
    let observed = ds.status.as_ref().and_then(|s| s.observed_generation);
    let mut s = DaemonSetStatus {
        observed_generation: if observe_generation { ds.metadata.generation } else { observed },
        collision_count: ds.status.as_ref().and_then(|s| s.collision_count),
        conditions: ds.status.as_ref().and_then(|s| s.conditions.clone()),
        ..Default::default()
    };
    let (mut updated, mut ready, mut available) = (0, 0, 0);
    for node in nodes {
        let (should_run, _) = placement(ds, node);
        let pods = active_on(by_node, node);
        if should_run {
            s.desired_number_scheduled += 1;
            if !pods.is_empty() {
                s.current_number_scheduled += 1;
            }
            if pods.iter().any(|p| hash_of(p) == Some(update_hash)) {
                updated += 1;
            }
            if pods.iter().any(|p| podutil::is_ready(p)) {
                ready += 1;
            }
            if pods.iter().any(|p| is_available(p, min_ready, now)) {
                available += 1;
            } else if let Some(since) = pods.iter().filter_map(|p| podutil::ready_since(p)).min() {
                timers.wake_at(since.plus_seconds(min_ready));
            }
        } else if !pods.is_empty() {
            s.number_misscheduled += 1;
        }
    }
    s.number_ready = ready;
    s.number_available = Some(available);
    s.updated_number_scheduled = Some(updated);
    s.number_unavailable = Some(s.desired_number_scheduled - available);
    s
}
