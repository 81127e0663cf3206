//! The model: the datastore, the actors reading what their consistency model allows, the environment,
//! and the properties, as a stateright [`Model`].
//!
//! The datastore is the latest [`ApiState`] plus one lagging API-server watch cache; every actor has its
//! own cache (per kind, or one snapshot) that catches up through explicit actions, so every interleaving
//! of reads, writes and catch-ups is explored. Writes go through the shared `apply()` against the latest
//! revision. Step properties are evaluated in `next_state` and a violation is recorded in the state.

use crate::canonical::Summaries;
use crate::consistency::{Consistency, Reads, Relist, Staleness};
use crate::intern::Interner;
use crate::memo::{KnownStep, StepInputs, Steps, Taken};
pub use crate::state::{Action, ActorState, Cache, Fault, State, UserDone};
use stateright::{Model, Property as StaterightProperty};
use std::sync::Arc;
use themelios_api::{apply, ApiError, ApiState, ApplyContext, Change, Kind, Op, Reason, StateRead, Time, Write};
use themelios_controllers::framework::{
    decide, first_safety_violation, unmet_goals, wasted_write, AnyController, ClusterView, Deadlines, DynLocal,
    Outcome, Profile, Property, PropertyKind, Role, Step, TimeUse, Violation, NO_WASTED_WRITES,
};

/// The request a user operation makes against the latest state at a time (none if it does not apply
/// any more).
pub type Request = Box<dyn Fn(&ApiState, Time) -> Option<Op> + Send + Sync>;

/// A user operation: a name and the request it makes against the latest state.
pub struct UserOp {
    /// What it is, for counterexamples.
    pub name: String,
    /// The request.
    pub request: Request,
}

/// A property over the whole model state (e.g. over what kubelets run), beside the controllers' own.
pub type ModelCheck = fn(&ClusterModel, &State) -> Result<(), String>;

/// What a set of controllers together can tell about time.
pub fn time_use_of(profiles: &[Profile]) -> TimeUse {
    profiles.iter().fold(TimeUse::Relative { longest_seconds: 0 }, |all, p| all.and(p.time_use))
}

/// The model of one scenario under one assignment of consistency models.
pub struct ClusterModel {
    /// The actors' controllers.
    pub controllers: Vec<Arc<dyn AnyController>>,
    /// Their profiles, in the same order.
    pub profiles: Vec<Profile>,
    /// Each actor's consistency model.
    pub consistency: Vec<Consistency>,
    /// The initial state.
    pub init: State,
    /// The environment's operations.
    pub user_ops: Vec<UserOp>,
    /// The controllers' properties.
    pub properties: Vec<Property>,
    /// Properties over the model state.
    pub model_checks: Vec<(&'static str, ModelCheck)>,
    /// One copy of each object version, memory, kind map, cache and actor state that states hold.
    pub interner: Interner,
    /// Each actor's step from each distinct input, computed once.
    pub steps: Steps,
    /// The fingerprint summaries of the parts states are made of.
    pub summaries: Summaries,
    /// How long a cache may miss a write.
    pub staleness: Staleness,
}

impl ClusterModel {
    /// What the actors together can tell about time (see [`TimeUse`]): the fingerprint forgets the rest.
    pub fn time_use(&self) -> TimeUse {
        time_use_of(&self.profiles)
    }

    /// Drops what exploring keeps only to go faster — memoised steps, summaries, shared copies — once an
    /// exploration is over, so that deciding liveness on its graph does not hold them too. The model
    /// works as before afterwards (and fills them again).
    pub fn release_exploration_caches(&self) {
        self.steps.release();
        self.summaries.release_mine();
        self.interner.release();
    }

