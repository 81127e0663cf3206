//! One sync of a StatefulSet: the first write it needs, in upstream's order — claim pods, settle the
//! revisions, keep claims' owner references as the retention policy says, then walk the ordinals in
//! range (create missing pods and their claims, replace finished pods once their old object is gone,
//! wait on unhealthy pods under OrderedReady), delete condemned pods from the highest ordinal down, and
//! roll pods to the update revision from the highest ordinal down within partition and maxUnavailable.

use super::identity::{claims_for, new_pod, ordinal_of, ordinals, restore_identity, revision_of, start_ordinal};
use super::revision;
use crate::common::owner::{self, Claim};
use crate::framework::ClusterView;
use crate::framework::Timers;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;
use themelios_api::selector::LabelSelector;
use themelios_api::{pod as podutil, Kind, ObjectRef, Op, Resource};

/// The revisions a sync works with.
pub struct Revisions<'a> {
    /// The revision of the current template.
    pub update: &'a ControllerRevision,
    /// The revision pods below the partition keep.
    pub current: &'a ControllerRevision,
}

/// What a sync decided.
pub enum Decision<'a> {
    /// Issue this request.
    Write(Op),
    /// Nothing to change in pods; the status (and history) may need writing.
    Settled { revisions: Revisions<'a>, pods: Vec<&'a Pod> },
}

fn name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or("")
}

/// Running and Ready, and not being deleted.
pub fn is_healthy(pod: &Pod) -> bool {
    podutil::phase(pod) == "Running" && podutil::is_ready(pod) && !podutil::is_deleting(pod)
}

fn delete(pod: &Pod) -> Op {
    Op::delete(ObjectRef::new(Kind::Pod, pod.metadata.namespace.clone().unwrap_or_default(), name(pod)))
}

/// Pod claims: adopt matching orphans with one of the set's names, release owned pods that stop matching.
fn claim_pods(view: &ClusterView, set: &StatefulSet) -> Option<Op> {
    let uid = set.metadata.uid.as_deref()?;
    let namespace = set.metadata.namespace.as_deref()?;
    let selector = LabelSelector::from_k8s(set.spec.as_ref().map(|s| &s.selector)).ok()?;
    let deleting = set.metadata.deletion_timestamp.is_some();
    for p in view.list_in::<Pod>(namespace).filter(|p| ordinal_of(set, name(p)).is_some()) {
        let matches = selector.matches_opt(p.metadata.labels.as_ref());
        let meta = match owner::claim(&p.metadata, uid, deleting, matches) {
            Claim::Adopt => owner::adopted(&p.metadata, Kind::StatefulSet, &set.metadata),
            Claim::Release => owner::released(&p.metadata, uid),
            Claim::Owned | Claim::Ignore => continue,
        };
        let mut changed = p.clone();
        changed.metadata = meta;
        return Some(Op::Update(changed.into_object()));
    }
    None
}

/// The revisions are settled, or this write settles them.
enum Settle<'a> {
    Ready(Revisions<'a>),
    Write(Op),
}

/// The update revision (creating it, renumbering an equal older one, or recording a hash collision) and
/// the current one.
fn settle_revisions<'a>(view: &ClusterView<'a>, set: &StatefulSet) -> Settle<'a> {
    let revisions = revision::owned(view, set);
    let data = revision::data_for(set);
    let highest = revisions.last().map_or(0, |r| r.revision);
    let equal = revisions.iter().rev().find(|r| r.data.as_ref().map(|d| &d.0) == Some(&data));
    let update = match equal {
        Some(r) if r.revision == highest => *r,
        Some(r) => {
            // Back to an older template (a rollback): that revision becomes the newest.
            let mut renumbered = (*r).clone();
            renumbered.revision = highest + 1;
            return Settle::Write(Op::Update(renumbered.into_object()));
        }
        None => {
            // Upstream always hashes with the count, 0 when none was recorded.
            let collision_count = set.status.as_ref().and_then(|s| s.collision_count).unwrap_or(0);
            let name = revision::name_for(set, &data, Some(collision_count));
            let namespace = set.metadata.namespace.as_deref().unwrap_or("");
            if view.get::<ControllerRevision>(namespace, &name).is_some() {
                let mut bumped = set.clone();
                let status = bumped.status.get_or_insert_with(Default::default);
                status.collision_count = Some(collision_count + 1);
                return Settle::Write(Op::UpdateStatus(bumped.into_object()));
            }
            let created = revision::new_revision(set, highest + 1, Some(collision_count));
            return Settle::Write(Op::Create(created.into_object()));
        }
    };
    let current_name = set.status.as_ref().and_then(|s| s.current_revision.clone());
    let current = revisions.iter().find(|r| r.metadata.name == current_name).copied().unwrap_or(update);
    Settle::Ready(Revisions { update, current })
}

