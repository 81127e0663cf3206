//! Memoised steps: what a controller does from what it can see, computed once while it is kept.
//!
//! A controller's step is a pure function of its memory and its view, and the write it issues is decided
//! by the shared `apply()` against the latest revision. With every object version, memory, map and cache
//! interned (see [`crate::intern`]), "the same inputs" is a handful of pointer comparisons, and the same
//! inputs recur all the time: a state differs from its neighbours in one actor's memory, so every *other*
//! actor steps from exactly what it stepped from in the neighbour. In the Deployment rolling update with
//! two instances of each controller, 200,000 steps taken had 12,466 distinct inputs.
//!
//! So each distinct input — the actor, its memory, its caches, the latest revision (and the lagging API
//! server's, for a step that reads it), the time, its last write — is stepped once: whether it has a
//! request and when it wants to be woken, and, the first time the step is taken, the resulting store,
//! the actor's memory after seeing the response, and the first controller property the write violates.
//! Entries hold the interned values they are keyed by, so a key's pointers stay valid and unique while
//! the entry lives. Past a bound the table starts afresh (see [`Steps::keeping`]): forgetting a step only
//! costs computing it again.

use crate::intern::{hash_words, Prehashed, Table};
use crate::state::Cache;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use themelios_api::{ApiState, Op, StateRead, Time};
use themelios_controllers::framework::{DynLocal, Step, Violation};
use thread_local::ThreadLocal;

/// Everything an actor's step depends on, by identity.
pub(crate) struct StepInputs<'a> {
    /// The actor's index.
    pub actor: usize,
    /// Its memory.
    pub local: &'a Arc<dyn DynLocal>,
    /// Its caches, if it has any.
    pub cache: Option<&'a Arc<Cache>>,
    /// The latest state: what the write is checked against (and read, for an actor without caches).
    pub store: &'a ApiState,
    /// The lagging API server's state, for a step that reads it instead of the actor's own view.
    pub lagging: Option<&'a ApiState>,
    /// Logical time.
    pub now: Time,
    /// The revision of its last write (read-your-writes only; 0 otherwise).
    pub last_write: u64,
}

impl StepInputs<'_> {
    fn hash(&self) -> u64 {
        let lagging = self.lagging.map_or((0, 0), |l| (l.objects().storage_id(), l.revision()));
        hash_words([
            self.actor as u64,
            address(self.local) as u64,
            self.cache.map_or(0, |c| Arc::as_ptr(c) as usize) as u64,
            self.store.objects().storage_id() as u64,
            self.store.revision(),
            lagging.0 as u64,
            lagging.1,
            self.now.0 as u64,
            self.last_write,
        ])
    }

    fn owned(&self) -> StepKey {
        StepKey {
            actor: self.actor,
            local: self.local.clone(),
            cache: self.cache.cloned(),
            store: self.store.clone(),
            lagging: self.lagging.cloned(),
            now: self.now,
            last_write: self.last_write,
        }
    }
}

/// The data address of a memory (the vtable half of the pointer says nothing about identity).
fn address(local: &Arc<dyn DynLocal>) -> usize {
    Arc::as_ptr(local) as *const () as usize
}

/// [`StepInputs`] held by an entry: holding the values keeps their addresses from being reused.
struct StepKey {
    actor: usize,
    local: Arc<dyn DynLocal>,
    cache: Option<Arc<Cache>>,
    store: ApiState,
    lagging: Option<ApiState>,
    now: Time,
    last_write: u64,
}

impl StepKey {
    fn matches(&self, inputs: &StepInputs) -> bool {
        let same_state = |held: &ApiState, state: &ApiState| {
            held.revision() == state.revision() && held.objects().shares_storage(state.objects())
        };
        self.actor == inputs.actor
            && address(&self.local) == address(inputs.local)
            && match (&self.cache, inputs.cache) {
                (Some(held), Some(cache)) => Arc::ptr_eq(held, cache),
                (None, None) => true,
                _ => false,
            }
            && same_state(&self.store, inputs.store)
            && match (&self.lagging, inputs.lagging) {
                (Some(held), Some(lagging)) => same_state(held, lagging),
                (None, None) => true,
                _ => false,
            }
            && self.now == inputs.now
            && self.last_write == inputs.last_write
    }
}

/// One actor's step from one [`StepInputs`].
pub(crate) struct KnownStep {
    key: StepKey,
    /// Whether the controller has a request to make.
    pub requests: bool,
    /// The time it asked to be woken at, if any.
    pub wake: Option<Time>,
    /// The time it asked to run at for upkeep, if any.
    pub heartbeat: Option<Time>,
    /// The request and the memory after stepping, until the step is first taken (boxed: most steps have no
    /// request, and entries are kept by the hundred thousand).
    attempt: Mutex<Option<Pending>>,
    /// What taking it leads to, once taken (boxed, for the same reason).
    taken: OnceLock<Box<Taken>>,
}

/// A step's request and the controller's memory after it, not yet taken.
type Pending = Box<(Op, Box<dyn DynLocal>)>;

/// The steps one thread has looked up, by the hash of their inputs (the first of each hash: another with
/// the same hash is looked up in the shared table every time).
type KnownSteps = HashMap<u64, Arc<KnownStep>, Prehashed>;

