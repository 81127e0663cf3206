//! One sync of a Deployment, as upstream performs it, expressed as the writes it decides on.
//!
//! The sync works on copies of the Deployment's ReplicaSets and records each change as an [`Intent`]
//! with absolute target values; the controller issues them one per step against the freshest copy of
//! each object (the view's, or what an earlier write of the same sync returned), as upstream uses the
//! objects its own writes return.

use super::revision::{
    self, copy_deployment_annotations, equal_ignoring_hash, int_annotation, is_rolling, max_surge, max_unavailable,
    replicas, revision_of, set_revision, template_hash, DESIRED_REPLICAS, MAX_REPLICAS, POD_TEMPLATE_HASH,
};
use super::status::{is_complete, StatusMode};
use crate::common::owner;
use crate::framework::ClusterView;
use crate::framework::Timers;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use std::sync::Arc;
use themelios_api::{pod as podutil, Resource, StoredObject, Time};

/// A write a sync decided on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Intent {
    /// Create this ReplicaSet.
    CreateReplicaSet(Arc<StoredObject>),
    /// Give a ReplicaSet these replicas, annotations and minReadySeconds.
    UpdateReplicaSet { name: String, replicas: i32, annotations: BTreeMap<String, String>, min_ready_seconds: i32 },
    /// Delete an old ReplicaSet (revision history cleanup).
    DeleteReplicaSet { name: String, uid: String },
    /// Record the current revision on the Deployment.
    SetDeploymentRevision(String),
    /// Write the Deployment's status.
    Status(StatusMode),
}

/// The working copies of one sync.
struct Work<'a> {
    d: &'a Deployment,
    sets: Vec<ReplicaSet>,
    new_rs: Option<usize>,
    intents: Vec<Intent>,
    now: Time,
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn available(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)
}

/// The age order of ReplicaSets: creation time, then name. Borrows the name: sorting calls it often.
pub fn created(rs: &ReplicaSet) -> (Option<Time>, Option<&str>) {
    (rs.metadata.creation_timestamp.as_ref().map(Time::from_k8s), rs.metadata.name.as_deref())
}

impl Work<'_> {
    fn old(&self) -> Vec<usize> {
        (0..self.sets.len()).filter(|i| Some(*i) != self.new_rs).collect()
    }
    fn total_replicas(&self, of: &[usize]) -> i32 {
        of.iter().map(|i| spec_replicas(&self.sets[*i])).sum()
    }
    fn update_intent(&self, i: usize) -> Intent {
        let rs = &self.sets[i];
        Intent::UpdateReplicaSet {
            name: rs.metadata.name.clone().unwrap_or_default(),
            replicas: spec_replicas(rs),
            annotations: rs.metadata.annotations.clone().unwrap_or_default(),
            min_ready_seconds: rs.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0),
        }
    }

    /// Scales a ReplicaSet, stamping it with the Deployment's desired and max replicas.
    fn scale(&mut self, i: usize, to: i32) -> bool {
        let desired = replicas(self.d);
        let max = desired + max_surge(self.d);
        let rs = &mut self.sets[i];
        let current = spec_replicas(rs);
        let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
        let stamp_changed = annotations.get(DESIRED_REPLICAS) != Some(&desired.to_string())
            || annotations.get(MAX_REPLICAS) != Some(&max.to_string());
        if current == to && !stamp_changed {
            return false;
        }
        annotations.insert(DESIRED_REPLICAS.into(), desired.to_string());
        annotations.insert(MAX_REPLICAS.into(), max.to_string());
        rs.spec.get_or_insert_with(Default::default).replicas = Some(to);
        let intent = self.update_intent(i);
        self.intents.push(intent);
        true
    }
}

/// The Deployment's ReplicaSets, oldest first.
pub fn owned_sets<'a>(view: &ClusterView<'a>, d: &Deployment) -> Vec<&'a ReplicaSet> {
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let namespace = d.metadata.namespace.clone().unwrap_or_default();
    let mut sets: Vec<&ReplicaSet> =
        view.list_in::<ReplicaSet>(&namespace).filter(|rs| owner::is_controlled_by(&rs.metadata, &uid)).collect();
    sets.sort_by_key(|rs| created(rs));
    sets
}

/// The ReplicaSet whose template is the Deployment's (the oldest, if several are).
pub fn find_new<'a>(d: &Deployment, sets: &[&'a ReplicaSet]) -> Option<&'a ReplicaSet> {
    let template = &d.spec.as_ref()?.template;
    sets.iter()
        .copied()
        .find(|rs| rs.spec.as_ref().and_then(|s| s.template.as_ref()).is_some_and(|t| equal_ignoring_hash(t, template)))
}

