//! The API state: every object at one revision, in persistent maps so that cloning a state is O(1).
//!
//! Each object version sits behind an `Arc` with its content hash computed once when it is written, so
//! fingerprinting a model state never re-serialises objects.

use crate::kind::{Kind, Object, Resource, KIND_COUNT};
use crate::shape::Shape;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A namespace and name; the namespace is empty for cluster-scoped kinds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct ObjectName {
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    /// `metadata.name`
    pub name: String,
}

impl ObjectName {
    /// A namespaced name.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self { namespace: namespace.into(), name: name.into() }
    }
    /// A cluster-scoped name.
    pub fn cluster(name: impl Into<String>) -> Self {
        Self { namespace: String::new(), name: name.into() }
    }
}

impl std::fmt::Display for ObjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// A kind plus a name: what a request addresses.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ObjectRef {
    /// The kind.
    pub kind: Kind,
    /// Namespace and name.
    pub name: ObjectName,
}

impl ObjectRef {
    /// A reference to `kind` `namespace/name`.
    pub fn new(kind: Kind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self { kind, name: ObjectName::new(namespace, name) }
    }
    /// The reference to a stored object.
    pub fn of(object: &Object) -> Self {
        let meta = object.meta();
        Self {
            kind: object.kind(),
            name: ObjectName::new(meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default()),
        }
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// One stored version of an object, with its name, content hash and [`Shape`] computed once.
#[derive(Debug)]
pub struct StoredObject {
    object: Object,
    name: ObjectName,
    hash: u64,
    shape: Shape,
}

/// `Hash` writes each revision token as a `u128`: this tag in the top 32 bits, the token's
/// [`crate::identity::Bucket`] in the next 32 and the revision in the low 64 — so a hasher that
/// canonicalises revisions can tell tokens from other numbers.
pub const REVISION_TOKEN_TAG: u128 = 0x7e3e_1105 << 96;

/// A revision token as `Hash` writes it (see [`REVISION_TOKEN_TAG`]).
pub fn revision_token(bucket: crate::identity::Bucket, revision: u64) -> u128 {
    REVISION_TOKEN_TAG | (u128::from(bucket) << 64) | u128::from(revision)
}

impl StoredObject {
    /// Wraps an object, serialising it once for its content hash and shape.
    pub fn new(object: Object) -> Arc<Self> {
        // Serialising a k8s-openapi struct cannot fail: it has no maps with non-string keys.
        let json = serde_json::to_vec(&object).unwrap_or_default();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        hasher.write(&json);
        let shape = Shape::of(&object, &json);
        let name = ObjectRef::of(&object).name;
        Arc::new(Self { hash: hasher.finish(), shape, name, object })
    }
    /// Its namespace and name (what a [`KindMap`] keys it by).
    pub fn name(&self) -> &ObjectName {
        &self.name
    }
    /// The object with its revision tokens and times cut out (see [`crate::shape`]).
    pub fn shape(&self) -> &Shape {
        &self.shape
    }
    /// The object.
    pub fn object(&self) -> &Object {
        &self.object
    }
    /// The content hash computed at write time.
    pub fn content_hash(&self) -> u64 {
        self.hash
    }
    /// The typed object, if it is of kind `T`.
    pub fn typed<T: Resource>(&self) -> Option<&T> {
        T::from_object(&self.object)
    }
    /// `metadata.resourceVersion` as a revision number (0 if unset or malformed).
    pub fn revision(&self) -> u64 {
        parse_revision(self.object.meta().resource_version.as_deref()).unwrap_or(0)
    }
}

impl Hash for StoredObject {
    /// The shape, then every revision token tagged with [`REVISION_TOKEN_TAG`], then every time as a time
    /// token (see [`crate::Time`]); equal objects have equal shapes, tokens and times, so this agrees with
    /// `Eq`.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.shape.hash);
        for (bucket, revision) in self.shape.tokens.iter() {
            state.write_u128(revision_token(*bucket, *revision));
        }
        self.shape.times.iter().for_each(|time| time.hash(state));
    }
}

impl PartialEq for StoredObject {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other) || (self.hash == other.hash && self.object == other.object)
    }
}
impl Eq for StoredObject {}

/// Parses a resourceVersion string.
pub fn parse_revision(rv: Option<&str>) -> Option<u64> {
    rv.and_then(|s| s.parse().ok())
}

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
