//! The garbage collector: deletes objects whose owners are all gone, and carries out Foreground and
//! Orphan propagation.
//!
//! An owner missing from the view is confirmed absent with a live read ([`Op::Get`]) before anything is
//! deleted for it, never from a cache miss (kubernetes #88097). An owner reference across namespaces (a
//! namespaced dependent's owner is looked up in the dependent's namespace; a cluster-scoped dependent
//! cannot have a namespaced owner) or to a different uid counts as absent.

mod properties;

pub use properties::properties;

use crate::common::backoff::{settled, Retries, BACKOFF_CAP_SECONDS};
use crate::framework::Timers;
use crate::framework::{ClusterView, Controller, Outcome};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::collections::BTreeSet;
use themelios_api::apply::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use themelios_api::{DeleteOptions, Kind, Object, ObjectName, ObjectRef, Op, Propagation, Reason, StoredObject, Time};

/// The garbage collector.
#[derive(Clone, Debug, Default)]
pub struct GarbageCollector;

/// The kinds the collector watches: every kind but Events, which upstream's collector ignores — there are
/// as many of them as of everything else together, and they expire by themselves.
static COLLECTED: std::sync::LazyLock<Vec<Kind>> =
    std::sync::LazyLock::new(|| Kind::ALL.iter().copied().filter(|k| *k != Kind::Event).collect());

/// What the collector keeps in memory: owners a live read confirmed absent, the read in flight, and the
/// backoff of objects whose last request failed (upstream requeues them rate-limited).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Local {
    absent: BTreeSet<String>,
    reading: Option<String>,
    retries: Retries,
}

/// How an owner reference stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerState {
    /// The owner exists and is not waiting for its dependents.
    Solid,
    /// The owner is being deleted in the foreground: it waits for its blocking dependents.
    Waiting,
    /// The owner does not exist (confirmed, or the reference is invalid).
    Absent,
    /// Not in the view; a live read must decide.
    Unconfirmed,
}

fn kind_of(reference: &OwnerReference) -> Option<Kind> {
    Kind::ALL.iter().copied().find(|k| k.name() == reference.kind && k.api_version() == reference.api_version)
}

/// Where an owner reference of a dependent points, if it can point anywhere valid.
pub fn owner_ref_target(dependent: &ObjectMeta, dependent_kind: Kind, reference: &OwnerReference) -> Option<ObjectRef> {
    let kind = kind_of(reference)?;
    if kind.namespaced() && !dependent_kind.namespaced() {
        return None;
    }
    let namespace = if kind.namespaced() { dependent.namespace.clone().unwrap_or_default() } else { String::new() };
    Some(ObjectRef { kind, name: ObjectName::new(namespace, reference.name.clone()) })
}

fn has_finalizer(meta: &ObjectMeta, finalizer: &str) -> bool {
    meta.finalizers.iter().flatten().any(|f| f == finalizer)
}

/// The state of one owner reference of a dependent, as the view (and confirmed reads) show it.
pub fn owner_state(
    view: &ClusterView,
    dependent: &ObjectMeta,
    dependent_kind: Kind,
    reference: &OwnerReference,
    absent: &BTreeSet<String>,
) -> OwnerState {
    let Some(target) = owner_ref_target(dependent, dependent_kind, reference) else {
        // An unknown kind or an impossible scope: treated as absent, as upstream does for invalid refs.
        return if kind_of(reference).is_some() { OwnerState::Absent } else { OwnerState::Solid };
    };
    match view.get_stored(target.kind, &target.name) {
        Some(owner) if owner.object().meta().uid.as_deref() == Some(reference.uid.as_str()) => {
            let meta = owner.object().meta();
            if meta.deletion_timestamp.is_some() && has_finalizer(meta, FINALIZER_FOREGROUND) {
                OwnerState::Waiting
            } else {
                OwnerState::Solid
            }
        }
        _ if absent.contains(&reference.uid) => OwnerState::Absent,
        _ => OwnerState::Unconfirmed,
    }
}

impl Controller for GarbageCollector {
    type Local = Local;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // It reads no time but its backoff after failed requests.
            time_use: crate::framework::TimeUse::Relative { longest_seconds: BACKOFF_CAP_SECONDS },
            reads: Some(COLLECTED.as_slice()),
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "garbage-collector".into()
    }

    fn step(&self, view: &ClusterView, local: &mut Local, timers: &mut Timers) -> Option<Op> {
        let all: Vec<&std::sync::Arc<StoredObject>> = COLLECTED.iter().flat_map(|k| view.stored(*k).values()).collect();
        // Forget confirmations once nothing refers to the uid any more.
        let referenced: BTreeSet<&str> = all
            .iter()
            .flat_map(|o| o.object().meta().owner_references.iter().flatten())
            .map(|r| r.uid.as_str())
            .collect();
        local.absent.retain(|uid| referenced.contains(uid.as_str()));
        let uid = |o: &StoredObject| o.object().meta().uid.clone().unwrap_or_default();
        let ready: Vec<&std::sync::Arc<StoredObject>> =
            all.iter().copied().filter(|o| !local.retries.waiting(&uid(o), view.now(), timers)).collect();
        let (key, op) = ready
            .iter()
            .find_map(|o| Some((uid(o), propagate(o, &all)?)))
            .or_else(|| ready.iter().find_map(|o| Some((uid(o), collect(view, o, local)?))))?;
        local.retries.attempt(&key);
        Some(op)
    }

    fn observe(&self, op: &Op, outcome: &Outcome, now: Time, local: &mut Local) {
        local.retries.record(settled(outcome), now);
        let (Op::Get(_), Some(uid)) = (op, local.reading.take()) else { return };
        let gone = match outcome {
            Err(e) => e.reason == Reason::NotFound,
            Ok(found) => found.object().meta().uid.as_deref() != Some(uid.as_str()),
        };
        if gone {
            local.absent.insert(uid);
        }
    }
}

