//! [`KindMap`]: the objects of one kind, a persistent sorted map that clones in O(1).
//!
//! A model checker keeps hundreds of thousands of states alive at once, each a small cluster. A B-tree
//! with 64-entry nodes (imbl) allocates a full node for a map of three pods and copies it on every write;
//! a shared sorted vector of object pointers, copied on write, costs eight bytes per object instead (each
//! object carries its own name, so the vector holds no keys), and lookups are a binary search. Copying on
//! write is O(n), which is cheap at the sizes a model holds but not for the live runtime's informer caches, where one write to a cache of 50,000 pods would copy them all: past
//! [`LARGE_AT`] objects a map becomes a persistent B-tree, whose writes copy one path.

use crate::stored::{ObjectName, StoredObject};
use std::hash::{Hash, Hasher};
use std::ops::RangeFrom;
use std::sync::Arc;

/// A small map's entry: the object, keyed by its own name ([`StoredObject::name`]).
type Entry = Arc<StoredObject>;
type Tree = imbl::OrdMap<ObjectName, Arc<StoredObject>>;

/// The size at which a map turns from a shared vector into a persistent B-tree (it never turns back).
pub const LARGE_AT: usize = 512;

/// The objects of one kind, ordered by namespace and name.
///
/// ```
/// use themelios_api::store::KindMap;
/// let map = KindMap::default();
/// let copy = map.clone(); // O(1): both share their storage until one of them is written
/// assert!(copy.is_empty() && map == copy);
/// ```
#[derive(Clone, Debug)]
pub struct KindMap {
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    Small(Arc<Vec<Entry>>),
    Large(Tree),
}

impl Default for KindMap {
    fn default() -> Self {
        Self { repr: Repr::Small(Arc::default()) }
    }
}

impl KindMap {
    /// The object under `name`.
    pub fn get(&self, name: &ObjectName) -> Option<&Arc<StoredObject>> {
        match &self.repr {
            Repr::Small(entries) => entries.binary_search_by(|o| o.name().cmp(name)).ok().map(|i| &entries[i]),
            Repr::Large(tree) => tree.get(name),
        }
    }
    /// Whether there is an object under `name`.
    pub fn contains_key(&self, name: &ObjectName) -> bool {
        self.get(name).is_some()
    }
    /// Puts an object under its name, returning the one it replaces.
    pub fn insert(&mut self, object: Arc<StoredObject>) -> Option<Arc<StoredObject>> {
        if let Repr::Small(entries) = &self.repr {
            if entries.len() >= LARGE_AT {
                self.repr = Repr::Large(entries.iter().map(|o| (o.name().clone(), o.clone())).collect());
            }
        }
        match &mut self.repr {
            Repr::Small(entries) => {
                let entries = Arc::make_mut(entries);
                match entries.binary_search_by(|o| o.name().cmp(object.name())) {
                    Ok(i) => Some(std::mem::replace(&mut entries[i], object)),
                    Err(i) => {
                        entries.insert(i, object);
                        None
                    }
                }
            }
            Repr::Large(tree) => tree.insert(object.name().clone(), object),
        }
    }
    /// Removes the object under `name`, returning it.
    pub fn remove(&mut self, name: &ObjectName) -> Option<Arc<StoredObject>> {
        match &mut self.repr {
            Repr::Small(entries) => {
                let i = entries.binary_search_by(|o| o.name().cmp(name)).ok()?;
                Some(Arc::make_mut(entries).remove(i))
            }
            Repr::Large(tree) => tree.remove(name),
        }
    }
    /// How many objects.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(entries) => entries.len(),
            Repr::Large(tree) => tree.len(),
        }
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every (name, object), in order.
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Small(entries) => Iter::Small(entries.iter()),
            Repr::Large(tree) => Iter::Large(tree.iter()),
        }
    }
    /// Every name, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &ObjectName> + ExactSizeIterator {
        self.iter().map(|(k, _)| k)
    }
    /// Every object, in name order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Arc<StoredObject>> + ExactSizeIterator {
        self.iter().map(|(_, v)| v)
    }
    /// Every (name, object) from `range.start` on, in order.
    pub fn range(&self, range: RangeFrom<ObjectName>) -> Range<'_> {
        match &self.repr {
            Repr::Small(entries) => {
                let start = entries.binary_search_by(|o| o.name().cmp(&range.start)).unwrap_or_else(|i| i);
                Range::Small(entries[start..].iter())
            }
            Repr::Large(tree) => Range::Large(tree.range(range)),
        }
    }
}