/// The writes of one sync of `d`.
pub fn sync(view: &ClusterView, d: &Deployment, timers: &mut Timers) -> Vec<Intent> {
    let sets: Vec<ReplicaSet> = owned_sets(view, d).into_iter().cloned().collect();
    let new_rs = {
        let refs: Vec<&ReplicaSet> = sets.iter().collect();
        find_new(d, &refs).and_then(|n| sets.iter().position(|s| s.metadata.uid == n.metadata.uid))
    };
    let mut work = Work { d, sets, new_rs, intents: Vec::new(), now: view.now() };
    if d.metadata.deletion_timestamp.is_some() {
        return vec![Intent::Status(StatusMode::CountsOnly)];
    }
    sync_revision(&mut work);
    let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    if paused {
        scale_proportionally(&mut work);
        cleanup(&mut work);
        work.intents.push(Intent::Status(StatusMode::CountsOnly));
        return work.intents;
    }
    if is_scaling_event(&work) {
        scale_proportionally(&mut work);
        work.intents.push(Intent::Status(StatusMode::CountsOnly));
        return work.intents;
    }
    if is_rolling(d) {
        rolling(view, &mut work, timers);
    } else {
        recreate(view, &mut work, timers);
    }
    work.intents
}

/// The revision the new ReplicaSet should have: one past every old one.
fn next_revision(work: &Work) -> i64 {
    work.old().iter().map(|i| revision_of(&work.sets[*i])).max().unwrap_or(0) + 1
}

/// Brings an existing new ReplicaSet's annotations and minReadySeconds up to date, and the Deployment's
/// revision annotation with it.
fn sync_revision(work: &mut Work) {
    let Some(i) = work.new_rs else { return };
    let revision = next_revision(work);
    let min_ready = work.d.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let rs = &mut work.sets[i];
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = copy_deployment_annotations(work.d, annotations);
    changed |= set_revision(annotations, revision);
    let spec = rs.spec.get_or_insert_with(Default::default);
    if spec.min_ready_seconds.unwrap_or(0) != min_ready {
        spec.min_ready_seconds = Some(min_ready);
        changed = true;
    }
    if changed {
        let intent = work.update_intent(i);
        work.intents.push(intent);
    }
    set_deployment_revision(work, i);
}

fn set_deployment_revision(work: &mut Work, i: usize) {
    let rs_revision = revision::annotation(&work.sets[i], revision::REVISION).unwrap_or("").to_string();
    let current =
        work.d.metadata.annotations.as_ref().and_then(|a| a.get(revision::REVISION)).cloned().unwrap_or_default();
    if !rs_revision.is_empty() && rs_revision != current {
        work.intents.push(Intent::SetDeploymentRevision(rs_revision));
    }
}

/// Creates the new ReplicaSet, or records a hash collision. Returns whether it now exists.
fn create_new(view: &ClusterView, work: &mut Work, initial_replicas: i32) -> bool {
    let d = work.d;
    let Some(spec) = d.spec.as_ref() else { return false };
    let collision_count = d.status.as_ref().and_then(|s| s.collision_count);
    let hash = template_hash(&spec.template, collision_count);
    let name = format!("{}-{hash}", d.metadata.name.as_deref().unwrap_or(""));
    let namespace = d.metadata.namespace.clone().unwrap_or_default();
    if view.get::<ReplicaSet>(&namespace, &name).is_some() {
        // The name is taken by a ReplicaSet that is not this template's (or it would have been found):
        // a hash collision. Bump the count so the next attempt gets another name.
        work.intents.push(Intent::Status(StatusMode::Collision));
        return false;
    }
    let mut template = spec.template.clone();
    let labels = template.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(BTreeMap::new);
    labels.insert(POD_TEMPLATE_HASH.into(), hash.clone());
    let labels = labels.clone();
    let mut selector = spec.selector.clone();
    selector.match_labels.get_or_insert_with(BTreeMap::new).insert(POD_TEMPLATE_HASH.into(), hash);
    let mut annotations = BTreeMap::new();
    copy_deployment_annotations(d, &mut annotations);
    set_revision(&mut annotations, next_revision(work));
    annotations.insert(DESIRED_REPLICAS.into(), replicas(d).to_string());
    annotations.insert(MAX_REPLICAS.into(), (replicas(d) + max_surge(d)).to_string());
    let rs = ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: Some(vec![owner::controller_ref(themelios_api::Kind::Deployment, &d.metadata)]),
            creation_timestamp: Some(work.now.to_k8s()),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(initial_replicas),
            min_ready_seconds: spec.min_ready_seconds,
            selector,
            template: Some(template),
        }),
        status: None,
    };
    let mut to_create = rs.clone();
    to_create.metadata.creation_timestamp = None;
    work.intents.push(Intent::CreateReplicaSet(StoredObject::new(to_create.into_object())));
    work.sets.push(rs);
    work.new_rs = Some(work.sets.len() - 1);
    set_deployment_revision(work, work.sets.len() - 1);
    true
}

