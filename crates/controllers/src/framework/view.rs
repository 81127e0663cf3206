//! [`ClusterView`]: what a controller sees in one step — its informers' objects and the logical time.

use super::PodsByNode;
use either::Either;
use k8s_openapi::api::core::v1::Pod;
use std::sync::Arc;
use themelios_api::kind::KIND_COUNT;
use themelios_api::store::{KindMap, Objects};
use themelios_api::{pod, Kind, ObjectName, Resource, StoredObject, Time};

/// The objects a controller's informers hold (each kind possibly at a different revision), and the time.
/// Read-only: what a step decides goes into its [`Step`](super::Step).
pub struct ClusterView<'a> {
    kinds: [&'a KindMap; KIND_COUNT],
    revisions: [u64; KIND_COUNT],
    now: Time,
    pods_by_node: Option<&'a PodsByNode>,
    /// Who reads this view and the kinds it declared, when reading another kind is to be caught.
    declared: Option<(&'a str, &'static [Kind])>,
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
        Self { kinds, revisions, now, pods_by_node: None, declared: None }
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

    /// The same view, for `reader` whose profile declares it reads only `kinds`: reading another kind
    /// panics, naming the reader and the kind (the test harness's check that a profile tells the truth —
    /// the model checker keeps caches only for declared kinds).
    pub fn declared_by(mut self, reader: &'a str, kinds: &'static [Kind]) -> Self {
        self.declared = Some((reader, kinds));
        self
    }

    fn objects(&self, kind: Kind) -> &'a KindMap {
        if let Some((reader, kinds)) = self.declared {
            assert!(kinds.contains(&kind), "{reader} read {kind:?}, which its profile's `reads` does not declare");
        }
        self.kinds[kind.index()]
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
