//! [`ClusterView`]: what a controller sees in one step — its informers' objects and the logical time.

use super::PodsByNode;
use either::Either;
use k8s_openapi::api::core::v1::Pod;
use std::cell::Cell;
use std::sync::Arc;
use themelios_api::kind::KIND_COUNT;
use themelios_api::store::{KindMap, Objects};
use themelios_api::{pod, Kind, ObjectName, Resource, StoredObject, Time};

/// The objects a controller's informers hold (each kind possibly at a different revision), and the time.
///
/// A controller asks to be woken at a time with [`ClusterView::wake_at`]; the driver advances logical time
/// to the earliest such deadline when nothing else can happen.
pub struct ClusterView<'a> {
    kinds: [&'a KindMap; KIND_COUNT],
    revisions: [u64; KIND_COUNT],
    now: Time,
    wake: Cell<Option<Time>>,
    heartbeat: Cell<Option<Time>>,
    /// The kinds read so far, one bit per kind.
    read: Cell<u32>,
    pods_by_node: Option<&'a PodsByNode>,
}

impl<'a> ClusterView<'a> {
    /// A view of every kind at one revision.
    pub fn new(objects: &'a Objects, revision: u64, now: Time) -> Self {
        Self::per_kind(|kind| (objects.of_kind(kind), revision), now)
    }

    /// A view whose kinds come from different snapshots (informer caches that lag independently).
    pub fn per_kind(mut source: impl FnMut(Kind) -> (&'a KindMap, u64), now: Time) -> Self {
        let mut revisions = [0; KIND_COUNT];
        let kinds = std::array::from_fn(|i| {
            let (map, revision) = source(Kind::ALL[i]);
            revisions[i] = revision;
            map
        });
        Self {
            kinds,
            revisions,
            now,
            wake: Cell::new(None),
            heartbeat: Cell::new(None),
            read: Cell::new(0),
            pods_by_node: None,
        }
    }

    /// The same view, answering [`ClusterView::pods_on_node`] from `index`, which must index exactly the
    /// pods this view holds.
    pub fn with_pods_by_node(mut self, index: &'a PodsByNode) -> Self {
        self.pods_by_node = Some(index);
        self
    }

    /// The logical time of this step.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Asks to run again at `at` even if nothing changes (e.g. when a pod becomes available).
    pub fn wake_at(&self, at: Time) {
        if at > self.now {
            self.wake.set(Some(self.wake.get().map_or(at, |w| w.min(at))));
        }
    }

    /// Asks to run at `at` for periodic upkeep (lease renewal). The test harness and the model checker do
    /// not advance time for heartbeats alone; the live runtime does.
    pub fn heartbeat_at(&self, at: Time) {
        if at > self.now {
            self.heartbeat.set(Some(self.heartbeat.get().map_or(at, |w| w.min(at))));
        }
    }

    /// The earliest wake-up asked for during this step.
    pub fn requested_wake(&self) -> Option<Time> {
        self.wake.get()
    }

    /// The earliest heartbeat asked for during this step.
    pub fn requested_heartbeat(&self) -> Option<Time> {
        self.heartbeat.get()
    }

    fn objects(&self, kind: Kind) -> &'a KindMap {
        self.read.set(self.read.get() | 1 << kind.index());
        self.kinds[kind.index()]
    }

    /// The kinds read through this view so far.
    pub fn kinds_read(&self) -> impl Iterator<Item = Kind> + '_ {
        let read = self.read.get();
        Kind::ALL.iter().copied().filter(move |k| read & (1 << k.index()) != 0)
    }

    /// The revision the objects of `kind` were read at.
    pub fn revision_of(&self, kind: Kind) -> u64 {
        self.revisions[kind.index()]
    }

    /// The highest revision any kind was read at.
    pub fn revision(&self) -> u64 {
        self.revisions.iter().copied().max().unwrap_or(0)
    }

    /// One object by namespace and name.
    pub fn get<T: Resource>(&self, namespace: &str, name: &str) -> Option<&'a T> {
        self.objects(T::KIND).get(&ObjectName::new(namespace, name)).and_then(|o| T::from_object(o.object()))
    }

    /// One stored object (with its content hash) by kind and name.
    pub fn get_stored(&self, kind: Kind, name: &ObjectName) -> Option<&'a Arc<StoredObject>> {
        self.objects(kind).get(name)
    }

    /// Every object of kind `T`, ordered by namespace and name.
    pub fn list<T: Resource>(&self) -> impl Iterator<Item = &'a T> + 'a {
        self.objects(T::KIND).values().filter_map(|o| T::from_object(o.object()))
    }

    /// Every object of kind `T` in one namespace, ordered by name.
    pub fn list_in<'n, T: Resource>(&self, namespace: &'n str) -> impl Iterator<Item = &'a T> + 'n
    where
        'a: 'n,
    {
        let from = ObjectName::new(namespace, "");
        self.objects(T::KIND)
            .range(from..)
            .take_while(move |(k, _)| k.namespace == namespace)
            .filter_map(|(_, o)| T::from_object(o.object()))
    }

    /// The pods bound to `node`, ordered by namespace and name.
    pub fn pods_on_node<'n>(&self, node: &'n str) -> impl Iterator<Item = &'a Pod> + 'n
    where
        'a: 'n,
    {
        self.pods_by(node, Some(node))
    }

    /// The pods not yet bound to a node, ordered by namespace and name.
    pub fn unscheduled_pods(&self) -> impl Iterator<Item = &'a Pod> + 'a {
        self.pods_by("", None)
    }

    fn pods_by<'n>(&self, key: &'n str, node: Option<&'n str>) -> impl Iterator<Item = &'a Pod> + 'n
    where
        'a: 'n,
    {
        let all = self.objects(Kind::Pod);
        match self.pods_by_node {
            Some(index) => Either::Left(index.on(key).into_iter().flat_map(|pods| pods.values())),
            None => Either::Right(all.values()),
        }
        .filter_map(|o| Pod::from_object(o.object()))
        .filter(move |p| pod::node_name(p) == node)
    }

    /// Every stored object of a kind.
    pub fn stored(&self, kind: Kind) -> &'a KindMap {
        self.objects(kind)
    }
}
