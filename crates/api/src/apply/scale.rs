//! PUT on the scale subresource: a replicas-only update of a scalable object.

use super::{current, update::update, update::Part, ApplyContext};
use crate::error::ApiError;
use crate::kind::Object;
use crate::store::{Change, ObjectRef, StateRead};

/// The replicas of a scalable object (`None` for kinds without a scale subresource).
pub fn replicas_of(object: &Object) -> Option<i32> {
    match object {
        Object::ReplicaSet(o) => Some(o.spec.as_ref()?.replicas.unwrap_or(1)),
        Object::Deployment(o) => Some(o.spec.as_ref()?.replicas.unwrap_or(1)),
        Object::StatefulSet(o) => Some(o.spec.as_ref()?.replicas.unwrap_or(1)),
        _ => None,
    }
}

/// `object` with `replicas` as its desired replicas (`None` for kinds without a scale subresource).
pub fn with_replicas(object: &Object, replicas: i32) -> Option<Object> {
    let mut object = object.clone();
    match &mut object {
        Object::ReplicaSet(o) => o.spec.get_or_insert_with(Default::default).replicas = Some(replicas),
        Object::Deployment(o) => o.spec.get_or_insert_with(Default::default).replicas = Some(replicas),
        Object::StatefulSet(o) => o.spec.get_or_insert_with(Default::default).replicas = Some(replicas),
        _ => return None,
    }
    Some(object)
}

pub(super) fn scale(
    state: &impl StateRead,
    target: &ObjectRef,
    replicas: i32,
    resource_version: Option<&str>,
    ctx: &ApplyContext,
) -> Result<Change, ApiError> {
    let stored = current(state, target.kind, &target.name)?;
    let mut object =
        with_replicas(stored.object(), replicas).ok_or_else(|| ApiError::not_found(target.kind, &target.name.name))?;
    // The scale request's own resourceVersion is the precondition; without one the update is unconditional.
    object.meta_mut().resource_version = resource_version.map(str::to_string);
    update(state, &object, Part::Main, ctx)
}