    fn view<'a>(&self, state: &'a State, actor: usize) -> ClusterView<'a> {
        match &state.actors[actor].cache {
            // Kinds the actor does not watch are never read; serve them from the latest state.
            Some(cache) => ClusterView::per_kind(
                |k| cache.of_kind(k).unwrap_or((state.store.objects().of_kind(k), state.store.revision())),
                state.now,
            ),
            None => ClusterView::new(state.store.objects(), state.store.revision(), state.now),
        }
    }

    /// The newest revision among the caches an actor reads (the latest one for a linearizable actor).
    fn read_revision(&self, state: &State, actor: usize) -> u64 {
        let view = self.view(state, actor);
        Kind::ALL.iter().filter(|k| self.watches(actor, **k)).map(|k| view.revision_of(*k)).max().unwrap_or(0)
    }

    /// Whether an actor's informers watch a kind (see `Profile::reads`).
    fn watches(&self, actor: usize, kind: Kind) -> bool {
        self.profiles[actor].watches(kind)
    }

    /// What an actor would do now, reading the lagging cache if `lagging`.
    fn attempt_from(&self, state: &State, actor: usize, lagging: bool) -> Attempt {
        let a = &state.actors[actor];
        if self.consistency[actor].read_your_writes
            && a.cache.as_ref().is_some_and(|c| !c.has_seen(a.last_write, &state.store))
        {
            return Attempt { step: Step::default(), local: a.local.clone_box() };
        }
        let view = if lagging {
            ClusterView::new(state.lagging.objects(), state.lagging.revision(), state.now)
        } else {
            self.view(state, actor)
        };
        let mut local = a.local.clone_box();
        let step = decide(self.controllers[actor].as_ref(), &view, local.as_mut());
        Attempt { step, local }
    }

    /// Applies an actor's request to the latest state with the shared `apply()` and commits it: the
    /// response, and the revision written if anything was.
    fn write(&self, state: &mut State, actor: usize, op: &Op) -> (Outcome, Option<u64>) {
        let (response, wrote) = self.apply_request(&mut state.store, state.now, op);
        self.record_write(state, actor, wrote);
        (response, wrote)
    }

    /// Applies a request to `store` with the shared `apply()` and commits it: the response, and the
    /// revision written if the request changed anything.
    fn apply_request(&self, store: &mut ApiState, now: Time, op: &Op) -> (Outcome, Option<u64>) {
        match apply(&*store, op, &ApplyContext { now }) {
            Ok(change) => {
                let change = self.commit(store, change);
                (Ok(change.response), (!change.writes.is_empty()).then_some(change.revision))
            }
            Err(e) => (Err(e), None),
        }
    }

    /// Records the revision an actor wrote, for read-your-writes only: recorded for others, it would tell
    /// apart states that behave alike.
    fn record_write(&self, state: &mut State, actor: usize, wrote: Option<u64>) {
        if let (Some(revision), true) = (wrote, self.consistency[actor].read_your_writes) {
            state.actor_mut(actor).last_write = revision;
        }
    }

    /// Commits a change computed by `apply()`, keeping one copy of each object version and kind map (see
    /// [`crate::intern`]).
    fn commit(&self, store: &mut ApiState, mut change: Change) -> Change {
        for write in &mut change.writes {
            if let Write::Put(object) = write {
                *object = self.interner.object(object.clone());
            }
        }
        change.response = self.interner.object(change.response);
        let _ = store.commit(&change);
        for write in &change.writes {
            let kind = write.object().object().kind();
            let shared = self.interner.map(store.objects().of_kind(kind));
            store.share_kind(kind, &shared);
        }
        let shared = self.interner.objects(store.objects());
        store.share_objects(&shared);
        change
    }

    fn check(&self, before: &State, after: &State, actor: &str) -> Option<Violation> {
        self.safety_violation(&before.store, &after.store, after.now, actor)
            .or_else(|| self.model_violation(after).map(|b| *b))
    }

    /// The first controller safety property a change of the latest state violates.
    fn safety_violation(&self, before: &ApiState, after: &ApiState, now: Time, actor: &str) -> Option<Violation> {
        let old = ClusterView::new(before.objects(), before.revision(), now);
        let new = ClusterView::new(after.objects(), after.revision(), now);
        first_safety_violation(&self.properties, actor, &old, &new)
    }

    /// The first property over the model state (not only the API's) that a state violates.
    fn model_violation(&self, state: &State) -> Option<Box<Violation>> {
        self.model_checks.iter().find_map(|(name, f)| f(self, state).err().map(|d| Box::new(Violation::new(name, d))))
    }

    /// Whether any actor may read the lagging API server's cache: one that reads any retained revision,
    /// or one that relists from it after a restart it may still suffer.
    pub fn reads_lagging_cache(&self) -> bool {
        self.consistency
            .iter()
            .zip(self.init.actors.iter())
            .any(|(c, a)| c.reads == Reads::Any || (c.relist == Relist::LaggingCache && a.restarts_left > 0))
    }

    /// Whether the staleness bound lets time move: always when unbounded; below timers, only when no
    /// actor's cache, nor the lagging API server actors may read, misses a write.
    fn caches_let_time_move(&self, state: &State) -> bool {
        match self.staleness {
            Staleness::Unbounded => true,
            Staleness::BelowTimers => {
                let lagging = self.reads_lagging_cache() && state.lagging != state.store;
                // A stopped actor's caches stay where they were, for good: they do not hold time back.
                !lagging
                    && state
                        .actors
                        .iter()
                        .all(|a| !a.running || a.cache.as_ref().is_none_or(|c| c.is_current(&state.store)))
            }
        }
    }

    /// Whether no actor has a step, no cache lags, nothing is scheduled and the environment is done.
    pub fn is_quiescent(&self, state: &State) -> bool {
        let mut actions = Vec::new();
        self.actions(state, &mut actions);
        actions.is_empty()
    }

    /// The first goal that does not hold in a state.
    pub fn failed_goal(&self, state: &State) -> Option<Violation> {
        self.failed_goals(state).into_iter().next()
    }

    /// Every goal that does not hold in a state, with what is wrong.
    pub fn failed_goals(&self, state: &State) -> Vec<Violation> {
        unmet_goals(&self.properties, &ClusterView::new(state.store.objects(), state.store.revision(), state.now))
    }

    /// The fairness class of an action (see [`crate::liveness`]): each actor's steps, each cache's
    /// catch-ups and time passing are owed fairness; the environment's actions are not.
    pub fn fairness_class(&self, action: &Action) -> u16 {
        let n = self.controllers.len();
        let class = match action {
            Action::Step(i) | Action::StepLagging(i) => *i,
            Action::CatchUp(i, kind) => n + i * Kind::ALL.len() + kind.index(),
            Action::LaggingCatchUp => n + n * Kind::ALL.len(),
            Action::Tick(_) => n + n * Kind::ALL.len() + 1,
            Action::Restart(_) | Action::Stop(_) | Action::Join(_) | Action::User(_) | Action::Fault(..) => {
                return crate::state::UNCONSTRAINED
            }
        };
        u16::try_from(class).unwrap_or(crate::state::UNCONSTRAINED - 1)
    }

    /// The names of the safety properties checked in every state, the one every controller answers to
    /// (checked on each write) included.
    pub fn safety_property_names(&self) -> Vec<&'static str> {
        self.properties
            .iter()
            .filter(|p| p.kind == PropertyKind::Safety)
            .map(|p| p.name)
            .chain(self.model_checks.iter().map(|(name, _)| *name))
            .chain(std::iter::once(NO_WASTED_WRITES))
            .collect()
    }

    /// The names of the goals checked in every quiescent state.
    pub fn goal_names(&self) -> Vec<&'static str> {
        self.properties.iter().filter(|p| p.kind == PropertyKind::Goal).map(|p| p.name).collect()
    }

    /// The account of a step that sent `op` and came to `outcome`.
    fn step_account(&self, state: &State, actor: usize, lagging: bool, op: &Op, outcome: String) -> Account {
        let read = if lagging { state.lagging.revision() } else { self.read_revision(state, actor) };
        let request = if lagging { format!("{op} (read from the lagging cache)") } else { op.to_string() };
        Account { actor: self.controllers[actor].name(), read: Some(read), request, outcome }
    }

    /// The account of an action that sends no request: a cache catching up, a restart, the user, the clock.
    fn account_of_environment(&self, state: &State, action: &Action) -> Option<Account> {
        let (actor, request, outcome) = match action {
            Action::CatchUp(i, kind) => (
                self.controllers[*i].name(),
                format!("its cache of {} catches up", kind.plural()),
                format!("now at rv{}", state.store.revision()),
            ),
            Action::LaggingCatchUp => (
                "lagging API server".to_string(),
                "its watch cache catches up".to_string(),
                format!("now at rv{}", state.store.revision()),
            ),
            Action::Restart(i) => {
                let from = match self.consistency[*i].relist {
                    Relist::LaggingCache => format!("lists from the lagging cache at rv{}", state.lagging.revision()),
                    Relist::Latest => format!("lists the latest rv{}", state.store.revision()),
                    Relist::Own => "keeps its snapshot".to_string(),
                };
                (self.controllers[*i].name(), "crashes and restarts".to_string(), from)
            }
            Action::Stop(i) => {
                let what = match self.profiles[*i].role {
                    Role::NodeAgent { .. } => "stops for good: its node stops heartbeating",
                    _ => "stops for good",
                };
                (self.controllers[*i].name(), what.to_string(), String::new())
            }
            Action::Join(i) => {
                let what = match self.profiles[*i].role {
                    Role::NodeAgent { .. } => "starts: its node joins the cluster",
                    _ => "starts",
                };
                (
                    self.controllers[*i].name(),
                    what.to_string(),
                    format!("lists the latest rv{}", state.store.revision()),
                )
            }
            Action::User(u) => ("user".to_string(), self.user_ops[*u].name.clone(), String::new()),
            Action::Tick(t) => {
                ("clock".to_string(), format!("time passes to t={}s", t.seconds_since(Time::EPOCH)), String::new())
            }
            // A step's account is the transition's own (see `transition_told`).
            Action::Step(_) | Action::StepLagging(_) | Action::Fault(..) => return None,
        };
        Some(Account { actor, read: None, request, outcome })
    }

    /// A one-line account of an action from a state, for counterexamples.
    pub fn describe(&self, state: &State, action: &Action) -> String {
        match self.narrated(state, action.clone()) {
            Some((_, account)) => account.to_string(),
            None => format!("{action:?} (not enabled)"),
        }
    }

    /// Calls `with` on an actor's step from a state (from the lagging API server's cache if `lagging`),
    /// computed once per distinct input (see [`crate::memo`]).
    fn with_step<R>(&self, state: &State, actor: usize, lagging: bool, with: impl FnOnce(&KnownStep) -> R) -> R {
        let a = &state.actors[actor];
        let inputs = StepInputs {
            actor,
            local: &a.local,
            cache: a.cache.as_ref(),
            store: &state.store,
            lagging: lagging.then_some(&state.lagging),
            now: state.now,
            last_write: a.last_write,
        };
        let attempt = || {
            let Attempt { step, local } = self.attempt_from(state, actor, lagging);
            (step, local)
        };
        self.steps.with(&inputs, attempt, with)
    }

    /// What an actor decides from its own view in a state: whether it has a request, and its wake-up and
    /// heartbeat (see [`Deadlines`]).
    pub fn decision(&self, state: &State, actor: usize) -> (bool, Option<Time>, Option<Time>) {
        self.with_step(state, actor, false, |s| (s.requests, s.wake, s.heartbeat))
    }

    /// What taking a step leads to: the write applied to the latest state, the response shown to the
    /// actor, and the controller properties checked across the write.
    fn take(&self, state: &State, actor: usize, op: Op, local: Box<dyn DynLocal>) -> Taken {
        self.take_answered(state, actor, op, local).0
    }

    /// [`ClusterModel::take`], with the response the actor got.
    fn take_answered(&self, state: &State, actor: usize, op: Op, mut local: Box<dyn DynLocal>) -> (Taken, Outcome) {
        let mut store = state.store.clone();
        let (response, wrote) = self.apply_request(&mut store, state.now, &op);
        let wasted = wasted_write(&op, response.is_ok(), wrote.is_some()).map(Box::new);
        self.controllers[actor].observe(&op, &response, state.now, local.as_mut());
        let name = self.controllers[actor].name();
        let violation = wasted.or_else(|| self.safety_violation(&state.store, &store, state.now, &name).map(Box::new));
        (Taken { store, wrote, local: self.interner.local(local), violation }, response)
    }

    /// Pushes the actions enabled in a state.
    fn enabled(&self, state: &State, actions: &mut Vec<Action>) {
        if state.violation.is_some() {
            return;
        }
        let mut stepping = false;
        let mut deadlines = Deadlines::default();
        for i in 0..self.controllers.len() {
            if !state.actors[i].running {
                if state.actors[i].joins_left > 0 {
                    actions.push(Action::Join(i));
                }
                continue;
            }
            if state.actors[i].stops_left > 0 {
                actions.push(Action::Stop(i));
            }
            let (requests, wake, heartbeat) = self.decision(state, i);
            if requests {
                actions.push(Action::Step(i));
                stepping = true;
                if state.actors[i].conflicts_left > 0 {
                    actions.push(Action::Fault(i, Fault::Conflict));
                }
                if state.actors[i].timeouts_left > 0 {
                    actions.push(Action::Fault(i, Fault::Timeout));
                }
            }
            if self.consistency[i].reads == Reads::Any
                && state.lagging != state.store
                && self.with_step(state, i, true, |s| s.requests)
            {
                actions.push(Action::StepLagging(i));
            }
            deadlines.add_timers(wake, heartbeat);
            if let Some(cache) = &state.actors[i].cache {
                let behind = cache.behind(&state.store);
                match self.consistency[i].reads {
                    // One snapshot moves as a whole: one action, whichever kinds differ.
                    Reads::Session => actions.extend(behind.take(1).map(|k| Action::CatchUp(i, k))),
                    _ => actions.extend(behind.map(|k| Action::CatchUp(i, k))),
                }
            }
            if state.actors[i].restarts_left > 0 {
                actions.push(Action::Restart(i));
            }
        }
        if self.reads_lagging_cache() && state.lagging != state.store {
            actions.push(Action::LaggingCatchUp);
        }
        // A user operation is enabled while it applies (a pod to finish exists, say).
        for u in 0..self.user_ops.len() {
            if !state.user_done.has(u) && (self.user_ops[u].request)(&state.store, state.now).is_some() {
                actions.push(Action::User(u));
            }
        }
        if !stepping && self.caches_let_time_move(state) {
            if let Some(at) = deadlines.next_time() {
                actions.push(Action::Tick(at));
            }
        }
    }

    /// Every action enabled in a state with the state it leads to.
    pub fn successors(&self, state: &State) -> Vec<(Action, State)> {
        let mut actions = Vec::new();
        self.enabled(state, &mut actions);
        actions.into_iter().filter_map(|action| Some((action.clone(), self.transition(state, action)?))).collect()
    }

    /// The state an action leads to.
    fn transition(&self, state: &State, action: Action) -> Option<State> {
        self.transition_told(state, action, None)
    }

    /// The state an action leads to, and an account of it for counterexamples — the request an actor sent
    /// and the response it got, as this very transition made them (not recomputed beside it).
    pub fn narrated(&self, state: &State, action: Action) -> Option<(State, Account)> {
        let mut account = None;
        let next = self.transition_told(state, action, Some(&mut account))?;
        Some((next, account?))
    }

    /// The state an action leads to; when `told` is given, what happened is recorded in it.
    fn transition_told(&self, state: &State, action: Action, mut told: Option<&mut Option<Account>>) -> Option<State> {
        let mut next = state.clone();
        let narrating = told.is_some();
        let original = narrating.then(|| action.clone());
        match action {
            Action::Step(i) | Action::StepLagging(i) => {
                let lagging = matches!(action, Action::StepLagging(_));
                let taken = match told.as_deref_mut() {
                    // Narrating a counterexample: step afresh, to see the request and the response.
                    Some(account) => {
                        let Attempt { step, local } = self.attempt_from(state, i, lagging);
                        let op = step.op?;
                        let (taken, response) = self.take_answered(state, i, op.clone(), local);
                        let outcome = answered(&response, taken.wrote);
                        *account = Some(self.step_account(state, i, lagging, &op, outcome));
                        taken
                    }
                    None => self.with_step(state, i, lagging, |s| {
                        s.taken(|op, local| self.take(state, i, op, local)).cloned()
                    })?,
                };
                next.store = taken.store;
                self.record_write(&mut next, i, taken.wrote);
                next.actor_mut(i).local = taken.local;
                next.violation = taken.violation.or_else(|| self.model_violation(&next));
            }
            Action::Fault(i, fault) => {
                let Attempt { step, mut local } = self.attempt_from(state, i, false);
                let op = step.op?;
                let (response, wrote) = match fault {
                    Fault::Conflict => {
                        next.actor_mut(i).conflicts_left -= 1;
                        let target = op.target();
                        (Err(ApiError::stale(target.kind, &target.name.name)), None)
                    }
                    Fault::Timeout => {
                        next.actor_mut(i).timeouts_left -= 1;
                        let (_, wrote) = self.write(&mut next, i, &op);
                        let timeout = ApiError::new(
                            Reason::Timeout,
                            "the server was unable to return a response in the time allotted, but may still be processing the request",
                        );
                        (Err(timeout), wrote)
                    }
                };
                if let Some(account) = told.as_deref_mut() {
                    let outcome = match (fault, wrote) {
                        (Fault::Conflict, _) => "Conflict (injected; nothing written)".to_string(),
                        (Fault::Timeout, Some(revision)) => format!("Timeout (injected), but written at rv {revision}"),
                        (Fault::Timeout, None) => "Timeout (injected)".to_string(),
                    };
                    *account = Some(self.step_account(state, i, false, &op, outcome));
                }
                self.controllers[i].observe(&op, &response, state.now, local.as_mut());
                next.actor_mut(i).local = self.interner.local(local);
                next.violation = self.check(state, &next, &self.controllers[i].name()).map(Box::new);
            }
            Action::CatchUp(i, kind) => {
                let cache = Arc::make_mut(next.actor_mut(i).cache.as_mut()?);
                match self.consistency[i].reads {
                    Reads::PerKind | Reads::Any => cache.catch_up(kind, &state.store),
                    Reads::Session | Reads::Latest => *cache = Cache::of(&state.store, &self.profiles[i]),
                }
            }
            Action::LaggingCatchUp => next.lagging = state.store.clone(),
            Action::Restart(i) => {
                let actor = next.actor_mut(i);
                actor.restarts_left -= 1;
                actor.local = self.interner.local(self.controllers[i].fresh_local());
                actor.last_write = 0;
                let watched = &self.profiles[i];
                match self.consistency[i].relist {
                    Relist::Latest => {
                        actor.cache = actor.cache.as_ref().map(|_| Arc::new(Cache::of(&state.store, watched)))
                    }
                    Relist::LaggingCache => actor.cache = Some(Arc::new(Cache::of(&state.lagging, watched))),
                    Relist::Own => {}
                }
                next.violation = self.check(state, &next, &self.controllers[i].name()).map(Box::new);
            }
            Action::Stop(i) => {
                let actor = next.actor_mut(i);
                actor.stops_left -= 1;
                actor.running = false;
            }
            Action::Join(i) => {
                let watched = &self.profiles[i];
                let actor = next.actor_mut(i);
                actor.joins_left -= 1;
                actor.running = true;
                actor.cache = actor.cache.as_ref().map(|_| Arc::new(Cache::of(&state.store, watched)));
            }
            Action::User(u) => {
                next.user_done.mark(u);
                if let Some(op) = (self.user_ops[u].request)(&state.store, state.now) {
                    if let Ok(change) = apply(&state.store, &op, &ApplyContext { now: state.now }) {
                        self.commit(&mut next.store, change);
                    }
                }
            }
            Action::Tick(at) => next.now = at,
        }
        if !self.reads_lagging_cache() {
            // Nobody will ever read it: keeping it behind would only multiply states.
            next.lagging = next.store.clone();
        }
        for i in 0..next.actors.len() {
            if Arc::ptr_eq(&next.actors[i], &state.actors[i]) {
                continue;
            }
            if let (Some(new), Some(old)) = (&next.actors[i].cache, &state.actors[i].cache) {
                if !Arc::ptr_eq(new, old) {
                    let shared = self.interner.cache(new);
                    next.actor_mut(i).cache = Some(shared);
                }
            }
            let shared = self.interner.actor(&next.actors[i]);
            Arc::make_mut(&mut next.actors)[i] = shared;
        }
        if let (Some(account), Some(action)) = (told, original) {
            if account.is_none() {
                *account = self.account_of_environment(state, &action);
            }
        }
        Some(next)
    }
}

