//! The informers' objects, per kind, and who to wake when they change.
//!
//! A cluster process may run thousands of simulated kubelets beside the controllers. Waking every one of
//! them on every change, each to scan every pod, is quadratic; so the caches keep pods indexed by node
//! ([`PodsByNode`]) and route each change only to the subscribers it concerns: a controller that reads its
//! kind, or — for a node agent — a change to its own node's pods, Node or Lease
//! ([`node_of_change`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use themelios_api::kind::KIND_COUNT;
use themelios_api::store::{parse_revision, KindMap};
use themelios_api::{Kind, Object, ObjectRef, StoredObject};
use themelios_controllers::framework::{node_of_change, PodsByNode};
use tokio::sync::{watch, Notify};

/// What the informers hold, with the subscribers to wake on changes.
pub struct Caches {
    inner: RwLock<Inner>,
    /// The highest resourceVersion seen per kind, for a controller waiting to see its own write.
    seen: [watch::Sender<u64>; KIND_COUNT],
    /// One bit per kind whose initial list has arrived.
    synced: watch::Sender<u32>,
    subscribers: Mutex<Subscribers>,
}

#[derive(Clone, Default)]
struct Inner {
    kinds: [KindMap; KIND_COUNT],
    revisions: [u64; KIND_COUNT],
    pods_by_node: PodsByNode,
}

/// A subscriber: the kinds it reads (one bit each) and how to wake it.
struct Subscriber {
    kinds: u32,
    wake: Arc<Notify>,
}

#[derive(Default)]
struct Subscribers {
    /// Controllers that see every object of the kinds they read.
    cluster: Vec<Subscriber>,
    /// Node agents, by their node.
    nodes: HashMap<String, Vec<Subscriber>>,
}

fn bit(kind: Kind) -> u32 {
    1 << kind.index()
}

impl Subscribers {
    /// Wakes whoever a change to `object` (of `kind`) concerns.
    fn wake(&self, kind: Kind, object: Option<&Object>) {
        let concerned = |s: &&Subscriber| s.kinds & bit(kind) != 0;
        self.cluster.iter().filter(concerned).for_each(|s| s.wake.notify_one());
        match object.map(node_of_change) {
            Some(Some(node)) => {
                self.nodes.get(node).into_iter().flatten().filter(concerned).for_each(|s| s.wake.notify_one())
            }
            // A relist, or a kind no node owns: every agent that reads it.
            _ => self.nodes.values().flatten().filter(concerned).for_each(|s| s.wake.notify_one()),
        }
    }
}

/// A consistent copy of the caches for one step (cheap: the maps share their storage).
#[derive(Clone)]
pub struct CacheSnapshot {
    inner: Inner,
}

impl CacheSnapshot {
    /// The objects of a kind and the revision its informer has reached.
    pub fn kind(&self, kind: Kind) -> (&KindMap, u64) {
        (&self.inner.kinds[kind.index()], self.inner.revisions[kind.index()])
    }

    /// The pods of [`CacheSnapshot::kind`]`(Kind::Pod)`, indexed by node.
    pub fn pods_by_node(&self) -> &PodsByNode {
        &self.inner.pods_by_node
    }
}

impl Caches {
    /// Empty caches.
    pub fn new() -> Arc<Self> {
        Arc::new(Caches {
            inner: RwLock::default(),
            seen: std::array::from_fn(|_| watch::Sender::new(0)),
            synced: watch::Sender::new(0),
            subscribers: Mutex::default(),
        })
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn wake(&self, kind: Kind, object: Option<&Object>, revision: u64) {
        self.seen[kind.index()].send_if_modified(|seen| {
            let newer = revision > *seen;
            *seen = (*seen).max(revision);
            newer
        });
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner()).wake(kind, object);
    }

    /// Registers a controller that reads `kinds` (all kinds if `None`) and, if it is a node agent, only its
    /// own node's objects of the kinds a node owns; returns what it waits on.
    pub fn subscribe(&self, kinds: Option<&[Kind]>, node: Option<&str>) -> Arc<Notify> {
        let kinds = kinds.map_or(u32::MAX, |ks| ks.iter().fold(0, |mask, k| mask | bit(*k)));
        let wake = Arc::new(Notify::new());
        let subscriber = Subscriber { kinds, wake: wake.clone() };
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        match node {
            Some(node) => subscribers.nodes.entry(node.to_string()).or_default().push(subscriber),
            None => subscribers.cluster.push(subscriber),
        }
        wake
    }

    /// Replaces a kind's objects after a (re)list.
    pub fn replace(&self, kind: Kind, objects: Vec<Object>) {
        let mut inner = self.write();
        let mut max = inner.revisions[kind.index()];
        let map: KindMap = objects
            .into_iter()
            .map(|o| {
                let stored = StoredObject::new(o);
                max = max.max(stored.revision());
                stored
            })
            .collect();
        if kind == Kind::Pod {
            inner.pods_by_node = PodsByNode::build(&map);
        }
        inner.kinds[kind.index()] = map;
        inner.revisions[kind.index()] = max;
        drop(inner);
        self.synced.send_modify(|synced| *synced |= bit(kind));
        self.wake(kind, None, max);
    }

