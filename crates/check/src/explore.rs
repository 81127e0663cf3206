//! Breadth-first exploration of a model's states on several threads, keeping the state graph so that
//! liveness can be decided on it afterwards.
//!
//! States are deduplicated by their canonical fingerprint. The graph stores, per state, only its
//! fingerprint, its BFS parent and its outgoing edges (target and fairness class): a few dozen bytes,
//! while full states live only in the current BFS level. Levels are expanded in batches: threads compute
//! successors, one thread merges them, so state numbers follow BFS order and runs are deterministic.

use crate::index::Index;
pub use crate::index::StateId;
use crate::model::{Action, ClusterModel, State};
use stateright::Model;
use std::sync::{mpsc, PoisonError, RwLock};
use std::time::{Duration, Instant};
use themelios_controllers::framework::Violation;

/// What the checker saw while exploring, about once a second.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// States generated (with repeats).
    pub states: usize,
    /// Distinct states.
    pub unique_states: usize,
    /// The BFS level being expanded.
    pub depth: usize,
    /// Time since the start.
    pub elapsed: Duration,
    /// Resident memory of the process, if known.
    pub memory: Option<u64>,
    /// The first safety violation found so far, and the BFS depth of its state (the shortest there is).
    pub first_violation: Option<(&'static str, usize)>,
}

/// Limits on an exploration; `None` means unbounded. However it stops, what was found is kept.
#[derive(Clone, Debug, Default)]
pub struct Bounds {
    /// Stop after this much time.
    pub max_time: Option<Duration>,
    /// Stop once this is set (e.g. by Ctrl-C).
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Stop after this many distinct states.
    pub max_states: Option<usize>,
    /// Stop after this BFS depth.
    pub max_depth: Option<usize>,
}

/// The explored state graph.
#[derive(Default)]
pub struct Graph {
    fingerprints: Vec<u64>,
    parents: Vec<StateId>,
    /// Where each expanded state's edges start in `targets`/`classes`; one more entry than expanded states.
    edge_start: Vec<u32>,
    targets: Vec<StateId>,
    classes: Vec<u16>,
    /// States with no actions (quiescent, or stopped by a violation).
    terminal: Vec<bool>,
}

impl Graph {
    /// Distinct states.
    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }
    /// Whether the graph is empty.
    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty()
    }
    /// How many states have been expanded (their edges are known).
    pub fn expanded(&self) -> usize {
        self.edge_start.len().saturating_sub(1)
    }
    /// The outgoing edges of an expanded state: (target, fairness class).
    pub fn edges(&self, id: StateId) -> impl Iterator<Item = (StateId, u16)> + '_ {
        let (from, to) = (self.edge_start[id as usize] as usize, self.edge_start[id as usize + 1] as usize);
        self.targets[from..to].iter().copied().zip(self.classes[from..to].iter().copied())
    }
    /// Whether a state has no actions.
    pub fn is_terminal(&self, id: StateId) -> bool {
        self.terminal.get(id as usize).copied().unwrap_or(false)
    }
    /// The BFS path of states from the initial state to `id`.
    pub fn path_to(&self, id: StateId) -> Vec<StateId> {
        let mut path = vec![id];
        let mut at = id;
        while at != 0 {
            at = self.parents[at as usize];
            path.push(at);
        }
        path.reverse();
        path
    }
    /// The fingerprint of a state.
    pub fn fingerprint(&self, id: StateId) -> u64 {
        self.fingerprints[id as usize]
    }
    /// Bytes the graph holds.
    pub fn bytes(&self) -> usize {
        self.fingerprints.capacity() * 8
            + self.parents.capacity() * 4
            + self.edge_start.capacity() * 4
            + self.targets.capacity() * 4
            + self.classes.capacity() * 2
            + self.terminal.capacity()
    }
}

/// What one state leads to, computed on a worker thread.
struct Expansion {
    successors: Vec<Successor>,
    terminal: bool,
    found: Option<Found>,
}

/// One edge out of an expanded state: the target's fingerprint, the action's fairness class, and the
/// target — its number if it was already known when the batch started (the worker drops the state), else
/// the state itself.
struct Successor {
    fingerprint: u64,
    class: u16,
    target: Result<StateId, State>,
}

/// What a worker found in a state, before the state has its number.
enum Found {
    Unsafe(Violation),
    GoalFails(Vec<Violation>),
    Settled,
}

impl Found {
    fn at(self, id: StateId) -> Finding {
        match self {
            Found::Unsafe(violation) => Finding::Unsafe(id, violation),
            Found::GoalFails(goals) => Finding::GoalFails(id, goals),
            Found::Settled => Finding::Settled(id),
        }
    }
}

/// Something found in a state while exploring.
pub enum Finding {
    /// The state records a violation of a safety property, with what was wrong.
    Unsafe(StateId, Violation),
    /// The state is quiescent and these goals fail in it.
    GoalFails(StateId, Vec<Violation>),
    /// The state is quiescent and every goal holds.
    Settled(StateId),
}

