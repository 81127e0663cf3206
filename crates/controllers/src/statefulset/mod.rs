//! The StatefulSet controller: pods with stable identities, created, replaced and updated in order.
//!
//! Pod `<set>-<ordinal>` exists for each ordinal in `[spec.ordinals.start, start + replicas)`, with its
//! claims from `volumeClaimTemplates` made first. Under OrderedReady a pod is created only when every
//! predecessor is Running and Ready, and scale-down removes the highest ordinal first, one at a time;
//! Parallel drops the ordering. A finished pod is deleted and replaced under the same name once its old
//! object is gone, so one identity never has two pods. Template changes become ControllerRevisions;
//! RollingUpdate replaces pods from the highest ordinal down to the partition, within maxUnavailable;
//! OnDelete replaces nothing. Status is written on every sync, even when pod creation fails.

mod identity;
mod properties;
mod revision;
mod status;
mod sync;

pub use identity::{claim_name, ordinal_of, pod_name, POD_INDEX_LABEL, POD_NAME_LABEL, REVISION_LABEL};
pub use properties::properties;
pub use sync::is_healthy;

use crate::framework::Timers;
use crate::framework::{status_update, ClusterView, Controller, Outcome};
use k8s_openapi::api::apps::v1::StatefulSet;
use sync::Decision;
use themelios_api::{DeleteOptions, Kind, ObjectRef, Op, Time};

/// The StatefulSet controller.
#[derive(Clone, Debug, Default)]
pub struct StatefulSetController;

/// What the StatefulSet controller keeps in memory: per-set backoff after failed writes.
pub type Local = crate::common::backoff::Retries;

impl Controller for StatefulSetController {
    type Local = Local;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // Its backoff; `minReadySeconds` is read from the StatefulSet.
            time_use: crate::framework::TimeUse::Relative {
                longest_seconds: crate::common::backoff::BACKOFF_CAP_SECONDS,
            },
            reads: Some(&[
                themelios_api::Kind::StatefulSet,
                themelios_api::Kind::Pod,
                themelios_api::Kind::ControllerRevision,
                themelios_api::Kind::PersistentVolumeClaim,
            ]),
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "statefulset-controller".into()
    }

    fn step(&self, view: &ClusterView, local: &mut Local, timers: &mut Timers) -> Option<Op> {
        for set in view.list::<StatefulSet>() {
            let uid = set.metadata.uid.clone().unwrap_or_default();
            let backing_off = local.blocked_until(&uid, view.now());
            if let Some(at) = backing_off {
                timers.wake_at(at);
            }
            let op = match sync::sync(view, set, backing_off.is_none(), timers) {
                Decision::Write(op) => Some(op),
                Decision::Settled { revisions, pods } => {
                    let status = status::compute(set, &pods, &revisions, view, timers);
                    if let Some(op) = status_update(set, |set| set.status = Some(status.clone())) {
                        Some(op)
                    } else {
                        let all = revision::owned(view, set);
                        let current = status.current_revision.as_deref().unwrap_or("");
                        let update = status.update_revision.as_deref().unwrap_or("");
                        revision::surplus(set, &all, &pods, current, update).first().map(|r| Op::Delete {
                            target: ObjectRef::new(
                                Kind::ControllerRevision,
                                r.metadata.namespace.clone().unwrap_or_default(),
                                r.metadata.name.clone().unwrap_or_default(),
                            ),
                            options: DeleteOptions { uid: r.metadata.uid.clone(), ..Default::default() },
                        })
                    }
                }
            };
            if op.is_some() {
                local.attempt(&uid);
                return op;
            }
        }
        None
    }

    fn observe(&self, _op: &Op, outcome: &Outcome, now: Time, local: &mut Local) {
        local.record(outcome.is_ok(), now);
    }
}
