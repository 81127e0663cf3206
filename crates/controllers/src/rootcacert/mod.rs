//! The root CA publisher: every active namespace has the ConfigMap `kube-root-ca.crt` holding the CA bundle
//! that verifies the API server, which pods mount through their projected service-account volume.

use crate::common::backoff::{settled, Retries, BACKOFF_CAP_SECONDS};
use crate::framework::Timers;
use crate::framework::{ClusterView, Controller, Outcome, Property};
use crate::serviceaccount::is_active;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use std::collections::BTreeMap;
use themelios_api::{Kind, Op, Resource, Time};

/// The ConfigMap's name.
pub const CONFIG_MAP: &str = "kube-root-ca.crt";
/// Its one data key.
pub const CA_KEY: &str = "ca.crt";
/// The annotation that says what the ConfigMap is for, and upstream's wording of it.
pub const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal \
endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across \
distributions of Kubernetes clusters.";

/// What a model or test cluster publishes when no CA is given.
pub const PLACEHOLDER_BUNDLE: &str = "-----BEGIN CERTIFICATE-----\nthemelios model CA\n-----END CERTIFICATE-----\n";

/// The root CA publisher, with the bundle it publishes.
#[derive(Clone, Debug)]
pub struct RootCaPublisher {
    bundle: String,
}

impl RootCaPublisher {
    /// A publisher of `bundle` (PEM).
    pub fn new(bundle: impl Into<String>) -> Self {
        Self { bundle: bundle.into() }
    }

    fn data(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(CA_KEY.to_string(), self.bundle.clone())])
    }
}

impl Default for RootCaPublisher {
    fn default() -> Self {
        Self::new(PLACEHOLDER_BUNDLE)
    }
}

fn described(cm: &ConfigMap) -> bool {
    cm.metadata.annotations.as_ref().and_then(|a| a.get(DESCRIPTION_ANNOTATION)).is_some_and(|d| !d.is_empty())
}

impl Controller for RootCaPublisher {
    /// Per-namespace backoff after a failed write (keyed by uid; upstream requeues the namespace rate-limited).
    type Local = Retries;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // It reads no time but its backoff after failed writes.
            time_use: crate::framework::TimeUse::Relative { longest_seconds: BACKOFF_CAP_SECONDS },
            reads: Some(&[Kind::Namespace, Kind::ConfigMap]),
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "root-ca-cert-publisher".into()
    }

    fn step(&self, view: &ClusterView, retries: &mut Retries, timers: &mut Timers) -> Option<Op> {
        let data = self.data();
        let active = view.list::<Namespace>().filter(|ns| is_active(ns));
        retries.first_work(
            active,
            |ns| &ns.metadata,
            view.now(),
            timers,
            |ns| {
                let namespace = ns.metadata.name.as_deref()?;
                match view.get::<ConfigMap>(namespace, CONFIG_MAP) {
                    None => {
                        let mut cm = ConfigMap::default();
                        cm.metadata.name = Some(CONFIG_MAP.into());
                        cm.metadata.namespace = Some(namespace.into());
                        cm.metadata.annotations =
                            Some(BTreeMap::from([(DESCRIPTION_ANNOTATION.to_string(), DESCRIPTION.to_string())]));
                        cm.data = Some(data.clone());
                        Some(Op::Create(cm.into_object()))
                    }
                    // Someone changed it: put the bundle and the description back, keeping anything else.
                    Some(cm) if cm.data.as_ref() != Some(&data) || !described(cm) => {
                        let mut fixed = cm.clone();
                        fixed.data = Some(data.clone());
                        fixed
                            .metadata
                            .annotations
                            .get_or_insert_with(Default::default)
                            .insert(DESCRIPTION_ANNOTATION.into(), DESCRIPTION.into());
                        Some(Op::Update(fixed.into_object()))
                    }
                    Some(_) => None,
                }
            },
        )
    }

    fn observe(&self, _op: &Op, outcome: &Outcome, now: Time, retries: &mut Retries) {
        retries.record(settled(outcome), now);
    }
}

/// The publisher's goal.
pub fn properties() -> Vec<Property> {
    vec![Property::eventually("root-ca-cert-publisher: every active namespace has kube-root-ca.crt", |view| {
        for ns in view.list::<Namespace>().filter(|ns| is_active(ns)) {
            let name = ns.metadata.name.as_deref().unwrap_or("");
            match view.get::<ConfigMap>(name, CONFIG_MAP) {
                Some(cm) if cm.data.as_ref().is_some_and(|d| d.contains_key(CA_KEY)) && described(cm) => {}
                _ => return Err(format!("namespace {name} has no {CONFIG_MAP} with a CA bundle")),
            }
        }
        Ok(())
    })]
}