/// The result of an exploration.
pub struct Exploration {
    /// The state graph.
    pub graph: Graph,
    /// States generated (with repeats).
    pub states: usize,
    /// The deepest BFS level reached.
    pub depth: usize,
    /// Whether every reachable state was expanded.
    pub complete: bool,
    /// What was found, in BFS order.
    pub findings: Vec<Finding>,
}

/// Explores every state reachable in `model` breadth-first.
pub fn explore(model: &ClusterModel, threads: usize, bounds: Bounds, progress: impl FnMut(Progress)) -> Exploration {
    let index = RwLock::new(Index::default());
    std::thread::scope(|scope| {
        let pool = Pool::start(scope, model, &index, threads);
        explore_with(model, &pool, &index, bounds, progress)
    })
}

fn explore_with(
    model: &ClusterModel,
    pool: &Pool,
    index: &RwLock<Index>,
    bounds: Bounds,
    mut progress: impl FnMut(Progress),
) -> Exploration {
    let start = Instant::now();
    let mut last_report = Duration::ZERO;
    let mut graph = Graph::default();
    let mut findings = Vec::new();
    let mut states = 0usize;
    let batch_size = 512 * pool.threads();
    let mut level = Level::new(batch_size);
    let mut index_guard = write(index);
    for init in model.init_states() {
        if index_guard.insert(model.summaries.fingerprint(&init)).1 {
            graph.parents.push(0);
            level.push(init);
            states += 1;
        }
    }
    drop(index_guard);
    graph.edge_start.push(0);
    let mut depth = 0;
    let mut complete = true;
    let mut first_violation = None;
    while !level.is_empty() {
        if bounds.max_depth.is_some_and(|d| depth >= d) {
            complete = false;
            break;
        }
        let mut next_level = Level::new(batch_size);
        let mut first_id = graph.expanded() as StateId;
        for batch in std::mem::replace(&mut level, Level::new(batch_size)).into_batches() {
            let batch_len = batch.len();
            let expansions = pool.expand(model, batch, index);
            let mut index = write(index);
            for (offset, expansion) in expansions.into_iter().enumerate() {
                let id = first_id + offset as StateId;
                graph.terminal.push(expansion.terminal);
                findings.extend(expansion.found.map(|found| found.at(id)));
                for Successor { fingerprint: fp, class, target } in expansion.successors {
                    states += 1;
                    let target = match target {
                        Ok(known) => known,
                        Err(next) => {
                            let (target, new) = index.insert(fp);
                            if new {
                                graph.parents.push(id);
                                next_level.push(next);
                            }
                            target
                        }
                    };
                    graph.targets.push(target);
                    graph.classes.push(class);
                }
                graph.edge_start.push(graph.targets.len() as u32);
            }
            drop(index);
            first_id += batch_len as StateId;
            if start.elapsed() - last_report >= Duration::from_secs(1) {
                last_report = start.elapsed();
                progress(Progress {
                    states,
                    unique_states: graph.parents.len(),
                    depth,
                    elapsed: last_report,
                    memory: resident_memory(),
                    first_violation,
                });
            }
            if first_violation.is_none() {
                first_violation = findings.iter().find_map(|f| match f {
                    Finding::Unsafe(_, v) => Some((v.property, depth)),
                    _ => None,
                });
                if first_violation.is_some() {
                    // Reported at once: a run stopped later still shows it.
                    progress(Progress {
                        states,
                        unique_states: graph.parents.len(),
                        depth,
                        elapsed: start.elapsed(),
                        memory: resident_memory(),
                        first_violation,
                    });
                }
            }
            let out_of_time = bounds.max_time.is_some_and(|t| start.elapsed() >= t);
            let stopped = bounds.stop.as_ref().is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed));
            if bounds.max_states.is_some_and(|m| graph.parents.len() >= m) || out_of_time || stopped {
                complete = false;
                next_level = Level::new(batch_size);
                break;
            }
        }
        level = next_level;
        if !level.is_empty() {
            depth += 1;
        }
    }
    graph.fingerprints = std::mem::take(&mut *write(index)).into_fingerprints();
    Exploration { graph, states, depth, complete, findings }
}

/// The states of one BFS level, in chunks of one batch: a level grows without copying or over-allocating
/// more than one chunk, and each chunk's memory goes as soon as its batch is expanded, so the level being
/// expanded shrinks while the next one grows. (A level is often a third of all states, and a state 72
/// bytes: one vector would hold the whole level being expanded until its end, and up to twice the next.)
struct Level {
    chunks: Vec<Vec<State>>,
    chunk: usize,
}

impl Level {
    fn new(chunk: usize) -> Self {
        Self { chunks: Vec::new(), chunk }
    }