/// What an actor would do from a state: what it decides, and its memory after the step.
struct Attempt {
    step: Step,
    local: Box<dyn DynLocal>,
}

/// What a response came to, in a counterexample's words.
fn answered(response: &Outcome, wrote: Option<u64>) -> String {
    match (response, wrote) {
        (Ok(_), Some(revision)) => format!("ok, rv {revision}"),
        (Ok(_), None) => "ok (no change)".to_string(),
        (Err(e), _) => format!("{}: {}", e.reason.as_str(), e.message),
    }
}

/// What happened in one step: who acted, the revision it read, its request and the outcome.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Account {
    /// The actor (a controller's name, `user`, `clock`, or a cache).
    pub actor: String,
    /// The revision of the view the actor read, for a controller's step.
    pub read: Option<u64>,
    /// What it did or asked.
    pub request: String,
    /// What came of it.
    pub outcome: String,
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.actor)?;
        if let Some(read) = self.read {
            write!(f, " @rv{read}")?;
        }
        write!(f, ": {}", self.request)?;
        if !self.outcome.is_empty() {
            write!(f, " -> {}", self.outcome)?;
        }
        Ok(())
    }
}

impl Model for ClusterModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        vec![self.init.clone()]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        self.enabled(state, actions);
    }

    fn next_state(&self, state: &State, action: Action) -> Option<State> {
        self.transition(state, action)
    }

    fn format_step(&self, last_state: &State, action: Action) -> Option<String> {
        Some(self.describe(last_state, &action))
    }

    fn properties(&self) -> Vec<StaterightProperty<Self>> {
        vec![
            StaterightProperty::always("every safety property holds", |_, s: &State| s.violation.is_none()),
            StaterightProperty::always("every quiescent state meets every goal", |m: &ClusterModel, s: &State| {
                s.violation.is_some() || !m.is_quiescent(s) || m.failed_goal(s).is_none()
            }),
        ]
    }
}

/// Builds the initial cache for an actor under a consistency model.
pub fn initial_cache(consistency: &Consistency, store: &ApiState, profile: &Profile) -> Option<Arc<Cache>> {
    (consistency.reads != Reads::Latest).then(|| Arc::new(Cache::of(store, profile)))
}