    /// Records an added or modified object.
    pub fn apply(&self, object: Object) {
        let stored = StoredObject::new(object);
        let reference = ObjectRef::of(stored.object());
        let (index, revision) = (reference.kind.index(), stored.revision());
        let mut inner = self.write();
        inner.revisions[index] = inner.revisions[index].max(revision);
        let old = inner.kinds[index].insert(stored.clone());
        if reference.kind == Kind::Pod {
            inner.pods_by_node.update(old.as_ref(), Some(&stored));
        }
        drop(inner);
        // A pod's node is set once, by its binding, so only the new version's node agent is concerned.
        self.wake(reference.kind, Some(stored.object()), revision);
    }

    /// Records a deleted object.
    pub fn delete(&self, object: Object) {
        let reference = ObjectRef::of(&object);
        let revision = parse_revision(object.meta().resource_version.as_deref()).unwrap_or(0);
        let mut inner = self.write();
        let index = reference.kind.index();
        inner.revisions[index] = inner.revisions[index].max(revision);
        let old = inner.kinds[index].remove(&reference.name);
        if reference.kind == Kind::Pod {
            inner.pods_by_node.update(old.as_ref(), None);
        }
        drop(inner);
        self.wake(reference.kind, Some(&object), revision);
    }

    /// A copy to build a view from.
    pub fn snapshot(&self) -> CacheSnapshot {
        CacheSnapshot { inner: self.read().clone() }
    }

    /// Waits until every kind in `kinds` has had its initial list.
    pub async fn wait_synced(&self, kinds: &[Kind]) {
        let wanted = kinds.iter().fold(0, |mask, k| mask | bit(*k));
        let _ = self.synced.subscribe().wait_for(|synced| synced & wanted == wanted).await;
    }

    /// Waits (until `deadline`) for the informer of `kind` to reach `revision`: the driver waits for its own
    /// writes to come back before the next step. Returns whether it did.
    pub async fn wait_seen(&self, kind: Kind, revision: u64, deadline: tokio::time::Instant) -> bool {
        let mut seen = self.seen[kind.index()].subscribe();
        let reached = tokio::time::timeout_at(deadline, seen.wait_for(|r| *r >= revision)).await;
        matches!(reached, Ok(Ok(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::Caches;
    use k8s_openapi::api::core::v1::{ConfigMap, Pod, PodSpec};
    use std::sync::Arc;
    use themelios_api::{Kind, Object, Resource};
    use tokio::sync::Notify;

    fn pod(name: &str, node: Option<&str>, revision: u64) -> Object {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("default".into());
        p.metadata.resource_version = Some(revision.to_string());
        p.spec = Some(PodSpec { node_name: node.map(str::to_string), ..Default::default() });
        p.into_object()
    }

    /// Whether `wake` has been notified since it was last consumed.
    async fn woken(wake: &Arc<Notify>) -> bool {
        tokio::time::timeout(std::time::Duration::from_millis(20), wake.notified()).await.is_ok()
    }

    #[tokio::test]
    async fn changes_wake_only_the_subscribers_they_concern() {
        let caches = Caches::new();
        let pod_kinds = [Kind::Pod, Kind::Node, Kind::Lease, Kind::Namespace];
        let node_1 = caches.subscribe(Some(&pod_kinds), Some("node-1"));
        let node_2 = caches.subscribe(Some(&pod_kinds), Some("node-2"));
        let scheduler = caches.subscribe(Some(&[Kind::Pod, Kind::Node]), None);
        let config_maps = caches.subscribe(Some(&[Kind::ConfigMap]), None);

        caches.apply(pod("p", None, 1));
        assert!(woken(&scheduler).await);
        assert!(!woken(&node_1).await && !woken(&node_2).await && !woken(&config_maps).await);

        caches.apply(pod("p", Some("node-1"), 2));
        assert!(woken(&node_1).await && woken(&scheduler).await);
        assert!(!woken(&node_2).await);

        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("c".into());
        cm.metadata.namespace = Some("default".into());
        caches.apply(cm.into_object());
        assert!(woken(&config_maps).await);
        assert!(!woken(&node_1).await && !woken(&scheduler).await);

        caches.delete(pod("p", Some("node-1"), 3));
        assert!(woken(&node_1).await);
        assert!(!woken(&node_2).await);
        assert!(caches.snapshot().pods_by_node().on("node-1").is_none());
        assert!(caches.wait_seen(Kind::Pod, 3, tokio::time::Instant::now()).await);
        assert!(!caches.wait_seen(Kind::Pod, 4, tokio::time::Instant::now()).await);
    }

    #[tokio::test]
    async fn the_pod_index_follows_binds_and_relists() {
        let caches = Caches::new();
        caches.replace(Kind::Pod, vec![pod("a", None, 1), pod("b", Some("node-1"), 2)]);
        caches.apply(pod("a", Some("node-2"), 3));
        let snapshot = caches.snapshot();
        let on = |node: &str| snapshot.pods_by_node().on(node).map_or(0, |pods| pods.len());
        assert_eq!((on(""), on("node-1"), on("node-2")), (0, 1, 1));
        assert_eq!(snapshot.kind(Kind::Pod).1, 3);
        caches.wait_synced(&[Kind::Pod]).await;
    }
}
