//! Hash-consing: one copy of each object version, controller memory and kind map, shared by every state
//! that holds it.
//!
//! A BFS level holds tens of thousands of states, and they hold mostly the same few dozen object versions,
//! each written independently along a different interleaving: in the widest level of the Deployment
//! rolling update with two instances of each controller, 82,811 object copies had 79 distinct contents,
//! and 121,574 controller memories had 234. Interning each as it is written leaves a state owning little
//! more than its fixed-size part. The tables keep what they intern for the whole exploration; they grow
//! with the distinct contents, which are few.

use crate::state::{ActorState, Cache};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use themelios_api::store::{KindMap, Objects};
use themelios_api::{Kind, StoredObject};
use themelios_controllers::framework::DynLocal;

/// How many distinct actor states are kept for sharing.
const ACTORS_KEPT: usize = 1 << 16;

/// The tables of one exploration, shared by its worker threads.
#[derive(Default)]
pub struct Interner {
    objects: Table<Arc<StoredObject>>,
    locals: Table<Arc<dyn DynLocal>>,
    maps: Table<KindMap>,
    all_maps: Table<Objects>,
    caches: Table<Arc<Cache>>,
    actors: Table<Arc<ActorState>>,
}

impl Interner {
    /// The one copy of an object version equal to `object`.
    pub fn object(&self, object: Arc<StoredObject>) -> Arc<StoredObject> {
        self.objects.intern(object.content_hash(), object, |a, b| Arc::ptr_eq(a, b) || a == b)
    }

    /// The one copy of a controller memory equal to `local`.
    pub fn local(&self, local: Box<dyn DynLocal>) -> Arc<dyn DynLocal> {
        let mut hasher = DefaultHasher::new();
        local.dyn_hash(&mut hasher);
        self.locals.intern(hasher.finish(), Arc::from(local), |a, b| a.dyn_eq(b.as_ref()))
    }

    /// The one copy of a kind map equal to `map` (whose objects are interned already).
    pub fn map(&self, map: &KindMap) -> KindMap {
        let mut hasher = DefaultHasher::new();
        map.hash(&mut hasher);
        self.maps.intern(hasher.finish(), map.clone(), |a, b| a == b)
    }

    /// The one copy of a state's maps equal to `objects` (whose maps are interned already, so hashing
    /// their identities is enough).
    pub fn objects(&self, objects: &Objects) -> Objects {
        let mut hasher = DefaultHasher::new();
        for kind in Kind::ALL {
            hasher.write_usize(objects.of_kind(*kind).storage_id());
        }
        self.all_maps.intern(hasher.finish(), objects.clone(), |a, b| a == b)
    }

    /// The one copy of an actor's cache equal to `cache` (whose maps come from interned states, so hashing
    /// their identities is enough).
    pub fn cache(&self, cache: &Arc<Cache>) -> Arc<Cache> {
        let mut hasher = DefaultHasher::new();
        for (_, map, revision) in &cache.kinds {
            hasher.write_usize(map.storage_id());
            hasher.write_u64(*revision);
        }
        self.caches.intern(hasher.finish(), cache.clone(), |a, b| Arc::ptr_eq(a, b) || a == b)
    }

    /// The one copy of an actor's state equal to `actor` (whose memory and caches are interned already,
    /// so their identities are enough).
    pub fn actor(&self, actor: &Arc<ActorState>) -> Arc<ActorState> {
        let identity = |a: &ActorState| {
            [
                Arc::as_ptr(&a.local) as *const () as u64,
                a.cache.as_ref().map_or(0, |c| Arc::as_ptr(c) as u64),
                a.last_write,
                a.budgets(),
            ]
        };
        let same = |a: &Arc<ActorState>, b: &Arc<ActorState>| Arc::ptr_eq(a, b) || identity(a) == identity(b);
        let hash = hash_words(identity(actor));
        // Actors' states are shared only while they are few (hundreds in the built-in scenarios under
        // linearizable reads); where they are not, keeping each for the whole run would cost more than
        // sharing saves.
        if self.actors.count() >= ACTORS_KEPT {
            return self.actors.find(hash, |a| same(a, actor)).unwrap_or_else(|| actor.clone());
        }
        self.actors.intern(hash, actor.clone(), same)
    }

    /// Drops every copy held: states explored later are shared among themselves again.
    pub fn release(&self) {
        self.objects.clear();
        self.locals.clear();
        self.maps.clear();
        self.all_maps.clear();
        self.caches.clear();
        self.actors.clear();
    }

