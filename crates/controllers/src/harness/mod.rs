//! The deterministic harness: runs controllers and simulated nodes against the shared API semantics until
//! nothing more happens, checking properties after every step.
//!
//! Each round gives every running actor one step, in a fixed order or in an order shuffled by a seed. When
//! a whole round issues no request, logical time moves as the step protocol says
//! ([`Deadlines`](crate::framework::Deadlines)): to the earliest wake-up an actor asked for, stopping at
//! heartbeats on the way; when no wake-up is pending, the run is quiescent and the goals are checked.
//!
//! ```
//! use themelios_controllers::harness::Harness;
//! use themelios_controllers::kubelet::{Kubelet, NodeConfig};
//! let mut h = Harness::new();
//! h.add(Kubelet::new(NodeConfig::new("node-1")));
//! h.settle().unwrap();
//! assert!(h.get::<k8s_openapi::api::core::v1::Node>("", "node-1").is_some());
//! ```

mod log;
mod rng;

pub use log::{Entry, StepResult};
pub use rng::SplitMix64;

use crate::framework::{
    decide, first_safety_violation, unmet_goals, wasted_write, AnyController, ClusterView, Controller, Deadlines,
    DynLocal, Profile, Property, Step, Violation,
};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::fmt;
use themelios_api::{apply, ApiError, ApiState, ApplyContext, Object, Op, Resource, StateRead, Time};

/// An actor taken out of a harness: its controller and its memory.
pub type ActorParts = (Box<dyn AnyController>, Box<dyn DynLocal>);

/// Identifies an actor added to a harness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ActorId(usize);

impl ActorId {
    /// The actor added `index`-th (from 0).
    pub fn from_index(index: usize) -> Self {
        Self(index)
    }
}

struct Actor {
    controller: Box<dyn AnyController>,
    name: String,
    profile: Profile,
    local: Box<dyn DynLocal>,
    running: bool,
}