/// What taking a step leads to.
#[derive(Clone)]
pub(crate) struct Taken {
    /// The latest state after the write.
    pub store: ApiState,
    /// The revision written, if the request changed anything.
    pub wrote: Option<u64>,
    /// The actor's memory after seeing the response.
    pub local: Arc<dyn DynLocal>,
    /// The first controller property the write violates, and how.
    pub violation: Option<Box<Violation>>,
}

impl KnownStep {
    /// What taking the step leads to: computed by `take` from the request and the memory after stepping,
    /// the first time only.
    pub fn taken(&self, take: impl FnOnce(Op, Box<dyn DynLocal>) -> Taken) -> Option<&Taken> {
        if !self.requests {
            return None;
        }
        Some(self.taken.get_or_init(|| {
            let attempt = self.attempt.lock().unwrap_or_else(PoisonError::into_inner).take();
            // `get_or_init` runs this once, and only for a step with a request: the attempt is there.
            let (op, local) = *attempt.expect("a step with a request keeps it until taken");
            Box::new(take(op, local))
        }))
    }
}

/// The steps of one exploration: one table shared by the worker threads, and in front of it one per
/// thread, so that finding a known step takes no lock and touches no shared counter.
pub struct Steps {
    table: Table<Arc<KnownStep>>,
    /// How many steps are kept before the table starts afresh.
    kept: usize,
    fronts: ThreadLocal<RefCell<(u64, KnownSteps)>>,
    /// Bumped each time the table is cleared; a thread clears its front when it sees a new one.
    generation: AtomicU64,
    clearing: Mutex<()>,
}

/// How many steps are kept before the table starts afresh: about 1.3 MiB. The steps a BFS level meets
/// again are mostly those of the states just before it, so a small table does as well as a large one:
/// the whole matrix takes the same time with 4,096 entries as with 131,072 (which took 30 MiB, 5 MiB more
/// than the graph of TestNewDeployment with two instances of each controller).
const STEPS_KEPT: usize = 1 << 12;

impl Default for Steps {
    fn default() -> Self {
        Self::keeping(STEPS_KEPT)
    }
}

impl Steps {
    /// Steps that start afresh once `kept` are held (the default keeps 4,096, about 1.3 MiB).
    pub fn keeping(kept: usize) -> Self {
        Self {
            table: Table::default(),
            kept,
            fronts: ThreadLocal::new(),
            generation: AtomicU64::new(0),
            clearing: Mutex::new(()),
        }
    }

    /// Calls `with` on the step from `inputs`, computed by `attempt` (what the controller decided, and its
    /// memory after) if no thread has computed it yet.
    pub(crate) fn with<R>(
        &self,
        inputs: &StepInputs,
        attempt: impl FnOnce() -> (Step, Box<dyn DynLocal>),
        with: impl FnOnce(&KnownStep) -> R,
    ) -> R {
        let hash = inputs.hash();
        let generation = self.generation.load(Ordering::Acquire);
        let front = self.fronts.get_or_default();
        {
            let mut front = front.borrow_mut();
            if front.0 != generation {
                *front = (generation, KnownSteps::default());
            }
            if let Some(found) = front.1.get(&hash).filter(|s| s.key.matches(inputs)) {
                return with(found);
            }
        }
        let step = match self.table.find(hash, |s| s.key.matches(inputs)) {
            Some(found) => found,
            None => {
                let (Step { op, wake_at, heartbeat_at }, local) = attempt();
                if self.table.count() >= self.kept {
                    self.start_afresh();
                }
                let step = Arc::new(KnownStep {
                    key: inputs.owned(),
                    requests: op.is_some(),
                    wake: wake_at,
                    heartbeat: heartbeat_at,
                    attempt: Mutex::new(op.map(|op| Box::new((op, local)))),
                    taken: OnceLock::new(),
                });
                self.table.intern(hash, step, |a, b| a.key.matches(&b.key.inputs()))
            }
        };
        front.borrow_mut().1.entry(hash).or_insert_with(|| step.clone());
        with(&step)
    }

    /// Drops every step kept (threads drop their fronts when they next look).
    fn start_afresh(&self) {
        let _one_at_a_time = self.clearing.lock().unwrap_or_else(PoisonError::into_inner);
        if self.table.count() >= self.kept {
            self.table.clear();
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Drops every step kept, in the table and in this thread's front (a thread that stops exploring
    /// calls [`Steps::release_mine`]; what other threads hold goes when they next look).
    pub fn release(&self) {
        let _one_at_a_time = self.clearing.lock().unwrap_or_else(PoisonError::into_inner);
        self.table.clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.release_mine();
    }

    /// Drops this thread's front: a worker that is done exploring holds no steps.
    pub fn release_mine(&self) {
        if let Some(front) = self.fronts.get() {
            front.borrow_mut().1 = KnownSteps::default();
        }
    }

    /// How many distinct steps are held.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl StepKey {
    fn inputs(&self) -> StepInputs<'_> {
        StepInputs {
            actor: self.actor,
            local: &self.local,
            cache: self.cache.as_ref(),
            store: &self.store,
            lagging: self.lagging.as_ref(),
            now: self.now,
            last_write: self.last_write,
        }
    }
}