/// How many replicas the new ReplicaSet may have now.
fn new_rs_target(work: &Work) -> i32 {
    let d = work.d;
    let want = replicas(d);
    if !is_rolling(d) {
        return want;
    }
    let current_new = work.new_rs.map_or(0, |i| spec_replicas(&work.sets[i]));
    let all: Vec<usize> = (0..work.sets.len()).collect();
    let max_total = want + max_surge(d);
    let current_total = work.total_replicas(&all);
    if current_total >= max_total {
        return current_new;
    }
    current_new + (max_total - current_total).min(want - current_new).max(0)
}

fn rolling(view: &ClusterView, work: &mut Work, timers: &mut Timers) {
    if work.new_rs.is_none() {
        let target = new_rs_target(work);
        if !create_new(view, work, target) {
            return;
        }
    }
    let Some(new) = work.new_rs else { return };
    let want = replicas(work.d);
    // Scale the new ReplicaSet up (or down to the target) first.
    let current_new = spec_replicas(&work.sets[new]);
    if current_new != want {
        let target = if current_new > want { want } else { new_rs_target(work) };
        if target != current_new && work.scale(new, target) {
            work.intents.push(Intent::Status(StatusMode::Rollout));
            return;
        }
    }
    if scale_down_old(work) {
        work.intents.push(Intent::Status(StatusMode::Rollout));
        return;
    }
    cleanup_if_complete(view, work, new, timers);
    work.intents.push(Intent::Status(StatusMode::Rollout));
}

/// Scales old ReplicaSets down as far as availability allows: unhealthy replicas first, then available
/// ones down to `replicas - maxUnavailable`.
fn scale_down_old(work: &mut Work) -> bool {
    let d = work.d;
    let old = work.old();
    if work.total_replicas(&old) == 0 {
        return false;
    }
    let Some(new) = work.new_rs else { return false };
    let all: Vec<usize> = (0..work.sets.len()).collect();
    let min_available = replicas(d) - max_unavailable(d);
    let new_unavailable = spec_replicas(&work.sets[new]) - available(&work.sets[new]);
    let max_scaled_down = work.total_replicas(&all) - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return false;
    }
    let mut scaled = 0;
    // Unhealthy replicas of old sets go first, oldest set first: they cost no availability.
    for &i in &old {
        if scaled >= max_scaled_down {
            break;
        }
        let rs = &work.sets[i];
        let unhealthy = spec_replicas(rs) - available(rs);
        if spec_replicas(rs) == 0 || unhealthy <= 0 {
            continue;
        }
        let down = unhealthy.min(max_scaled_down - scaled);
        let to = spec_replicas(rs) - down;
        work.scale(i, to);
        scaled += down;
    }
    // Then available ones, as far as the availability floor allows.
    let available_now: i32 = all.iter().map(|i| available(&work.sets[*i])).sum();
    let mut room = available_now - min_available;
    for &i in &old {
        if room <= 0 {
            break;
        }
        let current = spec_replicas(&work.sets[i]);
        if current == 0 {
            continue;
        }
        let down = current.min(room);
        work.scale(i, current - down);
        room -= down;
        scaled += down;
    }
    scaled > 0
}

/// Whether any pod of an old ReplicaSet may still be running.
fn old_pods_running(view: &ClusterView, work: &Work) -> bool {
    let old = work.old();
    if old.iter().any(|i| work.sets[*i].status.as_ref().is_some_and(|s| s.replicas > 0)) {
        return true;
    }
    let old_uids: Vec<&str> = old.iter().filter_map(|i| work.sets[*i].metadata.uid.as_deref()).collect();
    let namespace = work.d.metadata.namespace.as_deref().unwrap_or("");
    view.list_in::<Pod>(namespace).any(|p| {
        owner::controller_of(&p.metadata).is_some_and(|r| old_uids.contains(&r.uid.as_str()))
            && !podutil::is_terminal(p)
    })
}

fn recreate(view: &ClusterView, work: &mut Work, timers: &mut Timers) {
    let mut scaled_down = false;
    for i in work.old() {
        if spec_replicas(&work.sets[i]) > 0 {
            scaled_down |= work.scale(i, 0);
        }
    }
    if scaled_down || old_pods_running(view, work) {
        work.intents.push(Intent::Status(StatusMode::Rollout));
        return;
    }
    if work.new_rs.is_none() && !create_new(view, work, replicas(work.d)) {
        return;
    }
    if let Some(new) = work.new_rs {
        let want = replicas(work.d);
        if spec_replicas(&work.sets[new]) != want {
            work.scale(new, want);
        }
        cleanup_if_complete(view, work, new, timers);
    }
    work.intents.push(Intent::Status(StatusMode::Rollout));
}

