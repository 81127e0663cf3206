//! The ReplicaSet controller: keeps `spec.replicas` active pods matching the selector.
//!
//! One sync of a ReplicaSet is, as upstream: claim pods (adopt matching orphans, release non-matching
//! pods it controls), then — if its expectations are satisfied — create or delete the difference, then write
//! status. Each write is a step of its own, so a crash between two writes is a state the checker explores.

mod properties;
mod ranking;
mod status;

pub use properties::properties;
pub use ranking::{rank_for_deletion, POD_DELETION_COST};

use crate::common::backoff::Backoff;
use crate::common::expectations::Expectations;
use crate::common::owner::{self, Claim};
use crate::common::template::{pod_from_template, PodName};
use crate::framework::Timers;
use crate::framework::{status_update, ClusterView, Controller, Outcome};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeMap;
use std::sync::Arc;
use themelios_api::selector::LabelSelector;
use themelios_api::{pod, Kind, ObjectName, ObjectRef, Op, Reason, Resource, StoredObject, Time};

/// The most pods one sync creates or deletes (upstream's burstReplicas).
pub const BURST_REPLICAS: u32 = 500;

/// The ReplicaSet controller.
#[derive(Clone, Debug, Default)]
pub struct ReplicaSetController;

/// What the ReplicaSet controller keeps in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Local {
    plan: Option<Plan>,
    expectations: BTreeMap<String, Expectations>,
    failures: BTreeMap<String, Failure>,
    backoff: Backoff<String>,
}

/// The last failed create or delete of a ReplicaSet, shown as its ReplicaFailure condition.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Failure {
    /// `FailedCreate` or `FailedDelete`.
    pub reason: &'static str,
    /// The API error's message.
    pub message: String,
}

/// The writes a sync decided on and has not finished issuing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Plan {
    /// Slow-start creates: batches of 1, 2, 4 … until a batch has a failure.
    Create { owner: String, pod: Arc<StoredObject>, remaining: u32, batch_left: u32, batch_size: u32 },
    /// Deletes of the ranked victims (name and uid), in order.
    Delete { owner: String, victims: Vec<(ObjectName, String)> },
}

impl Controller for ReplicaSetController {
    type Local = Local;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // Its backoff and expectations' expiry. One comparison goes further back: upstream's scale-down
            // ranking (`LogarithmicScaleDown`) puts pods' ages since ready and since creation in log-scale buckets
            // of any length. A model checker that forgets times past this horizon keeps their order only, so
            // among pods older than it a scale-down takes the pod one representative timing of that order picks.
            time_use: crate::framework::TimeUse::Relative {
                longest_seconds: crate::common::backoff::BACKOFF_CAP_SECONDS
                    .max(crate::common::expectations::EXPECTATIONS_TTL_SECONDS),
            },
            reads: Some(&[themelios_api::Kind::ReplicaSet, themelios_api::Kind::Pod]),
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "replicaset-controller".into()
    }

    fn step(&self, view: &ClusterView, local: &mut Local, timers: &mut Timers) -> Option<Op> {
        if let Some(op) = next_planned(local) {
            return Some(op);
        }
        let live: std::collections::BTreeSet<&str> =
            view.list::<ReplicaSet>().filter_map(|rs| rs.metadata.uid.as_deref()).collect();
        local.expectations.retain(|uid, _| live.contains(uid.as_str()));
        local.failures.retain(|uid, _| live.contains(uid.as_str()));
        view.list::<ReplicaSet>().find_map(|rs| sync(view, rs, local, timers))
    }

    fn observe(&self, op: &Op, outcome: &Outcome, now: Time, local: &mut Local) {
        let Some(plan) = local.plan.as_mut() else { return };
        let (owner, failure, done) = match (plan, op) {
            (Plan::Create { owner, remaining, batch_left, batch_size, .. }, Op::Create(_)) => {
                let exp = local.expectations.entry(owner.clone()).or_default();
                exp.creates_pending = exp.creates_pending.saturating_sub(1);
                *remaining -= 1;
                *batch_left -= 1;
                let failure = match outcome {
                    Ok(created) => {
                        exp.created.insert(created.object().meta().name.clone().unwrap_or_default());
                        if *batch_left == 0 {
                            *batch_size = (*batch_size * 2).min(*remaining);
                            *batch_left = *batch_size;
                        }
                        None
                    }
                    Err(err) => {
                        // The rest of this batch is still sent; later batches are skipped and not expected.
                        let skipped = *remaining - *batch_left;
                        exp.creates_pending = exp.creates_pending.saturating_sub(skipped);
                        *remaining = *batch_left;
                        Some(Failure { reason: "FailedCreate", message: err.message.clone() })
                    }
                };
                (owner.clone(), failure, *remaining == 0)
            }
            (Plan::Delete { owner, victims }, Op::Delete { target, .. }) => {
                let Some(at) = victims.iter().position(|(name, _)| *name == target.name) else { return };
                let (_, victim_uid) = victims.remove(at);
                let failure = match outcome {
                    Ok(_) => None,
                    Err(err) => {
                        // A failed delete will never be observed: stop expecting it.
                        if let Some(exp) = local.expectations.get_mut(owner.as_str()) {
                            exp.deleted.remove(&victim_uid);
                        }
                        (err.reason != Reason::NotFound)
                            .then(|| Failure { reason: "FailedDelete", message: err.message.clone() })
                    }
                };
                (owner.clone(), failure, victims.is_empty())
            }
            _ => return,
        };
        if let Some(failure) = failure {
            local.failures.insert(owner.clone(), failure);
            local.backoff.fail(&owner, now);
        }
        if done {
            local.plan = None;
            if !local.failures.contains_key(&owner) {
                local.backoff.forget(&owner);
            }
        }
    }
}

