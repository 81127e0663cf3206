//! The API state: every object at one revision, in persistent maps so that cloning a state is O(1).
//!
//! Each object version sits behind an `Arc` with its content hash computed once when it is written, so
//! fingerprinting a model state never re-serialises objects.

use crate::kind::{Kind, Object, KIND_COUNT};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

pub use crate::stored::{parse_revision, revision_token, ObjectName, ObjectRef, StoredObject, REVISION_TOKEN_TAG};

/// What a client gets back from a request: the object, or the error.
pub type ChangeResult = Result<Arc<StoredObject>, crate::ApiError>;

pub use crate::kind_map::KindMap;

/// Read access to an API state: what `apply()` needs, so the model's datastore and the API server's storage
/// can both be read by the one implementation of the API rules.
pub trait StateRead {
    /// The latest revision.
    fn revision(&self) -> u64;
    /// One object.
    fn get(&self, kind: Kind, name: &ObjectName) -> Option<Arc<StoredObject>>;
    /// Every object of a kind in a namespace (all namespaces if `namespace` is `None`).
    fn list(&self, kind: Kind, namespace: Option<&str>) -> Vec<Arc<StoredObject>>;
}

/// Every object at one revision.
///
/// ```
/// use themelios_api::{ApiState, ObjectName, Kind, StateRead};
/// let state = ApiState::default();
/// assert_eq!(state.revision(), 0);
/// assert!(state.get(Kind::Pod, &ObjectName::new("default", "x")).is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ApiState {
    revision: u64,
    objects: Objects,
}

/// Every object, per kind. The maps sit behind one shared pointer, copied on write: a model checker holds
/// many states, most of them sharing all their maps with another.
#[derive(Clone, Debug, Default, Eq)]
pub struct Objects {
    kinds: Arc<[KindMap; KIND_COUNT]>,
}

impl Hash for Objects {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kinds.hash(state);
    }
}

impl PartialEq for Objects {
    fn eq(&self, other: &Self) -> bool {
        self.shares_storage(other) || self.kinds == other.kinds
    }
}

impl Objects {
    /// The objects of one kind.
    pub fn of_kind(&self, kind: Kind) -> &KindMap {
        &self.kinds[kind.index()]
    }
    fn of_kind_mut(&mut self, kind: Kind) -> &mut KindMap {
        &mut Arc::make_mut(&mut self.kinds)[kind.index()]
    }
    /// A number for hashing sets of objects by identity: sets that share storage have equal ids. Equal ids
    /// do not make sets equal once the storage is freed, so only use it while holding the set.
    pub fn storage_id(&self) -> usize {
        Arc::as_ptr(&self.kinds) as *const KindMap as usize
    }
    /// Whether two sets of objects share their storage, which makes them equal without comparing.
    pub fn shares_storage(&self, other: &Objects) -> bool {
        Arc::ptr_eq(&self.kinds, &other.kinds)
    }
    /// How many objects in all.
    pub fn len(&self) -> usize {
        self.kinds.iter().map(|m| m.len()).sum()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One write of a [`Change`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// Create or replace the object under its name.
    Put(Arc<StoredObject>),
    /// Remove the object; carries its last state (what a watch's DELETED event shows).
    Remove(Arc<StoredObject>),
}

impl Write {
    /// The object written or removed.
    pub fn object(&self) -> &Arc<StoredObject> {
        match self {
            Write::Put(o) | Write::Remove(o) => o,
        }
    }
}

/// What one request changes: the writes, all at one new revision, and the object returned to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The revision every write gets.
    pub revision: u64,
    /// The writes, applied atomically.
    pub writes: Vec<Write>,
    /// The object the API returns (the created, updated or deleted object).
    pub response: Arc<StoredObject>,
}

impl StateRead for ApiState {
    fn revision(&self) -> u64 {
        self.revision
    }
    fn get(&self, kind: Kind, name: &ObjectName) -> Option<Arc<StoredObject>> {
        self.objects.of_kind(kind).get(name).cloned()
    }
    fn list(&self, kind: Kind, namespace: Option<&str>) -> Vec<Arc<StoredObject>> {
        let map = self.objects.of_kind(kind);
        match namespace {
            None => map.values().cloned().collect(),
            Some(ns) => {
                let from = ObjectName::new(ns, "");
                map.range(from..).take_while(|(k, _)| k.namespace == ns).map(|(_, v)| v.clone()).collect()
            }
        }
    }
}

impl ApiState {
    /// Every object.
    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// Applies a change computed by [`crate::apply`](fn@crate::apply) against this state. A change without
    /// writes (a no-op update) leaves the revision as it is; a change computed against another revision is
    /// rejected.
    pub fn commit(&mut self, change: &Change) -> Result<(), StaleChange> {
        if change.writes.is_empty() {
            return Ok(());
        }
        if change.revision != self.revision + 1 {
            return Err(StaleChange { expected: self.revision + 1, got: change.revision });
        }
        for write in &change.writes {
            let map = self.objects.of_kind_mut(write.object().object().kind());
            match write {
                Write::Put(o) => {
                    map.insert(o.clone());
                }
                Write::Remove(o) => {
                    map.remove(o.name());
                }
            }
        }
        self.revision = change.revision;
        Ok(())
    }

    /// Makes this state's objects of `kind` share storage with `equal`, if the two are equal (a model checker
    /// keeping one copy of each map); a different map is left as it is.
    pub fn share_kind(&mut self, kind: Kind, equal: &KindMap) {
        let map = self.objects.of_kind_mut(kind);
        if map == equal {
            *map = equal.clone();
        }
    }

    /// Makes this state's objects share storage with `equal`, if the two are equal (a model checker keeping
    /// one copy of each set of maps); different objects are left as they are.
    pub fn share_objects(&mut self, equal: &Objects) {
        if self.objects == *equal {
            self.objects = equal.clone();
        }
    }

    /// Inserts an object as-is at the next revision, bypassing the API rules: for seeding fixtures only.
    pub fn seed(&mut self, mut object: Object) {
        self.revision += 1;
        object.meta_mut().resource_version = Some(self.revision.to_string());
        self.objects.of_kind_mut(object.kind()).insert(StoredObject::new(object));
    }
}

/// A change computed against a different revision than the state it was committed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("change is for revision {got}, but the state expects {expected}")]
pub struct StaleChange {
    /// The revision the state would give the next change.
    pub expected: u64,
    /// The revision the change carries.
    pub got: u64,
}