    /// How many distinct object versions, memories, kind maps, sets of maps, caches and actor states are
    /// held.
    pub fn sizes(&self) -> [usize; 6] {
        [
            self.objects.len(),
            self.locals.len(),
            self.maps.len(),
            self.all_maps.len(),
            self.caches.len(),
            self.actors.len(),
        ]
    }
}

/// A table from hash to the distinct values with that hash, in shards so that threads rarely wait. The
/// first value of a hash sits in the map itself; the rare others (a 64-bit collision) beside it.
pub(crate) struct Table<T> {
    shards: [Mutex<Shard<T>>; SHARDS],
    /// How many values are held (kept beside the shards so that reading it takes no lock).
    count: AtomicUsize,
}

struct Shard<T> {
    first: HashMap<u64, T, Prehashed>,
    more: HashMap<u64, Vec<T>, Prehashed>,
}

impl<T> Default for Shard<T> {
    fn default() -> Self {
        Self { first: HashMap::default(), more: HashMap::default() }
    }
}

/// Builds hashers for maps keyed by values that are hashes already: rehashing them would only cost time.
pub(crate) type Prehashed = BuildHasherDefault<Identity>;

/// Passes a `u64` key through as its own hash.
#[derive(Default)]
pub(crate) struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Hashes a key made of a few pointers and integers (FxHash's step per value, then the high bits folded
/// down: addresses end in zero bits, and hash maps index by the low bits).
pub(crate) fn hash_words(words: impl IntoIterator<Item = u64>) -> u64 {
    let hash = words.into_iter().fold(0u64, |h, w| (h.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95));
    hash ^ (hash >> 29)
}

const SHARDS: usize = 16;

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self { shards: std::array::from_fn(|_| Mutex::default()), count: AtomicUsize::new(0) }
    }
}

impl<T: Clone> Table<T> {
    /// The value with this hash that `is` accepts, if any.
    pub(crate) fn find(&self, hash: u64, is: impl Fn(&T) -> bool) -> Option<T> {
        let shard = self.shard(hash);
        let first = shard.first.get(&hash)?;
        match is(first) {
            true => Some(first.clone()),
            false => shard.more.get(&hash)?.iter().find(|v| is(v)).cloned(),
        }
    }

    fn shard(&self, hash: u64) -> std::sync::MutexGuard<'_, Shard<T>> {
        // A panic while holding a shard cannot leave it half-written: inserting is the only write.
        self.shards[(hash >> 60) as usize % SHARDS].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value with this hash equal to `value`, inserting `value` if there is none.
    pub(crate) fn intern(&self, hash: u64, value: T, equal: impl Fn(&T, &T) -> bool) -> T {
        let mut shard = self.shard(hash);
        let Shard { first: firsts, more } = &mut *shard;
        let Some(first) = firsts.get(&hash) else {
            firsts.insert(hash, value.clone());
            self.count.fetch_add(1, Ordering::Relaxed);
            return value;
        };
        if equal(first, &value) {
            return first.clone();
        }
        let others = more.entry(hash).or_default();
        if let Some(found) = others.iter().find(|v| equal(v, &value)) {
            return found.clone();
        }
        others.push(value.clone());
        self.count.fetch_add(1, Ordering::Relaxed);
        value
    }

    /// How many values are held, without locking (may lag behind inserts in other threads).
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Drops every value.
    pub(crate) fn clear(&self) {
        for shard in &self.shards {
            *shard.lock().unwrap_or_else(PoisonError::into_inner) = Shard::default();
        }
        self.count.store(0, Ordering::Relaxed);
    }

    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let shard = s.lock().unwrap_or_else(PoisonError::into_inner);
                shard.first.len() + shard.more.values().map(Vec::len).sum::<usize>()
            })
            .sum()
    }
}

#[cfg(test)]
mod example {
    use super::Interner;

    #[test]
    fn equal_objects_share_one_copy() {
        use themelios_api::{Kind, Object, StoredObject};
        let config_map = || {
            let value = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
            StoredObject::new(Object::from_json(Kind::ConfigMap, value).expect("a config map"))
        };
        let interner = Interner::default();
        let first = interner.object(config_map());
        let second = interner.object(config_map());
        assert!(std::sync::Arc::ptr_eq(&first, &second));
    }
}
