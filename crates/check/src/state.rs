//! The model's state, at the bottom of the checker: the datastore, the lagging API server, the actors'
//! memories and caches, time, the environment's progress, and the transitions between states. Everything
//! else in the crate builds on these types; they depend on nothing else in it.

use std::sync::Arc;
use themelios_api::store::KindMap;
use themelios_api::{ApiState, Kind, StateRead, Time};
use themelios_controllers::framework::{DynLocal, Profile, Violation};

/// What an actor reads from: its informer cache of each kind it watches, with the revision that cache has
/// seen. Kinds it does not watch are never read, so they are not kept: a cache of them would only change
/// with every write and tell apart states the actor cannot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cache {
    /// The watched kinds in [`Kind::ALL`] order, each with its map and the revision it has seen.
    pub(crate) kinds: Vec<(Kind, KindMap, u64)>,
}

impl Cache {
    /// A cache of the kinds an actor of `profile` watches, caught up with `state`.
    pub(crate) fn of(state: &ApiState, profile: &Profile) -> Self {
        let kinds = Kind::ALL.iter().filter(|k| profile.watches(**k));
        Self { kinds: kinds.map(|k| (*k, state.objects().of_kind(*k).clone(), state.revision())).collect() }
    }
    /// The cache of one kind, if it is watched.
    pub(crate) fn of_kind(&self, kind: Kind) -> Option<(&KindMap, u64)> {
        self.kinds.iter().find(|(k, _, _)| *k == kind).map(|(_, map, revision)| (map, *revision))
    }
    /// Catches the cache of one kind up with `state`.
    pub(crate) fn catch_up(&mut self, kind: Kind, state: &ApiState) {
        if let Some(entry) = self.kinds.iter_mut().find(|(k, _, _)| *k == kind) {
            (entry.1, entry.2) = (state.objects().of_kind(kind).clone(), state.revision());
        }
    }
    /// Whether every kind has seen revision `rv`: a kind whose content equals the latest has seen all.
    pub(crate) fn has_seen(&self, rv: u64, store: &ApiState) -> bool {
        self.kinds.iter().all(|(kind, map, revision)| *revision >= rv || map == store.objects().of_kind(*kind))
    }
    /// The watched kinds whose content differs from `store`'s.
    pub(crate) fn behind<'a>(&'a self, store: &'a ApiState) -> impl Iterator<Item = Kind> + 'a {
        self.kinds.iter().filter(|(kind, map, _)| map != store.objects().of_kind(*kind)).map(|(kind, _, _)| *kind)
    }
    /// Whether every watched kind holds what `store` holds.
    pub fn is_current(&self, store: &ApiState) -> bool {
        self.behind(store).next().is_none()
    }
}

/// One actor's state: its memory, its cache (none when it reads the latest revision), the revision of its
/// last successful write, and the restarts it may still suffer.
#[derive(Clone, Debug)]
pub struct ActorState {
    /// The controller's memory, shared between states until the actor steps.
    pub local: Arc<dyn DynLocal>,
    /// Its informer caches.
    pub cache: Option<Arc<Cache>>,
    /// The revision of its last write, kept only under read-your-writes (0 otherwise).
    pub last_write: u64,
    /// Restarts left in the scenario's fault budget.
    pub restarts_left: u8,
    /// Writes of this actor that may still fail with an injected Conflict (not applied).
    pub conflicts_left: u8,
    /// Writes of this actor that may still time out after taking effect.
    pub timeouts_left: u8,
    /// Times this actor may still stop for good (a node that stops heartbeating).
    pub stops_left: u8,
    /// Times this actor may still start (a node that joins the cluster mid-run).
    pub joins_left: u8,
    /// Whether it runs: a stopped actor, or a node not yet joined, takes no step and its caches stay.
    pub running: bool,
}

impl ActorState {
    /// The fault budgets left (restarts, conflicts, timeouts, stops, joins) and whether it runs, as one
    /// number, for hashing.
    pub fn budgets(&self) -> u64 {
        [
            self.restarts_left,
            self.conflicts_left,
            self.timeouts_left,
            self.stops_left,
            self.joins_left,
            u8::from(self.running),
        ]
        .iter()
        .fold(0, |all, b| all << 8 | u64::from(*b))
    }
}

impl PartialEq for ActorState {
    fn eq(&self, other: &Self) -> bool {
        (Arc::ptr_eq(&self.local, &other.local) || self.local.dyn_eq(other.local.as_ref()))
            && self.cache == other.cache
            && self.last_write == other.last_write
            && self.budgets() == other.budgets()
    }
}
impl Eq for ActorState {}
impl std::hash::Hash for ActorState {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.local.dyn_hash(state);
        self.cache.hash(state);
        self.last_write.hash(state);
        self.budgets().hash(state);
    }
}

/// A state of the model. It hashes canonically (see [`crate::canonical`]): states equal up to a renaming of
/// revisions hash the same, which is what the checker deduplicates on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// The latest revision of every object.
    pub store: ApiState,
    /// A second API server's watch cache, lagging behind.
    pub lagging: ApiState,
    /// Logical time.
    pub now: Time,
    /// The actors, shared between states until one of them changes (see [`State::actor_mut`]); each
    /// actor's state is interned, so a state owns only the pointers.
    pub actors: Arc<[Arc<ActorState>]>,
    /// Which user operations have happened.
    pub user_done: UserDone,
    /// The first safety property violated, if any, and what was wrong (boxed: almost every state has none).
    pub violation: Option<Box<Violation>>,
}

/// Which of a scenario's user operations have happened, one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UserDone(u64);

impl UserDone {
    /// How many user operations a scenario may list.
    pub const MAX: usize = 64;
    /// Whether operation `u` has happened.
    pub fn has(self, u: usize) -> bool {
        self.0 & (1 << u) != 0
    }
    /// Records that operation `u` happened.
    pub fn mark(&mut self, u: usize) {
        self.0 |= 1 << u;
    }
}

impl State {
    /// One actor's state, for writing: the actors are copied first if another state shares them.
    pub fn actor_mut(&mut self, actor: usize) -> &mut ActorState {
        Arc::make_mut(&mut Arc::make_mut(&mut self.actors)[actor])
    }
}

/// A fairness class that no fairness is owed to (the environment's actions): see
/// [`crate::liveness`].
pub const UNCONSTRAINED: u16 = u16::MAX;

/// A transition of the model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// An actor takes a step: reads its view and issues its request.
    Step(usize),
    /// An actor under the optimistic model takes a step reading the lagging API server's cache.
    StepLagging(usize),
    /// An actor's cache of one kind catches up with the latest revision.
    CatchUp(usize, Kind),
    /// The lagging API server's cache catches up.
    LaggingCatchUp,
    /// An actor crashes and restarts.
    Restart(usize),
    /// An actor stops for good (a node's kubelet: the node stops heartbeating).
    Stop(usize),
    /// An actor starts mid-run (a node's kubelet: the node joins the cluster).
    Join(usize),
    /// An actor takes a step and its request meets an injected fault.
    Fault(usize, Fault),
    /// A user operation of the scenario happens.
    User(usize),
    /// Logical time moves to the next deadline (when no actor has a step).
    Tick(Time),
}

/// A fault injected into one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The request fails with 409 Conflict and changes nothing.
    Conflict,
    /// The request takes effect, but the client sees a timeout.
    Timeout,
}
