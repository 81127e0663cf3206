//! DELETE: preconditions, graceful deletion of pods, finalizers and propagation policy.

use super::{current, has_finalizers, put, remove, unchanged, ApplyContext};
use crate::error::ApiError;
use crate::kind::{Kind, Object};
use crate::op::{DeleteOptions, Propagation};
use crate::pod;
use crate::store::{Change, ObjectName, StateRead};

/// The finalizer Orphan propagation sets: the garbage collector removes dependents' references, then it.
pub const FINALIZER_ORPHAN: &str = "orphan";
/// The finalizer Foreground propagation sets: the owner stays until its blocking dependents are gone.
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

const DEFAULT_POD_GRACE_SECONDS: i64 = 30;

/// Namespaces the NamespaceLifecycle admission plugin never lets anyone delete.
pub const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

pub(super) fn delete(
    state: &impl StateRead,
    kind: Kind,
    name: &ObjectName,
    options: &DeleteOptions,
    ctx: &ApplyContext,
) -> Result<Change, ApiError> {
    let current = current(state, kind, name)?;
    let old = current.object();
    if kind == Kind::Namespace && IMMORTAL_NAMESPACES.contains(&name.name.as_str()) {
        return Err(ApiError::forbidden(kind, &name.name, "this namespace may not be deleted"));
    }
    check_preconditions(kind, &name.name, old, options)?;

    let mut new = old.clone();
    // The only kind stored here whose default policy orphans is the core/v1 ReplicationController.
    let default_orphan =
        kind == Kind::ReplicationController && options.propagation.is_none() && old.meta().deletion_timestamp.is_none();
    let propagation = if default_orphan { Some(Propagation::Orphan) } else { options.propagation };
    let finalizers = finalizers_after(old, propagation);
    new.meta_mut().finalizers = (!finalizers.is_empty()).then(|| finalizers.clone());
    let grace = grace_period(old, options);

    let meta = new.meta_mut();
    match meta.deletion_timestamp.clone() {
        Some(_) => {
            // Deletion already in progress: only a shorter grace period or new GC finalizers change anything.
            let old_grace = meta.deletion_grace_period_seconds.unwrap_or(0);
            if grace < old_grace {
                meta.deletion_grace_period_seconds = Some(grace);
                meta.deletion_timestamp = Some(ctx.now.plus_seconds(grace).to_k8s());
            }
        }
        None => {
            meta.deletion_timestamp = Some(ctx.now.plus_seconds(grace).to_k8s());
            meta.deletion_grace_period_seconds = Some(grace);
            if let Some(generation) = meta.generation.filter(|g| *g > 0) {
                meta.generation = Some(generation + 1);
            }
        }
    }
    if let Object::Namespace(ns) = &mut new {
        ns.status.get_or_insert_with(Default::default).phase = Some("Terminating".into());
        // Upstream's namespace storage deletes without a grace period: it leaves none recorded.
        ns.metadata.deletion_grace_period_seconds = None;
        if !has_finalizers(&new) {
            return Ok(remove(state, new));
        }
    }
    if !has_finalizers(&new) && new.meta().deletion_grace_period_seconds == Some(0) {
        return Ok(remove(state, new));
    }
    if new == *old {
        return Ok(unchanged(state, current));
    }
    put(state, new)
}

fn check_preconditions(kind: Kind, name: &str, old: &Object, options: &DeleteOptions) -> Result<(), ApiError> {
    let meta = old.meta();
    if let Some(uid) = &options.uid {
        if meta.uid.as_ref() != Some(uid) {
            return Err(ApiError::precondition_failed(
                kind,
                name,
                &format!(
                    "the UID in the precondition ({uid}) does not match the UID in record ({}). The object might \
                     have been deleted and then recreated",
                    meta.uid.as_deref().unwrap_or("")
                ),
            ));
        }
    }
    if let Some(rv) = &options.resource_version {
        if meta.resource_version.as_ref() != Some(rv) {
            return Err(ApiError::precondition_failed(
                kind,
                name,
                &format!(
                    "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record \
                     ({}). The object might have been modified",
                    meta.resource_version.as_deref().unwrap_or("")
                ),
            ));
        }
    }
    Ok(())
}

/// The finalizers after a delete: an explicit policy replaces the GC finalizers; no policy keeps them.
fn finalizers_after(old: &Object, propagation: Option<Propagation>) -> Vec<String> {
    let mut finalizers = old.meta().finalizers.clone().unwrap_or_default();
    if let Some(policy) = propagation {
        finalizers.retain(|f| f != FINALIZER_ORPHAN && f != FINALIZER_FOREGROUND);
        match policy {
            Propagation::Orphan => finalizers.push(FINALIZER_ORPHAN.to_string()),
            Propagation::Foreground => finalizers.push(FINALIZER_FOREGROUND.to_string()),
            Propagation::Background => {}
        }
    }
    finalizers
}

/// Pods bound to a node and still running get a grace period for the kubelet; everything else goes at once.
fn grace_period(old: &Object, options: &DeleteOptions) -> i64 {
    let Object::Pod(p) = old else { return 0 };
    if pod::node_name(p).is_none() || pod::is_terminal(p) {
        return 0;
    }
    let default = p.spec.as_ref().and_then(|s| s.termination_grace_period_seconds).unwrap_or(DEFAULT_POD_GRACE_SECONDS);
    options.grace_period_seconds.unwrap_or(default).max(0)
}
