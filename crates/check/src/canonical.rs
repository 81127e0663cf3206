//! Canonical fingerprints: two states that differ only by an order-preserving renaming of revisions hash
//! the same.
//!
//! Every write bumps the revision, and uids and generated names derive from it, so without this no state
//! would ever repeat after a write: controllers fighting over an object would look like an infinite
//! state space instead of a cycle, and BFS would never finish. Behaviour cannot tell such states apart:
//! controllers compare revisions only for order and equality, compare uids and names only for equality,
//! and the next write's revision is above every revision in either state.
//!
//! The revisions a state mentions — the store's and caches' revisions, the actors' last writes, and every
//! token of every object (see [`themelios_api::identity`]) — are ranked, and the fingerprint hashes each
//! by its rank. Controller memory is opaque, so it is hashed through [`Ranking`], which recognises uids,
//! generated names (by the objects in the state that carry them) and tagged tokens as it goes. A name in
//! memory whose object is gone from every cache is hashed as written, which can only make two equivalent
//! states look different, never the reverse: that is the sound direction.

use crate::model::State;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use themelios_api::identity::{revision_of_uid, Bucket, GLOBAL_BUCKET, UID_BUCKET};
use themelios_api::store::{revision_token, KindMap, REVISION_TOKEN_TAG};
use themelios_api::{Kind, StateRead};

/// The canonical fingerprint of a state.
pub fn fingerprint(state: &State) -> u64 {
    let names = generated_names(state);
    let mut collect = Collect { names: &names, tokens: Vec::with_capacity(256) };
    feed(state, &mut collect);
    let mut tokens = collect.tokens;
    tokens.sort_unstable();
    tokens.dedup();
    let mut rank = Ranking { names: &names, ranks: &tokens, inner: DefaultHasher::new() };
    feed(state, &mut rank);
    rank.inner.finish()
}

/// Writes a datastore-wide revision as a token.
fn token(h: &mut impl Hasher, revision: u64) {
    h.write_u128(revision_token(GLOBAL_BUCKET, revision));
}

/// Feeds every part of a state into a hasher, revisions as tokens. A map that shares storage with the
/// latest state's (the usual case: objects and maps are interned, see [`crate::intern`]) is fed as a mark
/// instead of its objects; equal marks mean equal content, so this only saves time.
fn feed(state: &State, h: &mut impl Hasher) {
    let latest = state.store.objects();
    token(h, state.store.revision());
    latest.hash(h);
    token(h, state.lagging.revision());
    if state.lagging.objects().shares_storage(latest) {
        h.write_u64(SAME_AS_LATEST);
    } else {
        state.lagging.objects().hash(h);
    }
    state.now.hash(h);
    for actor in state.actors.iter() {
        actor.local.dyn_hash(h);
        match &actor.cache {
            Some(cache) => {
                h.write_u8(1);
                for (kind, (map, revision)) in Kind::ALL.iter().zip(&cache.kinds) {
                    if map.shares_storage(latest.of_kind(*kind)) {
                        h.write_u64(SAME_AS_LATEST);
                    } else {
                        map.hash(h);
                    }
                    token(h, *revision);
                }
            }
            None => h.write_u8(0),
        }
        // 0 means "no write yet", not a revision.
        match actor.last_write {
            0 => h.write_u8(0),
            revision => token(h, revision),
        }
        h.write_u8(actor.restarts_left);
        h.write_u8(actor.conflicts_left);
        h.write_u8(actor.timeouts_left);
    }
    state.user_done.hash(h);
    state.violation.hash(h);
}

/// What [`feed`] writes for a map that is the latest state's: the hash of a map or of a state's maps starts
/// with a length, which is never this.
const SAME_AS_LATEST: u64 = u64::MAX - 0x5a;

