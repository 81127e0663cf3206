//! The storage-object-in-use protection controllers: a PersistentVolumeClaim a scheduled pod refers to, or a
//! PersistentVolume that is bound, is not removed while in use. kube-apiserver's StorageObjectInUseProtection
//! admission puts the `kubernetes.io/pvc-protection` / `kubernetes.io/pv-protection` finalizer on each when
//! it is created (these controllers add it to any that lack it); once a deleted claim or volume is no longer
//! used, the finalizer is taken off and the deletion completes.
//!
//! Upstream confirms "no pod uses it" with a live list of the namespace's pods before removing the
//! finalizer; here the view is the answer (a lagging pod cache can release a claim a new pod refers to —
//! a behaviour the model checker can explore).

use crate::common::backoff::{settled, Retries, BACKOFF_CAP_SECONDS};
use crate::framework::Timers;
use crate::framework::{update, ClusterView, Controller, Outcome, Property};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use themelios_api::{Kind, Op, Time};

/// The claims' finalizer.
pub const PVC_FINALIZER: &str = "kubernetes.io/pvc-protection";
/// The volumes' finalizer.
pub const PV_FINALIZER: &str = "kubernetes.io/pv-protection";

/// The PersistentVolumeClaim protection controller.
#[derive(Clone, Debug, Default)]
pub struct PvcProtectionController;

/// The PersistentVolume protection controller.
#[derive(Clone, Debug, Default)]
pub struct PvProtectionController;

fn has_finalizer(finalizers: Option<&Vec<String>>, finalizer: &str) -> bool {
    finalizers.is_some_and(|f| f.iter().any(|x| x == finalizer))
}

/// Whether a scheduled pod in the claim's namespace refers to it (by name, or as the pod's ephemeral volume
/// while the pod runs).
pub fn claim_in_use(view: &ClusterView, claim: &PersistentVolumeClaim) -> bool {
    let namespace = claim.metadata.namespace.as_deref().unwrap_or("");
    let name = claim.metadata.name.as_deref().unwrap_or("");
    view.list_in::<Pod>(namespace).any(|pod| {
        let Some(spec) = pod.spec.as_ref().filter(|s| s.node_name.as_deref().is_some_and(|n| !n.is_empty())) else {
            return false;
        };
        let pod_name = pod.metadata.name.as_deref().unwrap_or("");
        spec.volumes.iter().flatten().any(|v| {
            let by_name = v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name == name);
            let ephemeral = v.ephemeral.is_some()
                && format!("{pod_name}-{}", v.name) == name
                && !themelios_api::pod::is_terminal(pod);
            by_name || ephemeral
        })
    })
}

impl Controller for PvcProtectionController {
    /// Per-claim backoff after a failed update (upstream requeues the claim rate-limited).
    type Local = Retries;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // It reads no time but its backoff after failed writes.
            time_use: crate::framework::TimeUse::Relative { longest_seconds: BACKOFF_CAP_SECONDS },
            reads: Some(&[Kind::PersistentVolumeClaim, Kind::Pod]),
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "pvc-protection-controller".into()
    }

    fn step(&self, view: &ClusterView, retries: &mut Retries, timers: &mut Timers) -> Option<Op> {
        retries.first_work(
            view.list::<PersistentVolumeClaim>(),
            |c| &c.metadata,
            view.now(),
            timers,
            |claim| {
                let protected = has_finalizer(claim.metadata.finalizers.as_ref(), PVC_FINALIZER);
                match (claim.metadata.deletion_timestamp.is_some(), protected) {
                    (false, false) => {
                        update(claim, |c| c.metadata.finalizers.get_or_insert_with(Vec::new).push(PVC_FINALIZER.into()))
                    }
                    (true, true) if !claim_in_use(view, claim) => update(claim, |c| {
                        c.metadata.finalizers.get_or_insert_with(Vec::new).retain(|f| f != PVC_FINALIZER)
                    }),
                    _ => None,
                }
            },
        )
    }

    fn observe(&self, _op: &Op, outcome: &Outcome, now: Time, retries: &mut Retries) {
        retries.record(settled(outcome), now);
    }
}

impl Controller for PvProtectionController {
    /// Per-volume backoff after a failed update (upstream requeues the volume rate-limited).
    type Local = Retries;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // It reads no time but its backoff after failed writes.
            time_use: crate::framework::TimeUse::Relative { longest_seconds: BACKOFF_CAP_SECONDS },
            reads: Some(&[Kind::PersistentVolume]),
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "pv-protection-controller".into()
    }

    fn step(&self, view: &ClusterView, retries: &mut Retries, timers: &mut Timers) -> Option<Op> {
        retries.first_work(
            view.list::<PersistentVolume>(),
            |v| &v.metadata,
            view.now(),
            timers,
            |volume| {
                let protected = has_finalizer(volume.metadata.finalizers.as_ref(), PV_FINALIZER);
                let bound = volume.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
                match (volume.metadata.deletion_timestamp.is_some(), protected) {
                    (false, false) => {
                        update(volume, |v| v.metadata.finalizers.get_or_insert_with(Vec::new).push(PV_FINALIZER.into()))
                    }
                    (true, true) if !bound => update(volume, |v| {
                        v.metadata.finalizers.get_or_insert_with(Vec::new).retain(|f| f != PV_FINALIZER)
                    }),
                    _ => None,
                }
            },
        )
    }

    fn observe(&self, _op: &Op, outcome: &Outcome, now: Time, retries: &mut Retries) {
        retries.record(settled(outcome), now);
    }
}

/// The protection controllers' guarantees.
pub fn properties() -> Vec<Property> {
    vec![
        Property::every_step("pvc-protection: a claim a scheduled pod refers to is never removed", |before, after| {
            for claim in before.list::<PersistentVolumeClaim>() {
                let (namespace, name) =
                    (claim.metadata.namespace.as_deref().unwrap_or(""), claim.metadata.name.as_deref().unwrap_or(""));
                if after.get::<PersistentVolumeClaim>(namespace, name).is_none() && claim_in_use(after, claim) {
                    return Err(format!("claim {namespace}/{name} was removed while a pod uses it"));
                }
            }
            Ok(())
        }),
        Property::eventually("pvc-protection: a deleted claim no pod uses goes away", |view| {
            match view
                .list::<PersistentVolumeClaim>()
                .find(|c| c.metadata.deletion_timestamp.is_some() && !claim_in_use(view, c))
            {
                Some(c) => Err(format!("claim {} is still being deleted", c.metadata.name.as_deref().unwrap_or(""))),
                None => Ok(()),
            }
        }),
    ]
}