/// An iterator over a [`KindMap`]'s entries in order.
pub enum Iter<'a> {
    /// Over a small map's vector.
    Small(std::slice::Iter<'a, Entry>),
    /// Over a large map's tree.
    Large(imbl::ordmap::Iter<'a, ObjectName, Arc<StoredObject>, imbl::shared_ptr::DefaultSharedPtr>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a ObjectName, &'a Arc<StoredObject>);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(it) => it.next().map(|o| (o.name(), o)),
            Iter::Large(it) => it.next(),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Small(it) => it.size_hint(),
            Iter::Large(it) => it.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(it) => it.next_back().map(|o| (o.name(), o)),
            Iter::Large(it) => it.next_back(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// An iterator over a [`KindMap`]'s entries from a starting name on.
pub enum Range<'a> {
    /// Over a small map's vector.
    Small(std::slice::Iter<'a, Entry>),
    /// Over a large map's tree.
    Large(imbl::ordmap::RangedIter<'a, ObjectName, Arc<StoredObject>, imbl::shared_ptr::DefaultSharedPtr>),
}

impl<'a> Iterator for Range<'a> {
    type Item = (&'a ObjectName, &'a Arc<StoredObject>);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Range::Small(it) => it.next().map(|o| (o.name(), o)),
            Range::Large(it) => it.next(),
        }
    }
}

impl<'a> IntoIterator for &'a KindMap {
    type Item = (&'a ObjectName, &'a Arc<StoredObject>);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Collects objects under their names; of two with one name, the first stays.
impl FromIterator<Arc<StoredObject>> for KindMap {
    fn from_iter<I: IntoIterator<Item = Arc<StoredObject>>>(iter: I) -> Self {
        let mut entries: Vec<Entry> = iter.into_iter().collect();
        entries.sort_by(|a, b| a.name().cmp(b.name()));
        entries.dedup_by(|later, earlier| later.name() == earlier.name());
        let repr = if entries.len() > LARGE_AT {
            Repr::Large(entries.into_iter().map(|o| (o.name().clone(), o)).collect())
        } else {
            Repr::Small(Arc::new(entries))
        };
        Self { repr }
    }
}

impl KindMap {
    /// A number for hashing maps by identity: maps that share storage have equal ids; a small map's id is
    /// the address of its storage, every large map's is 0. Equal ids do not make maps equal.
    pub fn storage_id(&self) -> usize {
        match &self.repr {
            Repr::Small(entries) => Arc::as_ptr(entries) as usize,
            Repr::Large(_) => 0,
        }
    }

    /// Whether two maps share their storage, which makes them equal without comparing.
    pub fn shares_storage(&self, other: &KindMap) -> bool {
        match (&self.repr, &other.repr) {
            (Repr::Small(a), Repr::Small(b)) => Arc::ptr_eq(a, b),
            (Repr::Large(a), Repr::Large(b)) => a.ptr_eq(b),
            _ => false,
        }
    }
}

impl PartialEq for KindMap {
    fn eq(&self, other: &Self) -> bool {
        self.shares_storage(other)
            || (self.len() == other.len()
                && self.iter().zip(other.iter()).all(|(a, b)| a.0 == b.0 && (Arc::ptr_eq(a.1, b.1) || a.1 == b.1)))
    }
}
impl Eq for KindMap {}

/// Hashes the objects only: each object's hash covers its name already.
impl Hash for KindMap {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for object in self.values() {
            object.hash(state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::KindMap;
    use crate::kind::Object;
    use crate::stored::{ObjectName, StoredObject};

    fn config_map(name: &str) -> std::sync::Arc<StoredObject> {
        let value = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}});
        StoredObject::new(Object::from_json(crate::Kind::ConfigMap, value).expect("a config map"))
    }

    #[test]
    fn writes_keep_order_and_do_not_touch_clones() {
        let mut map = KindMap::default();
        for name in ["c", "a", "b"] {
            assert!(map.insert(config_map(name)).is_none());
        }
        let before = map.clone();
        assert!(map.insert(config_map("a")).is_some());
        assert!(map.remove(&ObjectName::new("default", "b")).is_some());
        assert!(map.remove(&ObjectName::new("default", "zz")).is_none());
        let names: Vec<&str> = map.keys().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        let names: Vec<&str> = before.keys().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let from_b: Vec<&str> = before.range(ObjectName::new("default", "b")..).map(|(k, _)| k.name.as_str()).collect();
        assert_eq!(from_b, ["b", "c"]);
        assert_ne!(map, before);
        assert_eq!(
            before.get(&ObjectName::new("default", "b")).map(|o| o.object().meta().name.clone()),
            Some(Some("b".into()))
        );
    }

    fn hash_of(map: &KindMap) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        map.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn a_large_map_behaves_as_a_small_one() {
        let name = |i: usize| ObjectName::new("default", format!("cm-{i:05}"));
        let mut large = KindMap::default();
        for i in (0..super::LARGE_AT + 100).rev() {
            large.insert(config_map(&format!("cm-{i:05}")));
        }
        let before = large.clone();
        for i in 10..super::LARGE_AT + 100 {
            assert!(large.remove(&name(i)).is_some());
        }
        assert_eq!(before.len(), super::LARGE_AT + 100, "a clone is untouched by writes");
        let small: KindMap = (0..10).map(|i| config_map(&format!("cm-{i:05}"))).collect();
        assert_eq!(large, small);
        assert_eq!(hash_of(&large), hash_of(&small));
        let keys: Vec<_> = large.keys().cloned().collect();
        assert_eq!(keys, small.keys().cloned().collect::<Vec<_>>());
        assert_eq!(large.iter().next_back().map(|(k, _)| k.clone()), Some(name(9)));
        assert_eq!(before.range(name(500)..).count(), super::LARGE_AT + 100 - 500);
        assert_eq!(before.get(&name(7)).map(|o| o.object().meta().name.clone()), Some(Some("cm-00007".into())));
        assert!(!large.contains_key(&name(10)));
    }
}
