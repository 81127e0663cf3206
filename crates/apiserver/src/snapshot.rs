//! [`Snapshot`]: every object at one revision, in persistent maps, so the writer can hand a finished
//! revision to readers without copying and a list or a paginated `continue` reads one consistent revision.

use std::sync::Arc;
use themelios_api::kind::KIND_COUNT;
use themelios_api::{Change, Kind, ObjectName, ObjectRef, StateRead, StoredObject, Write};

/// Every object at one revision.
///
/// ```
/// use themelios_apiserver::snapshot::Snapshot;
/// use themelios_api::StateRead;
/// assert_eq!(Snapshot::default().revision(), 0);
/// ```
#[derive(Clone, Default)]
pub struct Snapshot {
    revision: u64,
    kinds: [imbl::OrdMap<ObjectName, Arc<StoredObject>>; KIND_COUNT],
}

impl Snapshot {
    /// A snapshot holding `objects` at `revision`.
    pub fn from_objects(revision: u64, objects: impl IntoIterator<Item = Arc<StoredObject>>) -> Self {
        let mut snapshot = Snapshot { revision, ..Snapshot::default() };
        for object in objects {
            let reference = ObjectRef::of(object.object());
            snapshot.kinds[reference.kind.index()].insert(reference.name, object);
        }
        snapshot
    }

    /// Applies the writes of a change computed against this snapshot.
    pub fn commit(&mut self, change: &Change) {
        for write in &change.writes {
            let reference = ObjectRef::of(write.object().object());
            let map = &mut self.kinds[reference.kind.index()];
            match write {
                Write::Put(object) => {
                    map.insert(reference.name, object.clone());
                }
                Write::Remove(_) => {
                    map.remove(&reference.name);
                }
            }
        }
        if !change.writes.is_empty() {
            self.revision = change.revision;
        }
    }

    /// The objects of a kind in a namespace (all namespaces if `None`) whose name comes after `after`,
    /// in name order.
    pub fn iter_from<'a>(
        &'a self,
        kind: Kind,
        namespace: Option<&'a str>,
        after: Option<&ObjectName>,
    ) -> impl Iterator<Item = &'a Arc<StoredObject>> + 'a {
        let map = &self.kinds[kind.index()];
        let start = match (after, namespace) {
            (Some(after), _) => std::ops::Bound::Excluded(after.clone()),
            (None, Some(ns)) => std::ops::Bound::Included(ObjectName::new(ns, "")),
            (None, None) => std::ops::Bound::Unbounded,
        };
        map.range((start, std::ops::Bound::Unbounded))
            .take_while(move |(name, _)| namespace.is_none_or(|ns| name.namespace == ns))
            .map(|(_, object)| object)
    }

    /// How many objects of a kind there are.
    pub fn count(&self, kind: Kind) -> usize {
        self.kinds[kind.index()].len()
    }
}

impl StateRead for Snapshot {
    fn revision(&self) -> u64 {
        self.revision
    }
    fn get(&self, kind: Kind, name: &ObjectName) -> Option<Arc<StoredObject>> {
        self.kinds[kind.index()].get(name).cloned()
    }
    fn list(&self, kind: Kind, namespace: Option<&str>) -> Vec<Arc<StoredObject>> {
        self.iter_from(kind, namespace, None).cloned().collect()
    }
}
