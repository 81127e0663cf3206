//! The namespace controller: a deleted namespace (phase Terminating) has every object in it deleted,
//! then its `kubernetes` finalizer removed, and goes away.

use crate::common::backoff::{settled, Retries, BACKOFF_CAP_SECONDS};
use crate::framework::Timers;
use crate::framework::{ClusterView, Controller, Outcome, Property};
use k8s_openapi::api::core::v1::Namespace;
use themelios_api::{DeleteOptions, Kind, ObjectRef, Op, Propagation, Resource, Time};

/// The spec finalizer the namespace controller owns.
pub const KUBERNETES_FINALIZER: &str = "kubernetes";

/// The namespace controller.
#[derive(Clone, Debug, Default)]
pub struct NamespaceController;

impl Controller for NamespaceController {
    /// Per-namespace backoff after a failed write (keyed by uid; upstream requeues the namespace rate-limited).
    type Local = Retries;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // It reads no time but its backoff after failed writes.
            time_use: crate::framework::TimeUse::Relative { longest_seconds: BACKOFF_CAP_SECONDS },
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "namespace-controller".into()
    }

    fn step(&self, view: &ClusterView, retries: &mut Retries, timers: &mut Timers) -> Option<Op> {
        let deleted = view.list::<Namespace>().filter(|ns| ns.metadata.deletion_timestamp.is_some());
        retries.first_work(deleted, |ns| &ns.metadata, view.now(), timers, |ns| finalize(view, ns))
    }

    fn observe(&self, _op: &Op, outcome: &Outcome, now: Time, retries: &mut Retries) {
        retries.record(settled(outcome), now);
    }
}

fn finalize(view: &ClusterView, ns: &Namespace) -> Option<Op> {
    let name = ns.metadata.name.clone()?;
    let mut remaining = false;
    for kind in Kind::ALL.iter().copied().filter(|k| k.namespaced()) {
        let from = themelios_api::ObjectName::new(&name, "");
        for (key, object) in view.stored(kind).range(from..).take_while(|(k, _)| k.namespace == name) {
            remaining = true;
            if object.object().meta().deletion_timestamp.is_none() {
                return Some(Op::Delete {
                    target: ObjectRef { kind, name: key.clone() },
                    options: DeleteOptions { propagation: Some(Propagation::Background), ..Default::default() },
                });
            }
        }
    }
    if remaining {
        // Wait for graceful deletions and finalizers of the contents.
        return None;
    }
    let finalizers = ns.spec.as_ref().and_then(|s| s.finalizers.clone()).unwrap_or_default();
    if !finalizers.iter().any(|f| f == KUBERNETES_FINALIZER) {
        return None;
    }
    let mut finalized = ns.clone();
    if let Some(spec) = finalized.spec.as_mut() {
        spec.finalizers = Some(finalizers.into_iter().filter(|f| f != KUBERNETES_FINALIZER).collect());
    }
    Some(Op::Finalize(finalized.into_object()))
}

/// The namespace controller's goal: no terminating namespace lingers with its finalizer.
pub fn properties() -> Vec<Property> {
    vec![Property::eventually("namespace: a deleted namespace is emptied and removed", |view| {
        match view.list::<Namespace>().find(|ns| {
            ns.metadata.deletion_timestamp.is_some()
                && ns
                    .spec
                    .as_ref()
                    .and_then(|s| s.finalizers.as_ref())
                    .is_some_and(|f| f.iter().any(|x| x == KUBERNETES_FINALIZER))
        }) {
            Some(ns) => Err(format!("namespace {} is still terminating", ns.metadata.name.as_deref().unwrap_or(""))),
            None => Ok(()),
        }
    })]
}