/// Why a run stopped before quiescence.
pub enum RunError {
    /// A safety property failed after a step, or a goal failed at quiescence.
    Violation {
        /// The property and what was wrong.
        violation: Violation,
        /// The last steps before it.
        recent: Vec<Entry>,
    },
    /// The step limit was reached without quiescence.
    StepLimit {
        /// The limit.
        limit: usize,
        /// The last steps before it.
        recent: Vec<Entry>,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (head, recent) = match self {
            RunError::Violation { violation, recent } => (format!("property violated: {violation}"), recent),
            RunError::StepLimit { limit, recent } => (format!("no quiescence within {limit} steps"), recent),
        };
        writeln!(f, "{head}\nlast steps:")?;
        for e in recent {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}
impl fmt::Debug for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
impl std::error::Error for RunError {}

/// How actors take turns.
#[derive(Clone, Debug)]
enum Order {
    Fixed,
    Seeded(SplitMix64),
}

/// A cluster in memory: the API state, the actors, logical time and a log.
pub struct Harness {
    state: ApiState,
    now: Time,
    actors: Vec<Actor>,
    order: Order,
    log: Vec<Entry>,
    step_limit: usize,
    properties: Vec<Property>,
    admission: Vec<Box<Admission>>,
    goals: bool,
}

/// An admission check: rejects a request before the API rules see it (a quota, a webhook, a fault).
pub type Admission = dyn Fn(&Op, &ApiState) -> Option<ApiError> + Send + Sync;

/// How far a run may move logical time.
#[derive(Clone, Copy, Debug)]
enum TimeLimit {
    Frozen,
    /// Time passes up to this instant, heartbeats included even with no work due.
    Until(Time),
    /// Time moves only towards work that is due, and not past this instant.
    WorkWithin(Time),
    Unbounded,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// A harness with the namespaces `default`, `kube-system` and `kube-node-lease`, at [`Time::EPOCH`],
    /// with actors taking turns in a fixed order.
    pub fn new() -> Self {
        let mut h = Self {
            state: ApiState::default(),
            now: Time::EPOCH,
            actors: Vec::new(),
            order: Order::Fixed,
            log: Vec::new(),
            step_limit: 100_000,
            properties: Vec::new(),
            admission: Vec::new(),
            goals: true,
        };
        for name in ["default", "kube-system", "kube-node-lease"] {
            let ns = Namespace {
                metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
                ..Default::default()
            };
            if let Err(e) = h.submit(Op::Create(ns.into_object())) {
                unreachable!("a built-in namespace is valid in an empty store: {e}");
            }
        }
        h
    }

    /// Actors take turns in an order shuffled anew each round by this seed.
    pub fn seeded(mut self, seed: u64) -> Self {
        self.order = Order::Seeded(SplitMix64::new(seed));
        self
    }

    /// Sets the most steps one run may take.
    pub fn step_limit(mut self, limit: usize) -> Self {
        self.step_limit = limit;
        self
    }

    /// Adds properties checked after every step (safety) and at quiescence (goals).
    pub fn check(&mut self, properties: impl IntoIterator<Item = Property>) -> &mut Self {
        self.properties.extend(properties);
        self
    }

    /// The state, the time and the actors with their memory, to continue elsewhere (the model checker
    /// starts from a settled harness).
    pub fn into_parts(self) -> (ApiState, Time, Vec<ActorParts>) {
        (self.state, self.now, self.actors.into_iter().map(|a| (a.controller, a.local)).collect())
    }

    /// Stops checking the property with this name.
    pub fn uncheck(&mut self, name: &str) -> &mut Self {
        self.properties.retain(|p| p.name != name);
        self
    }

    /// Whether quiescence checks the goals (on by default). Turn it off while a test's environment keeps a
    /// goal out of reach on purpose (pods held by finalizers, pods that never become ready).
    pub fn expect_goals(&mut self, on: bool) -> &mut Self {
        self.goals = on;
        self
    }

    /// Adds an admission check run before every request, like an admission plugin or webhook.
    pub fn admit(&mut self, check: impl Fn(&Op, &ApiState) -> Option<ApiError> + Send + Sync + 'static) -> &mut Self {
        self.admission.push(Box::new(check));
        self
    }

    /// Adds a running actor.
    pub fn add(&mut self, controller: impl Controller) -> ActorId {
        self.add_boxed(Box::new(controller))
    }

    /// Adds a controller behind a trait object (one made by [`crate::registry`]).
    pub fn add_boxed(&mut self, controller: Box<dyn AnyController>) -> ActorId {
        let local = controller.fresh_local();
        let (name, profile) = (controller.name(), controller.profile());
        self.actors.push(Actor { controller, name, profile, local, running: true });
        ActorId(self.actors.len() - 1)
    }

    /// Stops an actor (it takes no more steps; its memory is kept until it restarts).
    pub fn stop(&mut self, id: ActorId) {
        self.actors[id.0].running = false;
    }

    /// Restarts an actor: its memory is lost, as a crashed process's would be.
    pub fn restart(&mut self, id: ActorId) {
        let actor = &mut self.actors[id.0];
        actor.local = actor.controller.fresh_local();
        actor.running = true;
    }

    /// The logical time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Moves logical time forward.
    pub fn advance(&mut self, seconds: i64) {
        self.now = self.now.plus_seconds(seconds);
    }

    /// The API state.
    pub fn state(&self) -> &ApiState {
        &self.state
    }

    /// The log of every step so far.
    pub fn log(&self) -> &[Entry] {
        &self.log
    }

    /// What each running actor would decide now, by name, without taking the step (its memory is left as
    /// it is): what the next round starts from.
    pub fn preview(&self) -> Vec<(String, Step)> {
        let running = self.actors.iter().filter(|a| a.running);
        running
            .map(|a| {
                let mut local = a.local.clone();
                let step = decide_as(&a.name, a.controller.as_ref(), &a.profile, &self.state, self.now, local.as_mut());
                (a.name.clone(), step)
            })
            .collect()
    }

    /// A view of the latest state.
    pub fn view(&self) -> ClusterView<'_> {
        ClusterView::new(self.state.objects(), self.state.revision(), self.now)
    }

    /// One object.
    pub fn get<T: Resource>(&self, namespace: &str, name: &str) -> Option<T> {
        self.view().get::<T>(namespace, name).cloned()
    }

    /// Every object of a kind.
    pub fn list<T: Resource>(&self) -> Vec<T> {
        self.view().list::<T>().cloned().collect()
    }

    /// Issues a request as the test itself (actor `user`). The user is the environment: its requests are
    /// logged but not held to the controllers' properties.
    pub fn submit(&mut self, op: Op) -> Result<Object, ApiError> {
        let read = self.state.revision();
        self.execute("user", &op, read).map(|s| s.object().clone())
    }

    /// Creates an object as the user.
    pub fn create<T: Resource>(&mut self, object: T) -> Result<T, ApiError> {
        let created = self.submit(Op::Create(object.into_object()))?;
        Ok(T::from_object(&created).cloned().unwrap_or_else(|| unreachable!("create returns its own kind")))
    }

    /// Reads, changes and writes back an object as the user.
    pub fn modify<T: Resource>(
        &mut self,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut T),
    ) -> Result<T, ApiError> {
        self.modify_with(namespace, name, false, change)
    }