/// The owner references a claim should have under the retention policy.
fn wanted_claim_refs(
    set: &StatefulSet,
    claim: &PersistentVolumeClaim,
    pod: Option<&Pod>,
    condemned: bool,
) -> Option<Vec<OwnerReference>> {
    let policy = set.spec.as_ref().and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    let when_deleted = policy.and_then(|p| p.when_deleted.as_deref()).unwrap_or("Retain");
    let when_scaled = policy.and_then(|p| p.when_scaled.as_deref()).unwrap_or("Retain");
    let set_uid = set.metadata.uid.clone().unwrap_or_default();
    let pod_uid = pod.and_then(|p| p.metadata.uid.clone());
    let mut refs = claim.metadata.owner_references.clone().unwrap_or_default();
    let before = refs.clone();
    let mut set_ref = owner::controller_ref(Kind::StatefulSet, &set.metadata);
    set_ref.controller = None;
    set_ref.block_owner_deletion = None;
    refs.retain(|r| r.uid != set_uid);
    if when_deleted == "Delete" {
        refs.push(set_ref);
    }
    if let Some(pod) = pod {
        let pod_uid = pod_uid.unwrap_or_default();
        refs.retain(|r| r.uid != pod_uid);
        if condemned && when_scaled == "Delete" {
            let mut pod_ref = owner::controller_ref(Kind::Pod, &pod.metadata);
            pod_ref.controller = None;
            pod_ref.block_owner_deletion = None;
            refs.push(pod_ref);
        }
    }
    (refs != before).then_some(refs)
}

/// The pod for `ordinal` at the revision the strategy gives it: below the partition, the current revision.
fn versioned_pod(set: &StatefulSet, revisions: &Revisions, ordinal: i32) -> Option<Pod> {
    let strategy = set.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
    let rolling = strategy.and_then(|s| s.type_.as_deref()).unwrap_or("RollingUpdate") == "RollingUpdate";
    let partition = strategy.and_then(|s| s.rolling_update.as_ref()).and_then(|r| r.partition).unwrap_or(0);
    let below_partition = rolling && ordinal < start_ordinal(set) + partition;
    let revision = if below_partition { revisions.current } else { revisions.update };
    let template = revision::template_of(revision)?;
    Some(new_pod(set, &template, ordinal, revision.metadata.name.as_deref().unwrap_or("")))
}

/// The first write `set` needs, or that it has settled.
pub fn sync<'a>(view: &ClusterView<'a>, set: &StatefulSet, may_manage: bool, timers: &mut Timers) -> Decision<'a> {
    if let Some(op) = claim_pods(view, set) {
        return Decision::Write(op);
    }
    let revisions = match settle_revisions(view, set) {
        Settle::Ready(r) => r,
        Settle::Write(op) => return Decision::Write(op),
    };
    let uid = set.metadata.uid.clone().unwrap_or_default();
    let namespace = set.metadata.namespace.clone().unwrap_or_default();
    let pods: Vec<&Pod> = view
        .list_in::<Pod>(&namespace)
        .filter(|p| owner::is_controlled_by(&p.metadata, &uid) && ordinal_of(set, name(p)).is_some())
        .collect();
    if set.metadata.deletion_timestamp.is_some() || !may_manage {
        return Decision::Settled { revisions, pods };
    }
    match manage(view, set, &revisions, &pods, timers) {
        Some(op) => Decision::Write(op),
        None => Decision::Settled { revisions, pods },
    }
}

