//! PUT on the main resource, on the status subresource, and on a Namespace's finalize subresource.

use super::{current, has_finalizers, is_deleting, remove, unchanged, ApplyContext};
use crate::defaults;
use crate::error::{ApiError, FieldError};
use crate::kind::Object;
use crate::store::{Change, ObjectRef, StateRead};
use crate::validation;

/// Which part of an object a PUT may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// The main resource: everything but status (and a Namespace's `spec.finalizers`).
    Main,
    /// The status subresource: status only.
    Status,
    /// A Namespace's finalize subresource: everything but status.
    Finalizers,
}

pub(crate) fn update(
    state: &impl StateRead,
    requested: &Object,
    part: Part,
    _ctx: &ApplyContext,
) -> Result<Change, ApiError> {
    let target = ObjectRef::of(requested);
    let kind = target.kind;
    let name = target.name.name.clone();
    let status_only = part == Part::Status;
    if (status_only && !kind.has_status()) || (part == Part::Finalizers && kind != crate::kind::Kind::Namespace) {
        return Err(ApiError::not_found(kind, &name));
    }
    let current = current(state, kind, &target.name)?;
    let old = current.object();
    let old_meta = old.meta();

    if let Some(rv) = requested.meta().resource_version.as_deref().filter(|rv| !rv.is_empty()) {
        if rv.parse::<u64>().is_err() {
            // Upstream's storage layer fails to parse it and answers a bare 500 with Go's parse error.
            let why = if rv.bytes().all(|b| b.is_ascii_digit()) { "value out of range" } else { "invalid syntax" };
            return Err(ApiError::new(
                crate::error::Reason::Unknown,
                format!("strconv.ParseUint: parsing {rv:?}: {why}"),
            ));
        }
        if Some(rv) != old_meta.resource_version.as_deref() {
            return Err(ApiError::stale(kind, &name));
        }
    }
    if let Some(uid) = requested.meta().uid.as_deref().filter(|u| !u.is_empty()) {
        if Some(uid) != old_meta.uid.as_deref() {
            return Err(ApiError::conflict(
                kind,
                &name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    old_meta.uid.as_deref().unwrap_or("")
                ),
            ));
        }
    }

    let mut new = requested.clone();
    if status_only {
        new = status_write(requested, old);
    } else {
        // The main resource never changes status.
        new.copy_status_from(old);
    }
    {
        // System fields stay the server's.
        let meta = new.meta_mut();
        meta.uid = old_meta.uid.clone();
        meta.creation_timestamp = old_meta.creation_timestamp.clone();
        meta.deletion_timestamp = old_meta.deletion_timestamp.clone();
        meta.deletion_grace_period_seconds = old_meta.deletion_grace_period_seconds;
        meta.generation = old_meta.generation;
        meta.namespace = old_meta.namespace.clone();
        if meta.finalizers.as_ref().is_some_and(|f| f.is_empty()) {
            meta.finalizers = None;
        }
    }
    if let (Part::Main, Object::Namespace(ns), Object::Namespace(was)) = (part, &mut new, old) {
        ns.spec.get_or_insert_with(Default::default).finalizers = was.spec.as_ref().and_then(|s| s.finalizers.clone());
    }
    // Defaulting applies to every request as it is decoded (and again when the object is read back).
    defaults::apply_defaults(&mut new);
    if !status_only {
        defaults::admit_pod(&mut new);
        crate::admission::on_update(&mut new, old);
    }
    new.meta_mut().resource_version = old_meta.resource_version.clone();
    // Compared with the stored object as the server would store it: a default that fills in a zero value
    // changes nothing upstream.
    let mut new = super::decoded(&new)?;

    let mut errors = Vec::new();
    if is_deleting(old) {
        let old_finalizers = old_meta.finalizers.clone().unwrap_or_default();
        let added: Vec<&String> =
            new.meta().finalizers.iter().flatten().filter(|f| !old_finalizers.contains(f)).collect();
        if !added.is_empty() {
            errors.push(FieldError::forbidden(
                "metadata.finalizers",
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                ),
            ));
        }
    }
    errors.extend(validation::validate(&new));
    errors.extend(validation::validate_update(&new, old, status_only));
    if !errors.is_empty() {
        return Err(ApiError::invalid(kind, &name, errors));
    }

    if new == *old {
        return Ok(unchanged(state, current));
    }
    if !status_only && kind.tracks_generation() && generation_moves(&new, old) {
        let meta = new.meta_mut();
        meta.generation = Some(meta.generation.unwrap_or(0) + 1);
    }
    let meta = new.meta();
    let graceless = meta.deletion_grace_period_seconds == Some(0) || kind == crate::kind::Kind::Namespace;
    if meta.deletion_timestamp.is_some() && !has_finalizers(&new) && graceless {
        return Ok(remove(state, new));
    }
    // Decoded above; a generation that moved is at least 1, which the stored form keeps.
    super::put_decoded(state, new)
}

/// What a status write of `requested` over `old` stores, before defaulting: upstream's status strategies
/// keep the spec (and a little more per kind); the rest of the object, metadata included, is the
/// request's (a controller records annotations through status, as the Deployment controller does).
pub fn status_write(requested: &Object, old: &Object) -> Object {
    let mut new = requested.clone();
    new.copy_spec_from(old);
    keep_on_status_update(&mut new, old);
    new
}

/// What upstream's status strategies keep from the stored object besides the spec.
fn keep_on_status_update(new: &mut Object, old: &Object) {
    match (new, old) {
        (Object::Deployment(new), Object::Deployment(old)) => new.metadata.labels = old.metadata.labels.clone(),
        (Object::Pod(new), Object::Pod(old)) => {
            new.metadata.owner_references = old.metadata.owner_references.clone();
            let qos = new.status.as_ref().and_then(|s| s.qos_class.as_deref()).unwrap_or("");
            if qos.is_empty() {
                let kept = old.status.as_ref().and_then(|s| s.qos_class.clone());
                new.status.get_or_insert_with(Default::default).qos_class = kept;
            }
        }
        _ => {}
    }
}

/// Whether an update of the main resource moves `metadata.generation`: a change of the spec — and for a
/// Deployment of its annotations too, which it copies into its ReplicaSets (upstream's strategy).
fn generation_moves(new: &Object, old: &Object) -> bool {
    let annotations_changed = matches!(new, Object::Deployment(_)) && new.meta().annotations != old.meta().annotations;
    !new.spec_eq(old) || annotations_changed
}