fn next_planned(local: &Local) -> Option<Op> {
    match local.plan.as_ref()? {
        Plan::Create { pod, .. } => Some(Op::Create(pod.object().clone())),
        Plan::Delete { victims, .. } => {
            victims.first().map(|(name, _)| Op::delete(ObjectRef { kind: Kind::Pod, name: name.clone() }))
        }
    }
}

/// One sync of one ReplicaSet; the first write it needs, if any.
fn sync(view: &ClusterView, rs: &ReplicaSet, local: &mut Local, timers: &mut Timers) -> Option<Op> {
    let uid = rs.metadata.uid.clone()?;
    let namespace = rs.metadata.namespace.as_deref()?;
    let spec = rs.spec.as_ref()?;
    let selector = LabelSelector::from_k8s(Some(&spec.selector)).ok()?;
    let deleting = rs.metadata.deletion_timestamp.is_some();
    let now = view.now();

    for p in view.list_in::<Pod>(namespace) {
        let matches = selector.matches_opt(p.metadata.labels.as_ref());
        let meta = match owner::claim(&p.metadata, &uid, deleting, matches) {
            Claim::Adopt => owner::adopted(&p.metadata, Kind::ReplicaSet, &rs.metadata),
            Claim::Release => owner::released(&p.metadata, &uid),
            Claim::Owned | Claim::Ignore => continue,
        };
        let mut changed = p.clone();
        changed.metadata = meta;
        return Some(Op::Update(changed.into_object()));
    }

    let owned: Vec<&Pod> =
        view.list_in::<Pod>(namespace).filter(|p| owner::is_controlled_by(&p.metadata, &uid)).collect();
    let active: Vec<&Pod> = owned.iter().copied().filter(|p| pod::is_active(p)).collect();

    let satisfied = match local.expectations.get_mut(&uid) {
        None => true,
        Some(exp) => {
            exp.observe(
                |name| view.get::<Pod>(namespace, name).is_some(),
                |pod_uid| owned.iter().any(|p| p.metadata.uid.as_deref() == Some(pod_uid) && !pod::is_deleting(p)),
            );
            let ok = exp.satisfied(now);
            if !ok {
                if let Some(at) = exp.expires.pending(now) {
                    timers.wake_at(at);
                }
            }
            ok
        }
    };
    let backing_off = local.backoff.retry_at(&uid, now);
    if let Some(at) = backing_off {
        timers.wake_at(at);
    }

    if satisfied && !deleting && backing_off.is_none() {
        let diff = active.len() as i64 - i64::from(spec.replicas.unwrap_or(1));
        if diff < 0 {
            let count = ((-diff) as u32).min(BURST_REPLICAS);
            let template = spec.template.clone().unwrap_or_default();
            let prefix = format!("{}-", rs.metadata.name.as_deref().unwrap_or(""));
            let new_pod = pod_from_template(
                &template,
                namespace,
                owner::controller_ref(Kind::ReplicaSet, &rs.metadata),
                PodName::Generate(&prefix),
            );
            local.expectations.insert(uid.clone(), Expectations::new(count, [], now));
            local.plan = Some(Plan::Create {
                owner: uid,
                pod: StoredObject::new(new_pod.into_object()),
                remaining: count,
                batch_left: 1,
                batch_size: 1,
            });
            return next_planned(local);
        }
        if diff > 0 {
            let count = (diff as usize).min(BURST_REPLICAS as usize);
            let related = related_pods(view, rs, namespace);
            let victims: Vec<&Pod> = rank_for_deletion(active.clone(), &related, now).into_iter().take(count).collect();
            let uids = victims.iter().filter_map(|p| p.metadata.uid.clone());
            local.expectations.insert(uid.clone(), Expectations::new(0, uids, now));
            local.plan = Some(Plan::Delete {
                owner: uid,
                victims: victims
                    .iter()
                    .map(|p| {
                        let name = ObjectName::new(namespace, p.metadata.name.clone().unwrap_or_default());
                        (name, p.metadata.uid.clone().unwrap_or_default())
                    })
                    .collect(),
            });
            return next_planned(local);
        }
        if local.failures.remove(&uid).is_some() {
            local.backoff.forget(&uid);
        }
    }

    let failure = local.failures.get(&uid);
    let new_status = status::compute(rs, &active, failure, view, timers);
    status_update(rs, |rs| rs.status = Some(new_status))
}

/// The active pods of this ReplicaSet and its siblings under the same controller (for doubled-up ranking).
fn related_pods<'a>(view: &ClusterView<'a>, rs: &ReplicaSet, namespace: &'a str) -> Vec<&'a Pod> {
    let owner_uid = owner::controller_of(&rs.metadata).map(|r| r.uid.clone());
    let siblings: Vec<String> = match owner_uid {
        None => rs.metadata.uid.clone().into_iter().collect(),
        Some(parent) => view
            .list_in::<ReplicaSet>(namespace)
            .filter(|s| owner::is_controlled_by(&s.metadata, &parent))
            .filter_map(|s| s.metadata.uid.clone())
            .collect(),
    };
    view.list_in::<Pod>(namespace)
        .filter(|p| pod::is_active(p))
        .filter(|p| owner::controller_of(&p.metadata).is_some_and(|r| siblings.contains(&r.uid)))
        .collect()
}
