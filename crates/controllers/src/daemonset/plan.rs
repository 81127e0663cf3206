//! The pod creates and deletes one sync of a DaemonSet decides on, issued one per step, and the
//! expectations that keep the next sync from deciding again before the informers show them.
//!
//! Upstream's `syncNodes` sets expectations for the whole difference (creations and deletions), then sends
//! the creates in slow-start batches (1, 2, 4 …; a batch with a failure skips the later batches, which
//! are no longer expected) and the deletes; a failed create or delete is no longer expected either. While
//! expectations are unmet, a sync writes only status (kubernetes #54096 needs a restart, which forgets
//! them, for a second daemon pod on a node).

use crate::common::expectations::Expectations;
use k8s_openapi::api::core::v1::Pod;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use themelios_api::{DeleteOptions, Kind, ObjectName, ObjectRef, Op, Resource, StoredObject, Time};

/// A pod change a sync decided on.
pub enum PodChange<'a> {
    /// Create this pod.
    Create(Box<Pod>),
    /// Delete this pod.
    Delete(&'a Pod),
}

/// A decided pod change, kept until it is sent.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Write {
    Create(Arc<StoredObject>),
    Delete { name: ObjectName, uid: String },
}

/// The changes of one sync still to send.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Plan {
    owner: String,
    writes: VecDeque<Write>,
    /// Creates left in the current slow-start batch, and that batch's size.
    batch_left: u32,
    batch_size: u32,
}

/// Per-DaemonSet expectations and the plan being sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Planner {
    expectations: BTreeMap<String, Expectations>,
    plan: Option<Plan>,
}

impl Planner {
    /// The next write of the plan being sent, if any.
    pub fn next(&self) -> Option<Op> {
        match self.plan.as_ref()?.writes.front()? {
            Write::Create(pod) => Some(Op::Create(pod.object().clone())),
            Write::Delete { name, uid } => Some(Op::Delete {
                target: ObjectRef { kind: Kind::Pod, name: name.clone() },
                options: DeleteOptions { uid: Some(uid.clone()), ..Default::default() },
            }),
        }
    }

    /// Forgets the expectations of DaemonSets no longer live.
    pub fn retain(&mut self, live: impl Fn(&str) -> bool) {
        self.expectations.retain(|uid, _| live(uid));
    }

    /// Whether the DaemonSet `owner` may decide on pod changes: its expectations, lowered by what the view
    /// shows (`seen` a created pod by name, `live` a deleted pod by uid), are met or expired. Otherwise
    /// returns when they expire.
    pub fn satisfied(
        &mut self,
        owner: &str,
        now: Time,
        seen: impl Fn(&str) -> bool,
        live: impl Fn(&str) -> bool,
    ) -> Result<(), Option<Time>> {
        let Some(exp) = self.expectations.get_mut(owner) else { return Ok(()) };
        exp.observe(seen, live);
        if exp.satisfied(now) {
            return Ok(());
        }
        Err(exp.expires.pending(now))
    }

    /// Expects `changes` of the DaemonSet `owner` and starts sending them; returns the first write.
    pub fn start(&mut self, owner: &str, changes: Vec<PodChange>, now: Time) -> Option<Op> {
        let creates = changes.iter().filter(|c| matches!(c, PodChange::Create(_))).count() as u32;
        let deleted = changes.iter().filter_map(|c| match c {
            PodChange::Delete(p) => p.metadata.uid.clone(),
            PodChange::Create(_) => None,
        });
        self.expectations.insert(owner.to_string(), Expectations::new(creates, deleted, now));
        // Creates go first, as upstream sends them before the deletes.
        let (mut creates, mut deletes): (VecDeque<Write>, VecDeque<Write>) = (VecDeque::new(), VecDeque::new());
        for change in changes {
            match change {
                PodChange::Create(pod) => creates.push_back(Write::Create(StoredObject::new((*pod).into_object()))),
                PodChange::Delete(pod) => deletes.push_back(Write::Delete {
                    name: ObjectName::new(
                        pod.metadata.namespace.as_deref().unwrap_or(""),
                        pod.metadata.name.clone().unwrap_or_default(),
                    ),
                    uid: pod.metadata.uid.clone().unwrap_or_default(),
                }),
            }
        }
        creates.append(&mut deletes);
        self.plan = Some(Plan { owner: owner.to_string(), writes: creates, batch_left: 1, batch_size: 1 });
        self.next()
    }

    /// Records the outcome of the write just sent; returns the DaemonSet it was for.
    pub fn observe(&mut self, succeeded: bool, created_name: Option<&str>) -> Option<String> {
        let plan = self.plan.as_mut()?;
        let owner = plan.owner.clone();
        let exp = self.expectations.entry(owner.clone()).or_default();
        match plan.writes.pop_front()? {
            Write::Create(_) => {
                exp.creates_pending = exp.creates_pending.saturating_sub(1);
                plan.batch_left = plan.batch_left.saturating_sub(1);
                match created_name.filter(|_| succeeded) {
                    Some(name) => {
                        exp.created.insert(name.to_string());
                    }
                    None => {
                        // The rest of this batch is still sent; the creates of later batches are skipped.
                        let creates_left = plan.writes.iter().filter(|w| matches!(w, Write::Create(_))).count();
                        let keep = (plan.batch_left as usize).min(creates_left);
                        let mut kept = 0;
                        plan.writes.retain(|w| {
                            !matches!(w, Write::Create(_)) || {
                                kept += 1;
                                kept <= keep
                            }
                        });
                        exp.creates_pending = exp.creates_pending.saturating_sub((creates_left - keep) as u32);
                    }
                }
                if plan.batch_left == 0 {
                    plan.batch_size = plan.batch_size.saturating_mul(2);
                    plan.batch_left = plan.batch_size;
                }
            }
            Write::Delete { uid, .. } => {
                if !succeeded {
                    exp.deleted.remove(&uid);
                }
            }
        }
        if plan.writes.is_empty() {
            self.plan = None;
        }
        Some(owner)
    }
}
