//! Writes as the server will store them: a controller skips a write that would store what is already
//! there, judged after the server's own rules (see [`themelios_api::wire`]), not by comparing its Rust
//! values — upstream's server drops zero values of `omitempty` fields, so a status built with
//! `unavailableReplicas: 0` equals a stored status without it.

use themelios_api::{wire, Op, Resource};

/// `Op::UpdateStatus` of `object` changed by `change`, or `None` when the server would store exactly
/// `object` again.
///
/// ```
/// use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
/// use themelios_api::{wire, Resource};
/// use themelios_controllers::framework::status_update;
///
/// let mut rs = ReplicaSet::default();
/// rs.metadata.name = Some("web".into());
/// rs.status = Some(ReplicaSetStatus { replicas: 2, ..Default::default() });
/// // As the server stores it (`spec: {}` included).
/// let rs = ReplicaSet::from_object(&wire::as_stored(&rs.into_object()).unwrap()).unwrap().clone();
/// // `fullyLabeledReplicas: 0` is not stored upstream: writing it would change nothing.
/// let zero = |rs: &mut ReplicaSet| rs.status.as_mut().unwrap().fully_labeled_replicas = Some(0);
/// assert!(status_update(&rs, zero).is_none());
/// let ready = |rs: &mut ReplicaSet| rs.status.as_mut().unwrap().ready_replicas = Some(2);
/// assert!(status_update(&rs, ready).is_some());
/// ```
pub fn status_update<T: Resource>(object: &T, change: impl FnOnce(&mut T)) -> Option<Op> {
    changed(object, change).map(Op::UpdateStatus)
}

/// `Op::Update` of `object` changed by `change`, or `None` when the server would store exactly `object`
/// again.
pub fn update<T: Resource>(object: &T, change: impl FnOnce(&mut T)) -> Option<Op> {
    changed(object, change).map(Op::Update)
}

/// Whether the server would store `desired` as something other than `stored`.
pub fn would_change<T: Resource>(stored: &T, desired: &T) -> bool {
    !wire::stores_as(&desired.clone().into_object(), &stored.clone().into_object())
}

fn changed<T: Resource>(object: &T, change: impl FnOnce(&mut T)) -> Option<themelios_api::Object> {
    let mut updated = object.clone();
    change(&mut updated);
    let updated = updated.into_object();
    (!wire::stores_as(&updated, &object.clone().into_object())).then_some(updated)
}