fn reference_to(object: &Object) -> ObjectRef {
    ObjectRef::of(object)
}

fn dependents_of<'a>(
    owner: &Object,
    all: &[&'a std::sync::Arc<StoredObject>],
) -> Vec<&'a std::sync::Arc<StoredObject>> {
    let uid = owner.meta().uid.clone().unwrap_or_default();
    all.iter().copied().filter(|o| o.object().meta().owner_references.iter().flatten().any(|r| r.uid == uid)).collect()
}

fn without_finalizer(object: &Object, finalizer: &str) -> Op {
    let mut updated = object.clone();
    if let Some(f) = updated.meta_mut().finalizers.as_mut() {
        f.retain(|x| x != finalizer);
    }
    Op::Update(updated)
}

fn without_refs(object: &Object, uids: &[&str]) -> Op {
    let mut updated = object.clone();
    let meta = updated.meta_mut();
    if let Some(refs) = meta.owner_references.as_mut() {
        refs.retain(|r| !uids.contains(&r.uid.as_str()));
        if refs.is_empty() {
            meta.owner_references = None;
        }
    }
    Op::Update(updated)
}

fn delete(object: &Object, propagation: Propagation) -> Op {
    Op::Delete {
        target: reference_to(object),
        options: DeleteOptions { uid: object.meta().uid.clone(), propagation: Some(propagation), ..Default::default() },
    }
}

/// Orphan and Foreground propagation for an owner being deleted.
fn propagate(owner: &StoredObject, all: &[&std::sync::Arc<StoredObject>]) -> Option<Op> {
    let object = owner.object();
    let meta = object.meta();
    meta.deletion_timestamp.as_ref()?;
    let uid = meta.uid.clone().unwrap_or_default();
    let dependents = dependents_of(object, all);
    if has_finalizer(meta, FINALIZER_ORPHAN) {
        return match dependents.first() {
            Some(d) => Some(without_refs(d.object(), &[uid.as_str()])),
            None => Some(without_finalizer(object, FINALIZER_ORPHAN)),
        };
    }
    if has_finalizer(meta, FINALIZER_FOREGROUND) {
        // Dependents whose other owners are all gone or waiting are deleted; the owner waits for the
        // ones that block it.
        let blocking = dependents.iter().any(|d| {
            d.object()
                .meta()
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.uid == uid && r.block_owner_deletion == Some(true))
        });
        if blocking {
            return None;
        }
        return Some(without_finalizer(object, FINALIZER_FOREGROUND));
    }
    None
}

/// A dependent whose owners are gone (or waiting) is deleted or loses its dangling references.
fn collect(view: &ClusterView, dependent: &StoredObject, local: &mut Local) -> Option<Op> {
    let object = dependent.object();
    let meta = object.meta();
    let refs = meta.owner_references.as_ref().filter(|r| !r.is_empty())?;
    if meta.deletion_timestamp.is_some() {
        return None;
    }
    let states: Vec<(&OwnerReference, OwnerState)> =
        refs.iter().map(|r| (r, owner_state(view, meta, object.kind(), r, &local.absent))).collect();
    if let Some((r, _)) = states.iter().find(|(_, s)| *s == OwnerState::Unconfirmed) {
        // Confirm with a live read before acting on a cache miss.
        let target = owner_ref_target(meta, object.kind(), r)?;
        local.reading = Some(r.uid.clone());
        return Some(Op::Get(target));
    }
    let solid = states.iter().any(|(_, s)| *s == OwnerState::Solid);
    let waiting: Vec<&OwnerReference> =
        states.iter().filter(|(_, s)| *s == OwnerState::Waiting).map(|(r, _)| *r).collect();
    let absent: Vec<&str> =
        states.iter().filter(|(_, s)| *s == OwnerState::Absent).map(|(r, _)| r.uid.as_str()).collect();
    if solid {
        // A live owner keeps the object; references to gone or waiting owners are dropped.
        let drop: Vec<&str> = absent.iter().copied().chain(waiting.iter().map(|r| r.uid.as_str())).collect();
        return (!drop.is_empty()).then(|| without_refs(object, &drop));
    }
    if !waiting.is_empty() {
        let blocks = waiting.iter().any(|r| r.block_owner_deletion == Some(true));
        return Some(delete(object, if blocks { Propagation::Foreground } else { Propagation::Background }));
    }
    Some(delete(object, Propagation::Background))
}
