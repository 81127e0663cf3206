//! [`KindMap`]: the objects of one kind, a persistent sorted map that clones in O(1).
//!
//! A model checker keeps hundreds of thousands of states alive at once, each a small cluster. A B-tree
//! with 64-entry nodes (imbl) allocates a full node for a map of three pods and copies it on every write;
//! a shared sorted vector copied on write costs a few dozen bytes per object instead, and lookups are a
//! binary search. Writes copy the vector (O(n)), which is cheap at the sizes a model holds; the API
//! server's storage keeps its own indexes.

use crate::store::{ObjectName, StoredObject};
use std::hash::{Hash, Hasher};
use std::ops::RangeFrom;
use std::sync::Arc;

type Entry = (ObjectName, Arc<StoredObject>);

/// The objects of one kind, ordered by namespace and name.
///
/// ```
/// use themelios_api::store::KindMap;
/// let map = KindMap::default();
/// let copy = map.clone(); // O(1): both share one vector until one of them is written
/// assert!(copy.is_empty() && map == copy);
/// ```
#[derive(Clone, Debug, Default)]
pub struct KindMap {
    entries: Arc<Vec<Entry>>,
}

impl KindMap {
    fn position(&self, name: &ObjectName) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.cmp(name))
    }
    /// The object under `name`.
    pub fn get(&self, name: &ObjectName) -> Option<&Arc<StoredObject>> {
        self.position(name).ok().map(|i| &self.entries[i].1)
    }
    /// Whether there is an object under `name`.
    pub fn contains_key(&self, name: &ObjectName) -> bool {
        self.position(name).is_ok()
    }
    /// Puts an object under `name`, returning the one it replaces.
    pub fn insert(&mut self, name: ObjectName, object: Arc<StoredObject>) -> Option<Arc<StoredObject>> {
        let entries = Arc::make_mut(&mut self.entries);
        match entries.binary_search_by(|(k, _)| k.cmp(&name)) {
            Ok(i) => Some(std::mem::replace(&mut entries[i].1, object)),
            Err(i) => {
                entries.insert(i, (name, object));
                None
            }
        }
    }
    /// Removes the object under `name`, returning it.
    pub fn remove(&mut self, name: &ObjectName) -> Option<Arc<StoredObject>> {
        let i = self.position(name).ok()?;
        Some(Arc::make_mut(&mut self.entries).remove(i).1)
    }
    /// How many objects.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Every (name, object), in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&ObjectName, &Arc<StoredObject>)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }
    /// Every name, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &ObjectName> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }
    /// Every object, in name order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Arc<StoredObject>> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }
    /// Every (name, object) from `range.start` on, in order.
    pub fn range(&self, range: RangeFrom<ObjectName>) -> impl Iterator<Item = (&ObjectName, &Arc<StoredObject>)> {
        let start = self.position(&range.start).unwrap_or_else(|i| i);
        self.entries[start..].iter().map(|(k, v)| (k, v))
    }
}

impl<'a> IntoIterator for &'a KindMap {
    type Item = (&'a ObjectName, &'a Arc<StoredObject>);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, Entry>, fn(&'a Entry) -> (&'a ObjectName, &'a Arc<StoredObject>)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl FromIterator<(ObjectName, Arc<StoredObject>)> for KindMap {
    fn from_iter<I: IntoIterator<Item = (ObjectName, Arc<StoredObject>)>>(iter: I) -> Self {
        let mut entries: Vec<Entry> = iter.into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, earlier| later.0 == earlier.0);
        Self { entries: Arc::new(entries) }
    }
}

impl PartialEq for KindMap {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.entries, &other.entries)
            || (self.len() == other.len()
                && self
                    .entries
                    .iter()
                    .zip(other.entries.iter())
                    .all(|(a, b)| a.0 == b.0 && (Arc::ptr_eq(&a.1, &b.1) || a.1 == b.1)))
    }
}
impl Eq for KindMap {}

impl Hash for KindMap {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for (k, v) in self.entries.iter() {
            k.hash(state);
            v.hash(state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::KindMap;
    use crate::kind::Object;
    use crate::store::{ObjectName, StoredObject};

    fn config_map(name: &str) -> std::sync::Arc<StoredObject> {
        let value = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}});
        StoredObject::new(Object::from_json(crate::Kind::ConfigMap, value).expect("a config map"))
    }

    #[test]
    fn writes_keep_order_and_do_not_touch_clones() {
        let mut map = KindMap::default();
        for name in ["c", "a", "b"] {
            assert!(map.insert(ObjectName::new("default", name), config_map(name)).is_none());
        }
        let before = map.clone();
        assert!(map.insert(ObjectName::new("default", "a"), config_map("a")).is_some());
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
}