fn manage(
    view: &ClusterView,
    set: &StatefulSet,
    revisions: &Revisions,
    pods: &[&Pod],
    timers: &mut Timers,
) -> Option<Op> {
    let namespace = set.metadata.namespace.clone().unwrap_or_default();
    let by_ordinal: BTreeMap<i32, &Pod> = pods.iter().filter_map(|p| Some((ordinal_of(set, name(p))?, *p))).collect();
    let range = ordinals(set);
    let condemned: Vec<&Pod> = by_ordinal.iter().filter(|(o, _)| !range.contains(o)).map(|(_, p)| *p).collect();
    let monotonic =
        set.spec.as_ref().and_then(|s| s.pod_management_policy.as_deref()).unwrap_or("OrderedReady") == "OrderedReady";
    let min_ready = i64::from(set.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0));

    // Claims follow the retention policy: owned by the set when it goes, by a condemned pod when it goes.
    for (ordinal, pod) in range
        .clone()
        .map(|o| (o, by_ordinal.get(&o).copied()))
        .chain(condemned.iter().map(|p| (ordinal_of(set, name(p)).unwrap_or(-1), Some(*p))))
    {
        for claim in claims_for(set, ordinal) {
            let claim_name = claim.metadata.name.clone().unwrap_or_default();
            let Some(existing) = view.get::<PersistentVolumeClaim>(&namespace, &claim_name) else { continue };
            if let Some(refs) = wanted_claim_refs(set, existing, pod, !range.contains(&ordinal)) {
                let mut updated = existing.clone();
                updated.metadata.owner_references = (!refs.is_empty()).then_some(refs);
                return Some(Op::Update(updated.into_object()));
            }
        }
    }

    let mut first_unhealthy: Option<&Pod> = None;
    for (ordinal, pod) in &by_ordinal {
        if (range.contains(ordinal) || condemned.contains(pod)) && !is_healthy(pod) {
            first_unhealthy = Some(pod);
            break;
        }
    }

    for ordinal in range.clone() {
        let Some(pod) = by_ordinal.get(&ordinal).copied() else {
            // Claims first, then the pod.
            for claim in claims_for(set, ordinal) {
                match view.get::<PersistentVolumeClaim>(&namespace, claim.metadata.name.as_deref().unwrap_or("")) {
                    None => return Some(Op::Create(claim.into_object())),
                    Some(existing) if existing.metadata.deletion_timestamp.is_some() => return None,
                    Some(_) => {}
                }
            }
            return versioned_pod(set, revisions, ordinal).map(|p| Op::Create(p.into_object()));
        };
        if podutil::is_terminal(pod) {
            // Replaced under the same identity, but only once the old object is gone (kubernetes #122709).
            if !podutil::is_deleting(pod) {
                return Some(delete(pod));
            }
            if monotonic {
                return None;
            }
            continue;
        }
        if podutil::is_deleting(pod) {
            if monotonic {
                return None;
            }
            continue;
        }
        if monotonic && !is_healthy(pod) {
            return None;
        }
        if monotonic && !podutil::is_available(pod, min_ready, view.now()) {
            if let Some(since) = podutil::ready_since(pod) {
                timers.wake_at(since.plus_seconds(min_ready));
            }
            return None;
        }
        if let Some(fixed) = restore_identity(set, pod, ordinal) {
            return Some(Op::Update(fixed.into_object()));
        }
    }

    for pod in condemned.iter().rev() {
        if podutil::is_deleting(pod) {
            if monotonic {
                return None;
            }
            continue;
        }
        if monotonic
            && !is_healthy(pod)
            && first_unhealthy.map(|p| p.metadata.uid.clone()) != Some(pod.metadata.uid.clone())
        {
            return None;
        }
        return Some(delete(pod));
    }

    rolling_update(set, revisions, &by_ordinal, range)
}

/// Replaces pods not at the update revision, highest ordinal first, within partition and maxUnavailable.
fn rolling_update(
    set: &StatefulSet,
    revisions: &Revisions,
    by_ordinal: &BTreeMap<i32, &Pod>,
    range: std::ops::Range<i32>,
) -> Option<Op> {
    let strategy = set.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
    if strategy.and_then(|s| s.type_.as_deref()).unwrap_or("RollingUpdate") != "RollingUpdate" {
        return None;
    }
    let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
    let partition = rolling.and_then(|r| r.partition).unwrap_or(0);
    let update_min = range.start + partition.max(0);
    let in_scope = update_min..range.end;
    let max_unavailable = match rolling.and_then(|r| r.max_unavailable.as_ref()) {
        None => 1,
        Some(IntOrString::Int(n)) => (*n).max(1),
        Some(IntOrString::String(p)) => {
            let percent: i32 = p.trim_end_matches('%').parse().unwrap_or(0);
            ((range.end - range.start) * percent / 100).max(1)
        }
    };
    let update_name = revisions.update.metadata.name.as_deref();
    let unavailable = in_scope.clone().filter(|o| by_ordinal.get(o).is_none_or(|p| !is_healthy(p))).count() as i32;
    for ordinal in in_scope.rev() {
        let Some(pod) = by_ordinal.get(&ordinal) else { continue };
        if revision_of(pod) != update_name && !podutil::is_deleting(pod) {
            // Replacing a healthy pod costs one more unavailable pod; an unhealthy one costs nothing.
            if is_healthy(pod) && unavailable >= max_unavailable {
                return None;
            }
            return Some(delete(pod));
        }
    }
    None
}
