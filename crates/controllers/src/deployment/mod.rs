//! The Deployment controller: rolls a pod template out through ReplicaSets.
//!
//! Each Deployment owns ReplicaSets named `<deployment>-<pod-template-hash>`; the one whose template is
//! the Deployment's is the new one, the rest are old. RollingUpdate grows the new ReplicaSet and shrinks the
//! old ones within maxSurge and maxUnavailable; Recreate shrinks the old ones, waits until none of their
//! pods runs, then creates the new one. Scaling mid-rollout is spread proportionally; a paused Deployment
//! scales but creates no ReplicaSet; old ReplicaSets beyond revisionHistoryLimit are deleted. A template
//! change back to an old ReplicaSet's template (`kubectl rollout undo`) makes that ReplicaSet the new one,
//! with the next revision number.

mod properties;
mod revision;
mod status;
mod strategy;

pub use properties::properties;
pub use revision::{
    equal_ignoring_hash, fenceposts, max_surge, max_unavailable, template_hash, DESIRED_REPLICAS, MAX_REPLICAS,
    POD_TEMPLATE_HASH, REVISION, REVISION_HISTORY,
};
pub use status::reason;
pub use strategy::{find_new, owned_sets};

use crate::common::backoff::Backoff;
use crate::common::owner::{self, Claim};
use crate::framework::Timers;
use crate::framework::{status_update, update, ClusterView, Controller, Outcome};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use std::collections::BTreeMap;
use std::sync::Arc;
use strategy::Intent;
use themelios_api::selector::LabelSelector;
use themelios_api::{DeleteOptions, Kind, ObjectName, ObjectRef, Op, Resource, StoredObject, Time};

/// The Deployment controller.
#[derive(Clone, Debug, Default)]
pub struct DeploymentController;

/// What the Deployment controller keeps in memory: the rest of a sync in progress, the objects its writes
/// returned during it, and per-Deployment backoff after failures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Local {
    plan: Option<Plan>,
    backoff: Backoff<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Plan {
    deployment: ObjectName,
    uid: String,
    intents: Vec<Intent>,
    returned: BTreeMap<ObjectRef, Arc<StoredObject>>,
}

impl Controller for DeploymentController {
    type Local = Local;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // Its backoff; `minReadySeconds` and `progressDeadlineSeconds` are read from the Deployment.
            time_use: crate::framework::TimeUse::Relative {
                longest_seconds: crate::common::backoff::BACKOFF_CAP_SECONDS,
            },
            reads: Some(&[themelios_api::Kind::Deployment, themelios_api::Kind::ReplicaSet, themelios_api::Kind::Pod]),
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "deployment-controller".into()
    }

    fn step(&self, view: &ClusterView, local: &mut Local, timers: &mut Timers) -> Option<Op> {
        if let Some(op) = continue_plan(view, local, timers) {
            return Some(op);
        }
        for d in view.list::<Deployment>() {
            let uid = d.metadata.uid.clone().unwrap_or_default();
            if let Some(at) = local.backoff.retry_at(&uid, view.now()) {
                timers.wake_at(at);
                continue;
            }
            if let Some(op) = claim_replica_sets(view, d) {
                return Some(op);
            }
            let intents = strategy::sync(view, d, timers);
            let name = ObjectName::new(
                d.metadata.namespace.clone().unwrap_or_default(),
                d.metadata.name.clone().unwrap_or_default(),
            );
            local.plan = Some(Plan { deployment: name, uid, intents, returned: BTreeMap::new() });
            if let Some(op) = continue_plan(view, local, timers) {
                return Some(op);
            }
        }
        None
    }

    fn observe(&self, op: &Op, outcome: &Outcome, now: Time, local: &mut Local) {
        let Some(plan) = local.plan.as_mut() else { return };
        match outcome {
            Ok(object) => {
                plan.returned.insert(op.target(), object.clone());
                let uid = plan.uid.clone();
                local.backoff.forget(&uid);
            }
            Err(_) => {
                // Upstream returns the error and requeues the Deployment with backoff.
                let uid = plan.uid.clone();
                local.backoff.fail(&uid, now);
                local.plan = None;
            }
        }
    }
}

