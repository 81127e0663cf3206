//! The garbage-collection guarantees (kubernetes-behaviour.md §2, Garbage collection), as properties.

use super::{owner_state, OwnerState, FINALIZER_FOREGROUND};
use crate::framework::{ClusterView, Property};
use std::collections::BTreeSet;
use themelios_api::StoredObject;

/// Every garbage-collector property.
pub fn properties() -> Vec<Property> {
    vec![
        Property::every_step_by("gc: an object with a live owner is never collected", live_owner_protects),
        Property::every_step(
            "gc: a foreground-deleted owner stays until its blocking dependents are gone",
            foreground_waits,
        ),
        Property::eventually("gc: no object keeps a reference to an owner that is gone", no_dangling_refs),
    ]
}

/// The objects the collector is responsible for (not Events, which it ignores).
fn objects<'a>(view: &ClusterView<'a>) -> Vec<&'a std::sync::Arc<StoredObject>> {
    super::COLLECTED.iter().flat_map(|k| view.stored(*k).values()).collect()
}

fn started_deleting(before: &StoredObject, after: &ClusterView) -> bool {
    let meta = before.object().meta();
    if meta.deletion_timestamp.is_some() {
        return false;
    }
    let reference = themelios_api::ObjectRef::of(before.object());
    after
        .get_stored(reference.kind, &reference.name)
        .is_none_or(|now| now.object().meta().uid != meta.uid || now.object().meta().deletion_timestamp.is_some())
}

fn live_owner_protects(actor: &str, before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    if actor != "garbage-collector" {
        return Ok(());
    }
    let none = BTreeSet::new();
    for object in objects(before).into_iter().filter(|o| started_deleting(o, after)) {
        let meta = object.object().meta();
        for r in meta.owner_references.iter().flatten() {
            if owner_state(before, meta, object.object().kind(), r, &none) == OwnerState::Solid {
                return Err(format!(
                    "the collector deleted {} although its owner {} {} is live",
                    themelios_api::ObjectRef::of(object.object()),
                    r.kind,
                    r.name
                ));
            }
        }
    }
    Ok(())
}

fn foreground_waits(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    for owner in objects(before) {
        let meta = owner.object().meta();
        let waiting =
            meta.deletion_timestamp.is_some() && meta.finalizers.iter().flatten().any(|f| f == FINALIZER_FOREGROUND);
        if !waiting {
            continue;
        }
        let reference = themelios_api::ObjectRef::of(owner.object());
        let released = after
            .get_stored(reference.kind, &reference.name)
            .is_none_or(|now| !now.object().meta().finalizers.iter().flatten().any(|f| f == FINALIZER_FOREGROUND));
        if !released {
            continue;
        }
        let uid = meta.uid.clone().unwrap_or_default();
        let blocker = objects(after).into_iter().find(|o| {
            o.object()
                .meta()
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.uid == uid && r.block_owner_deletion == Some(true))
        });
        if let Some(b) = blocker {
            return Err(format!(
                "{reference} finished foreground deletion while {} still blocks it",
                themelios_api::ObjectRef::of(b.object())
            ));
        }
    }
    Ok(())
}

fn no_dangling_refs(view: &ClusterView) -> Result<(), String> {
    let none = BTreeSet::new();
    for object in objects(view) {
        let meta = object.object().meta();
        if meta.deletion_timestamp.is_some() {
            continue;
        }
        for r in meta.owner_references.iter().flatten() {
            let state = owner_state(view, meta, object.object().kind(), r, &none);
            if matches!(state, OwnerState::Absent | OwnerState::Unconfirmed) {
                return Err(format!(
                    "{} still refers to gone owner {} {}",
                    themelios_api::ObjectRef::of(object.object()),
                    r.kind,
                    r.name
                ));
            }
        }
    }
    Ok(())
}