    /// As [`Harness::modify`], through the status subresource.
    pub fn modify_status<T: Resource>(
        &mut self,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut T),
    ) -> Result<T, ApiError> {
        self.modify_with(namespace, name, true, change)
    }

    fn modify_with<T: Resource>(
        &mut self,
        namespace: &str,
        name: &str,
        status: bool,
        change: impl FnOnce(&mut T),
    ) -> Result<T, ApiError> {
        let mut object = self.get::<T>(namespace, name).ok_or_else(|| ApiError::not_found(T::KIND, name))?;
        change(&mut object);
        let op = if status { Op::UpdateStatus(object.into_object()) } else { Op::Update(object.into_object()) };
        let updated = self.submit(op)?;
        Ok(T::from_object(&updated).cloned().unwrap_or_else(|| unreachable!("update returns its own kind")))
    }

    /// Applies a request, commits it and logs it.
    fn execute(&mut self, actor: &str, op: &Op, read: u64) -> themelios_api::store::ChangeResult {
        let rejected = self.admission.iter().find_map(|check| check(op, &self.state));
        let result = match rejected {
            Some(err) => Err(err),
            None => apply(&self.state, op, &ApplyContext { now: self.now }),
        };
        let outcome = match &result {
            Ok(change) => {
                if let Err(stale) = self.state.commit(change) {
                    unreachable!("a change computed against the current state is current: {stale}");
                }
                let meta = change.response.object().meta();
                StepResult::Ok {
                    object: format!("{}/{}", change.response.object().kind(), meta.name.as_deref().unwrap_or("")),
                    revision: self.state.revision(),
                }
            }
            Err(e) => StepResult::Err { reason: e.reason.as_str().to_string(), message: e.message.clone() },
        };
        self.log.push(Entry::new(self.log.len() + 1, self.now, actor, read, op, outcome));
        result.map(|c| c.response)
    }

    /// Runs until quiescent without moving logical time.
    pub fn settle(&mut self) -> Result<(), RunError> {
        self.run(TimeLimit::Frozen, &mut |_| false).map(|_| ())
    }

    /// Runs until quiescent, moving logical time to deadlines at most `seconds` ahead.
    pub fn run_for(&mut self, seconds: i64) -> Result<(), RunError> {
        let until = self.now.plus_seconds(seconds);
        self.run(TimeLimit::Until(until), &mut |_| false)?;
        self.now = self.now.max(until);
        Ok(())
    }

    /// Runs until quiescent, moving logical time towards deadlines of due work (not for heartbeats alone),
    /// at most `seconds` ahead.
    pub fn run_to_quiescence_within(&mut self, seconds: i64) -> Result<(), RunError> {
        let until = self.now.plus_seconds(seconds);
        self.run(TimeLimit::WorkWithin(until), &mut |_| false).map(|_| ())
    }

    /// Runs until quiescent, moving logical time to every deadline.
    pub fn run_to_quiescence(&mut self) -> Result<(), RunError> {
        self.run(TimeLimit::Unbounded, &mut |_| false).map(|_| ())
    }

    /// Runs (moving time freely) until `done` holds, checking it after every step. Returns whether it
    /// came to hold (`false` if the run became quiescent first). Goals are not checked: the condition is
    /// what the caller is after.
    pub fn run_until(&mut self, mut done: impl FnMut(&Harness) -> bool) -> Result<bool, RunError> {
        if done(self) {
            return Ok(true);
        }
        let goals = std::mem::replace(&mut self.goals, false);
        let result = self.run(TimeLimit::Unbounded, &mut done);
        self.goals = goals;
        result
    }

    /// Rounds until quiescence (goals checked), until the time limit leaves work pending, or until `stop`
    /// holds (goals not checked in the last two cases).
    fn run(&mut self, limit: TimeLimit, stop: &mut dyn FnMut(&Harness) -> bool) -> Result<bool, RunError> {
        let start = self.log.len();
        loop {
            if self.log.len() - start >= self.step_limit {
                return Err(RunError::StepLimit { limit: self.step_limit, recent: self.recent() });
            }
            match self.round(stop)? {
                RoundEnd::Stopped => return Ok(true),
                RoundEnd::Progressed => continue,
                RoundEnd::Idle(deadlines) => {
                    let next = match limit {
                        TimeLimit::Frozen => None,
                        TimeLimit::Unbounded => deadlines.next_time(),
                        // Time passes up to `until` whatever is pending, so heartbeats fire on their own.
                        TimeLimit::Until(until) => deadlines.earliest().filter(|t| *t <= until),
                        TimeLimit::WorkWithin(until) => deadlines.next_time().filter(|t| *t <= until),
                    };
                    match (next, deadlines.wake()) {
                        (Some(at), _) => self.now = at,
                        // Work is still due later: the time limit stops the run, but this is not quiescence.
                        (None, Some(_)) => return Ok(false),
                        (None, None) => {
                            self.check_goals()?;
                            return Ok(false);
                        }
                    }
                }
            }
        }
    }

    /// One round: every running actor gets a step.
    fn round(&mut self, stop: &mut dyn FnMut(&Harness) -> bool) -> Result<RoundEnd, RunError> {
        let mut order: Vec<usize> = (0..self.actors.len()).filter(|i| self.actors[*i].running).collect();
        if let Order::Seeded(rng) = &mut self.order {
            rng.shuffle(&mut order);
        }
        let mut progressed = false;
        let mut deadlines = Deadlines::default();
        for i in order {
            let before = self.state.clone();
            let actor = &mut self.actors[i];
            let step = decide_as(
                &actor.name,
                actor.controller.as_ref(),
                &actor.profile,
                &before,
                self.now,
                actor.local.as_mut(),
            );
            deadlines.add(&step);
            let Some(op) = step.op else { continue };
            let name = actor.name.clone();
            let outcome = self.execute(&name, &op, before.revision());
            let actor = &mut self.actors[i];
            actor.controller.observe(&op, &outcome, self.now, actor.local.as_mut());
            let wrote = self.state.revision() != before.revision();
            if let Some(violation) = wasted_write(&op, outcome.is_ok(), wrote) {
                return Err(RunError::Violation { violation, recent: self.recent() });
            }
            self.check_safety(&name, &before)?;
            progressed = true;
            if stop(self) {
                return Ok(RoundEnd::Stopped);
            }
        }
        Ok(if progressed { RoundEnd::Progressed } else { RoundEnd::Idle(deadlines) })
    }

    fn check_safety(&self, actor: &str, before: &ApiState) -> Result<(), RunError> {
        let old = ClusterView::new(before.objects(), before.revision(), self.now);
        match first_safety_violation(&self.properties, actor, &old, &self.view()) {
            Some(violation) => Err(RunError::Violation { violation, recent: self.recent() }),
            None => Ok(()),
        }
    }

    /// Checks every goal against the current state (unless goals are switched off).
    pub fn check_goals(&self) -> Result<(), RunError> {
        if !self.goals {
            return Ok(());
        }
        match unmet_goals(&self.properties, &self.view()).into_iter().next() {
            Some(violation) => Err(RunError::Violation { violation, recent: self.recent() }),
            None => Ok(()),
        }
    }

    fn recent(&self) -> Vec<Entry> {
        self.log.iter().rev().take(40).rev().cloned().collect()
    }
}

/// One step of an actor on the latest state, its reads held to its profile.
fn decide_as(
    name: &str,
    controller: &dyn AnyController,
    profile: &Profile,
    state: &ApiState,
    now: Time,
    local: &mut dyn DynLocal,
) -> Step {
    let view = ClusterView::new(state.objects(), state.revision(), now);
    let view = match profile.reads {
        Some(kinds) => view.declared_by(name, kinds),
        None => view,
    };
    decide(controller, &view, local)
}

/// How a round ended.
enum RoundEnd {
    Progressed,
    Stopped,
    Idle(Deadlines),
}