/// Adopts matching orphan ReplicaSets and releases owned ones that no longer match (one per step).
fn claim_replica_sets(view: &ClusterView, d: &Deployment) -> Option<Op> {
    let uid = d.metadata.uid.as_deref()?;
    let namespace = d.metadata.namespace.as_deref()?;
    let selector = LabelSelector::from_k8s(d.spec.as_ref().map(|s| &s.selector)).ok()?;
    let deleting = d.metadata.deletion_timestamp.is_some();
    for rs in view.list_in::<ReplicaSet>(namespace) {
        let matches = selector.matches_opt(rs.metadata.labels.as_ref());
        let meta = match owner::claim(&rs.metadata, uid, deleting, matches) {
            Claim::Adopt => owner::adopted(&rs.metadata, Kind::Deployment, &d.metadata),
            Claim::Release => owner::released(&rs.metadata, uid),
            Claim::Owned | Claim::Ignore => continue,
        };
        let mut changed = rs.clone();
        changed.metadata = meta;
        return Some(Op::Update(changed.into_object()));
    }
    None
}

/// The freshest copy of an object: what this sync's writes returned, else the view's.
fn freshest<'a, T: Resource>(view: &ClusterView<'a>, plan: &'a Plan, name: &ObjectName) -> Option<&'a T> {
    let reference = ObjectRef { kind: T::KIND, name: name.clone() };
    let from_view = view.get_stored(T::KIND, name);
    let from_plan = plan.returned.get(&reference);
    let newest = match (from_view, from_plan) {
        (Some(v), Some(p)) => Some(if p.revision() > v.revision() { p } else { v }),
        (v, p) => v.or(p),
    };
    newest.and_then(|s| s.typed::<T>())
}

/// Issues the next write of the sync in progress, skipping intents that turn out to change nothing.
fn continue_plan(view: &ClusterView, local: &mut Local, timers: &mut Timers) -> Option<Op> {
    loop {
        let plan = local.plan.as_mut()?;
        if plan.intents.is_empty() {
            local.plan = None;
            return None;
        }
        let intent = plan.intents.remove(0);
        if let Some(op) = resolve(view, plan, intent, timers) {
            return Some(op);
        }
    }
}

fn resolve(view: &ClusterView, plan: &Plan, intent: Intent, timers: &mut Timers) -> Option<Op> {
    let namespace = plan.deployment.namespace.clone();
    match intent {
        Intent::CreateReplicaSet(rs) => Some(Op::Create(rs.object().clone())),
        Intent::UpdateReplicaSet { name, replicas, annotations, min_ready_seconds } => {
            let current: &ReplicaSet = freshest(view, plan, &ObjectName::new(&namespace, &name))?;
            update(current, |rs| {
                let spec = rs.spec.get_or_insert_with(Default::default);
                spec.replicas = Some(replicas);
                spec.min_ready_seconds = Some(min_ready_seconds);
                rs.metadata.annotations = Some(annotations);
            })
        }
        Intent::DeleteReplicaSet { name, uid } => Some(Op::Delete {
            target: ObjectRef::new(Kind::ReplicaSet, namespace, name),
            options: DeleteOptions { uid: Some(uid), ..Default::default() },
        }),
        Intent::SetDeploymentRevision(revision) => {
            // Through the status subresource, as upstream: an annotation change on the main resource
            // would move a Deployment's generation.
            let current: &Deployment = freshest(view, plan, &plan.deployment)?;
            status_update(current, |d| {
                d.metadata.annotations.get_or_insert_with(BTreeMap::new).insert(REVISION.into(), revision);
            })
        }
        Intent::Status(mode) => {
            let d: &Deployment = freshest(view, plan, &plan.deployment)?;
            // The Deployment's ReplicaSets as this sync left them, including one it created that the view
            // may not show yet.
            let uid = d.metadata.uid.clone().unwrap_or_default();
            let mut names: Vec<String> =
                owned_sets(view, d).into_iter().filter_map(|rs| rs.metadata.name.clone()).collect();
            for (reference, object) in &plan.returned {
                let controlled = owner::is_controlled_by(object.object().meta(), &uid);
                if reference.kind == Kind::ReplicaSet && controlled && !names.contains(&reference.name.name) {
                    names.push(reference.name.name.clone());
                }
            }
            let mut sets: Vec<&ReplicaSet> = names
                .iter()
                .filter_map(|name| freshest::<ReplicaSet>(view, plan, &ObjectName::new(&namespace, name)))
                .filter(|rs| {
                    rs.metadata.deletion_timestamp.is_none() || rs.spec.as_ref().and_then(|s| s.replicas) != Some(0)
                })
                .collect();
            sets.sort_by(|a, b| strategy::created(a).cmp(&strategy::created(b)));
            let new_rs = find_new(d, &sets);
            let status = status::compute(d, &sets, new_rs, &mode, view, timers);
            status_update(d, |d| d.status = Some(status))
        }
    }
}
