//! The service account controller: every active namespace has a `default` ServiceAccount.
//!
//! Upstream's kube-apiserver refuses pods in a namespace without their ServiceAccount (the ServiceAccount
//! admission plugin), so a cluster whose controller-manager lacks this controller creates no pods at all.

use crate::common::backoff::{settled, Retries, BACKOFF_CAP_SECONDS};
use crate::framework::Timers;
use crate::framework::{ClusterView, Controller, Outcome, Property};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use themelios_api::{Kind, Op, Resource, Time};

/// The ServiceAccount every namespace gets.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// The service account controller.
#[derive(Clone, Debug, Default)]
pub struct ServiceAccountController;

/// Whether a namespace takes new objects: upstream creates nothing in one that is not Active.
pub fn is_active(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_none()
        && ns.status.as_ref().and_then(|s| s.phase.as_deref()).is_none_or(|phase| phase == "Active")
}

impl Controller for ServiceAccountController {
    /// Per-namespace backoff after a failed create (keyed by uid; upstream requeues the namespace rate-limited).
    type Local = Retries;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // It reads no time but its backoff after failed writes.
            time_use: crate::framework::TimeUse::Relative { longest_seconds: BACKOFF_CAP_SECONDS },
            reads: Some(&[Kind::Namespace, Kind::ServiceAccount]),
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "serviceaccount-controller".into()
    }

    fn step(&self, view: &ClusterView, retries: &mut Retries, timers: &mut Timers) -> Option<Op> {
        let active = view.list::<Namespace>().filter(|ns| is_active(ns));
        retries.first_work(
            active,
            |ns| &ns.metadata,
            view.now(),
            timers,
            |ns| {
                let namespace = ns.metadata.name.as_deref()?;
                view.get::<ServiceAccount>(namespace, DEFAULT_SERVICE_ACCOUNT).is_none().then(|| {
                    let mut account = ServiceAccount::default();
                    account.metadata.name = Some(DEFAULT_SERVICE_ACCOUNT.into());
                    account.metadata.namespace = Some(namespace.into());
                    Op::Create(account.into_object())
                })
            },
        )
    }

    fn observe(&self, _op: &Op, outcome: &Outcome, now: Time, retries: &mut Retries) {
        retries.record(settled(outcome), now);
    }
}

/// The service account controller's goal.
pub fn properties() -> Vec<Property> {
    vec![Property::eventually("serviceaccount: every active namespace has a default ServiceAccount", |view| match view
        .list::<Namespace>()
        .filter(|ns| is_active(ns))
        .find(|ns| {
            ns.metadata
                .name
                .as_deref()
                .is_some_and(|n| view.get::<ServiceAccount>(n, DEFAULT_SERVICE_ACCOUNT).is_none())
        }) {
        Some(ns) => {
            Err(format!("namespace {} has no default ServiceAccount", ns.metadata.name.as_deref().unwrap_or("")))
        }
        None => Ok(()),
    })]
}