    fn push(&mut self, state: State) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < self.chunk => last.push(state),
            _ => {
                let mut fresh = Vec::with_capacity(self.chunk);
                fresh.push(state);
                self.chunks.push(fresh);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The chunks, in order, each a batch to expand.
    fn into_batches(self) -> impl Iterator<Item = Vec<State>> {
        self.chunks.into_iter()
    }
}

fn classify(model: &ClusterModel, state: &State, terminal: bool) -> Option<Found> {
    if let Some(violation) = &state.violation {
        Some(Found::Unsafe(violation.as_ref().clone()))
    } else if terminal {
        let failed = model.failed_goals(state);
        Some(if failed.is_empty() { Found::Settled } else { Found::GoalFails(failed) })
    } else {
        None
    }
}

/// Worker threads that live for one exploration and expand batches of states. Each owns its share of a
/// batch, so the states are dropped in parallel, and drops successors already in the index (read-locked
/// while workers run; the serial merge write-locks it between batches), so the merge handles only new
/// fingerprints.
struct Pool {
    jobs: Vec<mpsc::Sender<Vec<State>>>,
    results: Vec<mpsc::Receiver<Vec<Expansion>>>,
}

impl Pool {
    /// Starts `threads` workers in `scope` (none for one thread: the caller expands).
    fn start<'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        model: &'scope ClusterModel,
        index: &'scope RwLock<Index>,
        threads: usize,
    ) -> Self {
        let mut pool = Pool { jobs: Vec::new(), results: Vec::new() };
        let workers = if threads > 1 { threads } else { 0 };
        for _ in 0..workers {
            let (job_tx, job_rx) = mpsc::channel::<Vec<State>>();
            let (result_tx, result_rx) = mpsc::channel();
            scope.spawn(move || {
                while let Ok(share) = job_rx.recv() {
                    let index = index.read().unwrap_or_else(PoisonError::into_inner);
                    let expanded: Vec<Expansion> = share.into_iter().map(|s| expand(model, s, &index)).collect();
                    drop(index);
                    if result_tx.send(expanded).is_err() {
                        break;
                    }
                }
                model.steps.release_mine();
                model.summaries.release_mine();
            });
            pool.jobs.push(job_tx);
            pool.results.push(result_rx);
        }
        pool
    }

    fn threads(&self) -> usize {
        self.jobs.len().max(1)
    }

    /// Expands a batch, its states' expansions in order.
    fn expand(&self, model: &ClusterModel, states: Vec<State>, index: &RwLock<Index>) -> Vec<Expansion> {
        if self.jobs.is_empty() || states.len() < 64 {
            let index = index.read().unwrap_or_else(PoisonError::into_inner);
            return states.into_iter().map(|s| expand(model, s, &index)).collect();
        }
        let share_len = states.len().div_ceil(self.jobs.len());
        let mut states = states.into_iter();
        let mut sent = 0;
        for job in &self.jobs {
            let share: Vec<State> = states.by_ref().take(share_len).collect();
            if share.is_empty() || job.send(share).is_err() {
                break;
            }
            sent += 1;
        }
        // A worker that panicked closed its channel; its panic resurfaces when the scope joins it.
        self.results[..sent].iter().flat_map(|r| r.recv().expect("a worker thread panicked")).collect()
    }
}

fn write(index: &RwLock<Index>) -> std::sync::RwLockWriteGuard<'_, Index> {
    index.write().unwrap_or_else(PoisonError::into_inner)
}

fn expand(model: &ClusterModel, state: State, index: &Index) -> Expansion {
    let mut only_time_passes = true;
    let successors: Vec<Successor> = model
        .successors(&state)
        .into_iter()
        .map(|(action, next)| {
            only_time_passes &= matches!(action, Action::Tick(_));
            let fingerprint = model.summaries.fingerprint(&next);
            let target = index.get(fingerprint).ok_or(next);
            Successor { fingerprint, class: model.fairness_class(&action), target }
        })
        .collect();
    // Quiescent: nothing can happen, or nothing but time passing to a state that is this one again (a
    // CronJob that waits for its next schedule and then has nothing to do is as settled as a system can be).
    let terminal = if successors.is_empty() {
        model.is_quiescent(&state)
    } else {
        only_time_passes && {
            let own = model.summaries.fingerprint(&state);
            successors.iter().all(|s| s.fingerprint == own)
        }
    };
    Expansion { terminal, found: classify(model, &state, terminal), successors }
}

/// The action that leads from `from` to the state with fingerprint `to`, and that state.
pub fn step_to(model: &ClusterModel, from: &State, to: u64) -> Option<(Action, State)> {
    let mut actions = Vec::new();
    model.actions(from, &mut actions);
    actions.into_iter().find_map(|a| {
        let next = model.next_state(from, a.clone())?;
        (model.summaries.fingerprint(&next) == to).then_some((a, next))
    })
}

/// Resident memory of this process (Linux `VmRSS`).
pub fn resident_memory() -> Option<u64> {
    proc_status_kib("VmRSS:").map(|k| k * 1024)
}

/// Peak resident memory of this process (Linux `VmHWM`).
pub fn peak_memory() -> Option<u64> {
    proc_status_kib("VmHWM:").map(|k| k * 1024)
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
