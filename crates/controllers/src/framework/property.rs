//! Properties: the guarantees a controller makes, as code the harness and the model checker both run.

use super::view::ClusterView;
use std::fmt;
use themelios_api::Op;

/// Whether a property must hold in every state or only once the system is quiet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PropertyKind {
    /// Must hold in every reachable state (or across every step, for a transition property).
    Safety,
    /// Must hold in every quiescent state: what the controllers converge to.
    Goal,
}

/// What a property checks.
#[derive(Clone, Copy)]
pub enum Check {
    /// A condition on one state.
    State(fn(&ClusterView) -> Result<(), String>),
    /// A condition on a step from one state to the next.
    Transition(fn(&ClusterView, &ClusterView) -> Result<(), String>),
    /// A condition on a step, knowing which actor took it (its [`crate::framework::Controller::name`]).
    ActorStep(fn(&str, &ClusterView, &ClusterView) -> Result<(), String>),
}

/// A named guarantee.
#[derive(Clone, Copy)]
pub struct Property {
    /// A name a user understands, e.g. `replicaset: never adopts a pod another controller owns`.
    pub name: &'static str,
    /// Safety or goal.
    pub kind: PropertyKind,
    /// The check.
    pub check: Check,
}

impl Property {
    /// A safety property over states.
    pub const fn always(name: &'static str, check: fn(&ClusterView) -> Result<(), String>) -> Self {
        Self { name, kind: PropertyKind::Safety, check: Check::State(check) }
    }
    /// A safety property over steps.
    pub const fn every_step(name: &'static str, check: fn(&ClusterView, &ClusterView) -> Result<(), String>) -> Self {
        Self { name, kind: PropertyKind::Safety, check: Check::Transition(check) }
    }
    /// A safety property over the steps of actors.
    pub const fn every_step_by(
        name: &'static str,
        check: fn(&str, &ClusterView, &ClusterView) -> Result<(), String>,
    ) -> Self {
        Self { name, kind: PropertyKind::Safety, check: Check::ActorStep(check) }
    }
    /// A goal: holds whenever the system is quiescent.
    pub const fn eventually(name: &'static str, check: fn(&ClusterView) -> Result<(), String>) -> Self {
        Self { name, kind: PropertyKind::Goal, check: Check::State(check) }
    }
}

/// The first safety property a step by `actor` from `before` to `after` violates, with what was wrong.
///
/// The harness and the model checker both judge steps with this one function.
pub fn first_safety_violation(
    properties: &[Property],
    actor: &str,
    before: &ClusterView,
    after: &ClusterView,
) -> Option<Violation> {
    properties.iter().filter(|p| p.kind == PropertyKind::Safety).find_map(|p| {
        let verdict = match p.check {
            Check::State(f) => f(after),
            Check::Transition(f) => f(before, after),
            Check::ActorStep(f) => f(actor, before, after),
        };
        verdict.err().map(|detail| Violation::new(p.name, detail))
    })
}

impl std::fmt::Debug for Property {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}({})", self.kind, self.name)
    }
}

/// The property every controller is held to besides its own, named as [`first_safety_violation`] names
/// properties.
pub const NO_WASTED_WRITES: &str = "every controller: never sends an update that changes nothing";

/// A violation of [`NO_WASTED_WRITES`] if `op`, which the server answered with success, is an update that
/// changed nothing (`wrote` is whether the server stored anything).
///
/// Upstream's controllers compare what they would write with what is stored, in the form the server
/// stores it, and skip equal writes; an update that changes nothing is wasted work for the API server
/// and, when the controller would issue it again, a loop that never lets it reach its next step — what
/// Themelios' own controllers did against a real kube-apiserver, which drops zero values ours kept.
pub fn wasted_write(op: &Op, succeeded: bool, wrote: bool) -> Option<Violation> {
    let update = matches!(op, Op::Update(_) | Op::UpdateStatus(_) | Op::Scale { .. });
    (update && succeeded && !wrote)
        .then(|| Violation::new(NO_WASTED_WRITES, format!("{op} was accepted and changed nothing")))
}

/// A property that does not hold, and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Violation {
    /// The property's name (see [`Property::name`]).
    pub property: &'static str,
    /// What was wrong, in the property's words.
    pub detail: String,
}

impl Violation {
    /// A violation of `property`.
    pub fn new(property: &'static str, detail: impl Into<String>) -> Self {
        Self { property, detail: detail.into() }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.property, self.detail)
    }
}

/// The goals `view` does not meet, in the order of `properties`: what a quiescent state is judged by.
pub fn unmet_goals(properties: &[Property], view: &ClusterView) -> Vec<Violation> {
    properties
        .iter()
        .filter(|p| p.kind == PropertyKind::Goal)
        .filter_map(|p| match p.check {
            Check::State(f) => f(view).err().map(|detail| Violation::new(p.name, detail)),
            Check::Transition(_) | Check::ActorStep(_) => None,
        })
        .collect()
}
