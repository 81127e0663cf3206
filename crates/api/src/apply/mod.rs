//! `apply(state, op)`: what the API server does to one request, as a pure function.
//!
//! The model checker's datastore and the real API server both call this; neither has a second copy of any
//! API rule. `apply` reads the state and returns a [`Change`] (or the [`ApiError`] a client would get); the
//! caller commits the change.

mod create;
mod delete;
mod pods;
pub mod scale;
mod update;

use crate::error::ApiError;
use crate::kind::{Kind, Object};
use crate::op::Op;
use crate::store::{Change, ObjectName, StateRead, StoredObject, Write};
use crate::time::Time;
use crate::wire;
use std::sync::Arc;

pub use delete::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
pub use update::status_write;

/// What `apply` needs besides the state: the time the request is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApplyContext {
    /// The server's clock (logical in the model, the wall clock in the API server).
    pub now: Time,
}

/// Computes the outcome of one request against `state`.
///
/// ```
/// use themelios_api::{apply, ApplyContext, ApiState, Op, Time, Reason};
/// use k8s_openapi::api::core::v1::Namespace;
/// let mut state = ApiState::default();
/// let ctx = ApplyContext { now: Time::EPOCH };
/// let mut ns = Namespace::default();
/// ns.metadata.name = Some("demo".into());
/// let op = Op::Create(themelios_api::Resource::into_object(ns));
/// let change = apply(&state, &op, &ctx).unwrap();
/// state.commit(&change).unwrap();
/// // A second create of the same name fails as upstream does.
/// assert_eq!(apply(&state, &op, &ctx).unwrap_err().reason, Reason::AlreadyExists);
/// ```
pub fn apply(state: &impl StateRead, op: &Op, ctx: &ApplyContext) -> Result<Change, ApiError> {
    match op {
        Op::Get(target) => Ok(unchanged(state, current(state, target.kind, &target.name)?)),
        // The request as upstream's Go types decode it: a zero in an `omitempty` field is no value at all,
        // so defaulting and validation see it as absent.
        Op::Create(object) => create::create(state, &decoded(object)?, ctx),
        Op::Update(object) => update::update(state, &decoded(object)?, update::Part::Main, ctx),
        Op::UpdateStatus(object) => update::update(state, &decoded(object)?, update::Part::Status, ctx),
        Op::Finalize(object) => update::update(state, &decoded(object)?, update::Part::Finalizers, ctx),
        Op::Delete { target, options } => delete::delete(state, target.kind, &target.name, options, ctx),
        Op::Bind { pod, uid, node } => pods::bind(state, pod, uid.as_deref(), node, ctx),
        Op::Evict { pod, options } => pods::evict(state, pod, options, ctx),
        Op::Scale { target, replicas, resource_version } => {
            scale::scale(state, target, *replicas, resource_version.as_deref(), ctx)
        }
    }
}

/// Fetches the current object or fails with NotFound.
fn current(state: &impl StateRead, kind: Kind, name: &ObjectName) -> Result<Arc<StoredObject>, ApiError> {
    state.get(kind, name).ok_or_else(|| ApiError::not_found(kind, &name.name))
}

/// The resourceVersion string of the next revision.
fn next_revision(state: &impl StateRead) -> u64 {
    state.revision() + 1
}

/// `object` in the form upstream's Go types give it (see [`crate::wire`]).
fn decoded(object: &Object) -> Result<Object, ApiError> {
    wire::as_stored(object)
        .map_err(|e| ApiError::internal(&format!("the wire rules do not fit {}: {e}", object.kind())))
}

/// Stamps `object` with the next revision and wraps it as a one-write change, in the form upstream's server
/// stores it (see [`crate::wire`]).
fn put(state: &impl StateRead, object: Object) -> Result<Change, ApiError> {
    put_decoded(state, decoded(&object)?)
}

/// [`put`] of an object already in stored form.
fn put_decoded(state: &impl StateRead, mut object: Object) -> Result<Change, ApiError> {
    let revision = next_revision(state);
    object.meta_mut().resource_version = Some(revision.to_string());
    let stored = StoredObject::new(object);
    Ok(Change { revision, writes: vec![Write::Put(stored.clone())], response: stored })
}

/// Removes `object` at the next revision; the removed version carries that revision, as a watch shows it.
fn remove(state: &impl StateRead, mut object: Object) -> Change {
    let revision = next_revision(state);
    object.meta_mut().resource_version = Some(revision.to_string());
    let stored = StoredObject::new(object);
    Change { revision, writes: vec![Write::Remove(stored.clone())], response: stored }
}

/// A change that writes nothing and returns the current object (a no-op update or delete).
fn unchanged(state: &impl StateRead, current: Arc<StoredObject>) -> Change {
    Change { revision: state.revision(), writes: Vec::new(), response: current }
}

/// Whether anything still holds the object once it is deleted: metadata finalizers, or for a namespace the
/// `spec.finalizers` the namespace controller clears when the namespace is empty.
fn has_finalizers(object: &Object) -> bool {
    let meta_held = object.meta().finalizers.as_ref().is_some_and(|f| !f.is_empty());
    let namespace_held = matches!(object, Object::Namespace(ns)
        if ns.spec.as_ref().and_then(|s| s.finalizers.as_ref()).is_some_and(|f| !f.is_empty()));
    meta_held || namespace_held
}

/// Whether `meta` is being deleted.
fn is_deleting(object: &Object) -> bool {
    object.meta().deletion_timestamp.is_some()
}
