//! One object version as the store keeps it ([`StoredObject`]: the object, its content hash and its
//! shape, computed once when it is written) and the names objects are found by.

use crate::kind::{Kind, Object, Resource};
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
        let json = crate::json::to_vec(&object);
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
