//! The informers' objects, per kind, with a signal when anything changes.

use std::sync::{Arc, RwLock};
use themelios_api::kind::KIND_COUNT;
use themelios_api::store::KindMap;
use themelios_api::{Kind, Object, ObjectRef, StoredObject};
use tokio::sync::watch;

/// What the informers hold: a map per kind, the highest resourceVersion seen per kind, and whether each
/// kind's initial list has arrived.
#[derive(Default)]
pub struct Caches {
    inner: RwLock<Inner>,
    changed: watch::Sender<u64>,
}

#[derive(Clone, Default)]
struct Inner {
    kinds: [KindMap; KIND_COUNT],
    revisions: [u64; KIND_COUNT],
    synced: [bool; KIND_COUNT],
}

/// A consistent copy of the caches for one step (cheap: the maps share their storage).
#[derive(Clone)]
pub struct Snapshot {
    inner: Inner,
}

impl Snapshot {
    /// The objects of a kind and the revision its informer has reached.
    pub fn kind(&self, kind: Kind) -> (&KindMap, u64) {
        (&self.inner.kinds[kind.index()], self.inner.revisions[kind.index()])
    }
}

impl Caches {
    /// Empty caches.
    pub fn new() -> Arc<Self> {
        Arc::new(Caches::default())
    }

    /// Replaces a kind's objects after a (re)list.
    pub fn replace(&self, kind: Kind, objects: Vec<Object>) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let mut max = inner.revisions[kind.index()];
        let map: KindMap = objects
            .into_iter()
            .map(|o| {
                let stored = StoredObject::new(o);
                max = max.max(stored.revision());
                (ObjectRef::of(stored.object()).name, stored)
            })
            .collect();
        inner.kinds[kind.index()] = map;
        inner.revisions[kind.index()] = max;
        inner.synced[kind.index()] = true;
        drop(inner);
        self.changed.send_modify(|g| *g += 1);
    }

    /// Records an added or modified object.
    pub fn apply(&self, object: Object) {
        let stored = StoredObject::new(object);
        let reference = ObjectRef::of(stored.object());
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let index = reference.kind.index();
        inner.revisions[index] = inner.revisions[index].max(stored.revision());
        inner.kinds[index].insert(reference.name, stored);
        drop(inner);
        self.changed.send_modify(|g| *g += 1);
    }

    /// Records a deleted object.
    pub fn delete(&self, object: Object) {
        let reference = ObjectRef::of(&object);
        let revision = StoredObject::new(object).revision();
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let index = reference.kind.index();
        inner.revisions[index] = inner.revisions[index].max(revision);
        inner.kinds[index].remove(&reference.name);
        drop(inner);
        self.changed.send_modify(|g| *g += 1);
    }

    /// A copy to build a view from.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { inner: self.inner.read().unwrap_or_else(|e| e.into_inner()).clone() }
    }

    /// Whether every kind in `kinds` has had its initial list.
    pub fn synced(&self, kinds: &[Kind]) -> bool {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        kinds.iter().all(|k| inner.synced[k.index()])
    }

    /// Whether the informer of `kind` has reached `revision`: the driver waits for its own writes to come
    /// back before the next step.
    pub fn has_seen(&self, kind: Kind, revision: u64) -> bool {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.revisions[kind.index()] >= revision
    }

    /// A receiver that changes whenever the caches do.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