/// Generated names (as `name` and `namespace/name`) of every object the state holds, with their revision.
fn generated_names<'a>(state: &'a State) -> HashMap<&'a str, u64> {
    let mut names = HashMap::new();
    let mut add = |map: &'a KindMap| {
        for (name, object) in map {
            if let (Some(revision), Some(qualified)) = (object.shape().generated, &object.shape().qualified_name) {
                names.insert(name.name.as_str(), revision);
                names.insert(&**qualified, revision);
            }
        }
    };
    let latest = state.store.objects();
    for kind in Kind::ALL {
        let latest = latest.of_kind(*kind);
        add(latest);
        let others = std::iter::once(state.lagging.objects().of_kind(*kind))
            .chain(state.actors.iter().filter_map(|a| a.cache.as_ref()).map(|c| &c.kinds[kind.index()].0));
        for map in others.filter(|m| !m.shares_storage(latest)) {
            add(map);
        }
    }
    names
}

/// The revision a string written by `Hash for str` names, if any: a uid or a generated name.
fn string_token(bytes: &[u8], names: &HashMap<&str, u64>) -> Option<(Bucket, u64)> {
    let text = std::str::from_utf8(bytes).ok()?;
    revision_of_uid(text).or_else(|| names.get(text).copied()).map(|r| (UID_BUCKET, r))
}

fn tagged(value: u128) -> Option<(Bucket, u64)> {
    (value >> 96 == REVISION_TOKEN_TAG >> 96).then_some(((value >> 64) as u32, value as u64))
}

/// Pass one: collects every revision the state mentions.
struct Collect<'a> {
    names: &'a HashMap<&'a str, u64>,
    tokens: Vec<(Bucket, u64)>,
}

/// Integers are never strings: keep them away from `write`, which looks for uids and names.
macro_rules! integers {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(&mut self, value: $ty) { self.integer(&value.to_ne_bytes()) })*
    };
}

impl Hasher for Collect<'_> {
    fn finish(&self) -> u64 {
        0
    }
    integers!(write_u8: u8, write_u16: u16, write_u32: u32, write_u64: u64, write_usize: usize,
        write_i8: i8, write_i16: i16, write_i32: i32, write_i64: i64, write_i128: i128, write_isize: isize);
    fn write(&mut self, bytes: &[u8]) {
        self.tokens.extend(string_token(bytes, self.names));
    }
    fn write_u128(&mut self, value: u128) {
        self.tokens.extend(tagged(value));
    }
}

impl Collect<'_> {
    fn integer(&mut self, _: &[u8]) {}
}

/// Pass two: hashes every revision by its rank among the state's revisions.
struct Ranking<'a> {
    names: &'a HashMap<&'a str, u64>,
    ranks: &'a [(Bucket, u64)],
    inner: DefaultHasher,
}

impl Ranking<'_> {
    /// Hashes a token by its bucket and its place in the sorted tokens: equal for two states exactly when
    /// each bucket's tokens are in the same order.
    fn rank(&mut self, token: (Bucket, u64)) {
        let rank = self.ranks.binary_search(&token).unwrap_or_else(|at| at);
        self.inner.write_u8(0xfd);
        self.inner.write_u32(token.0);
        self.inner.write_usize(rank);
    }
}

impl Hasher for Ranking<'_> {
    fn finish(&self) -> u64 {
        self.inner.finish()
    }
    integers!(write_u8: u8, write_u16: u16, write_u32: u32, write_u64: u64, write_usize: usize,
        write_i8: i8, write_i16: i16, write_i32: i32, write_i64: i64, write_i128: i128, write_isize: isize);
    fn write(&mut self, bytes: &[u8]) {
        match string_token(bytes, self.names) {
            Some(revision) => self.rank(revision),
            None => self.inner.write(bytes),
        }
    }
    fn write_u128(&mut self, value: u128) {
        match tagged(value) {
            Some(revision) => self.rank(revision),
            None => self.inner.write_u128(value),
        }
    }
}

impl Ranking<'_> {
    fn integer(&mut self, bytes: &[u8]) {
        self.inner.write(bytes);
    }
}