/// Whether some active ReplicaSet was last scaled for a different `spec.replicas`.
fn is_scaling_event(work: &Work) -> bool {
    let want = replicas(work.d);
    work.sets
        .iter()
        .filter(|rs| spec_replicas(rs) > 0)
        .any(|rs| int_annotation(rs, DESIRED_REPLICAS).is_some_and(|desired| desired != want))
}

/// Spreads a change of `spec.replicas` over the active ReplicaSets in proportion to their sizes.
fn scale_proportionally(work: &mut Work) {
    let d = work.d;
    let want = replicas(d);
    let active: Vec<usize> = (0..work.sets.len()).filter(|i| spec_replicas(&work.sets[*i]) > 0).collect();
    // One active set (or none: then the newest) simply takes the whole count.
    let single = match active.as_slice() {
        [one] => Some(*one),
        [] => work.new_rs.or_else(|| (0..work.sets.len()).max_by_key(|i| created(&work.sets[*i]))),
        _ => None,
    };
    if let Some(i) = single {
        if spec_replicas(&work.sets[i]) != want {
            work.scale(i, want);
        }
        return;
    }
    let saturated = work.new_rs.is_some_and(|i| {
        let rs = &work.sets[i];
        spec_replicas(rs) == want && int_annotation(rs, DESIRED_REPLICAS) == Some(want) && available(rs) == want
    });
    if saturated {
        for i in work.old() {
            if spec_replicas(&work.sets[i]) > 0 {
                work.scale(i, 0);
            }
        }
        return;
    }
    if !is_rolling(d) {
        return;
    }
    let allowed = if want > 0 { want + max_surge(d) } else { 0 };
    let to_add = allowed - work.total_replicas(&active);
    let mut order = active.clone();
    // Larger sets first; among equals, newer first when growing and older first when shrinking.
    order.sort_by(|a, b| {
        let (ra, rb) = (&work.sets[*a], &work.sets[*b]);
        let by_age = if to_add > 0 { created(rb).cmp(&created(ra)) } else { created(ra).cmp(&created(rb)) };
        spec_replicas(rb).cmp(&spec_replicas(ra)).then(by_age)
    });
    let mut added = 0;
    let mut sizes: Vec<(usize, i32)> = Vec::new();
    for &i in &order {
        let rs = &work.sets[i];
        let share = if to_add == 0 { 0 } else { proportion(rs, d, to_add, added) };
        sizes.push((i, spec_replicas(rs) + share));
        added += share;
    }
    if let Some(first) = sizes.first_mut() {
        if to_add != 0 {
            first.1 = (first.1 + to_add - added).max(0);
        }
    }
    for (i, size) in sizes {
        work.scale(i, size);
    }
}

/// This set's share of `to_add`, from its size relative to the size it was scaled for.
fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    let current = spec_replicas(rs);
    if current == 0 || to_add == added {
        return 0;
    }
    let fraction = if replicas(d) == 0 {
        -current
    } else {
        let target = f64::from(replicas(d) + max_surge(d));
        let base = int_annotation(rs, MAX_REPLICAS)
            .unwrap_or_else(|| d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0))
            .max(1);
        (f64::from(current) * target / f64::from(base)).round() as i32 - current
    };
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// History is cleaned up only once the rollout has completed.
fn cleanup_if_complete(view: &ClusterView, work: &mut Work, new: usize, timers: &mut Timers) {
    let sets: Vec<&ReplicaSet> = work.sets.iter().collect();
    let status = super::status::compute(work.d, &sets, Some(&work.sets[new]), &StatusMode::Rollout, view, timers);
    if is_complete(work.d, &status) {
        cleanup(work);
    }
}

/// Deletes the oldest old ReplicaSets beyond revisionHistoryLimit that are fully scaled down.
fn cleanup(work: &mut Work) {
    let Some(limit) = work.d.spec.as_ref().and_then(|s| s.revision_history_limit) else { return };
    let mut candidates: Vec<usize> =
        work.old().into_iter().filter(|i| work.sets[*i].metadata.deletion_timestamp.is_none()).collect();
    let excess = candidates.len() as i64 - i64::from(limit);
    if excess <= 0 {
        return;
    }
    candidates.sort_by_key(|i| (revision_of(&work.sets[*i]), created(&work.sets[*i])));
    for &i in candidates.iter().take(excess as usize) {
        let rs = &work.sets[i];
        let settled = rs.status.as_ref().is_none_or(|s| s.replicas == 0)
            && spec_replicas(rs) == 0
            && rs.metadata.generation <= rs.status.as_ref().and_then(|s| s.observed_generation);
        if settled {
            work.intents.push(Intent::DeleteReplicaSet {
                name: rs.metadata.name.clone().unwrap_or_default(),
                uid: rs.metadata.uid.clone().unwrap_or_default(),
            });
        }
    }
}
