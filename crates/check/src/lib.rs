//! # themelios-check
//!
//! The model checker: a scenario's controllers run as actors over a datastore whose reads follow a
//! consistency model, under every interleaving of steps, cache catch-ups, restarts and user operations,
//! with the controllers' properties checked in every state and eventual reconciliation checked on the
//! state graph.
//!
//! ```no_run
//! use themelios_check::{check, consistency::Consistency, scenarios};
//! let scenario = scenarios::by_name("ReplicaSet-TestSpecReplicasChange").unwrap();
//! let report = check(scenario.model(Consistency::named("linearizable").unwrap()), 2);
//! assert!(!report.violated());
//! ```

#![warn(missing_docs)]

// The checker's public face: scenarios, consistency models, the model and its state, exploring and the
// report. The rest are its internals.
pub mod canonical;
pub mod consistency;
pub mod counterexample;
mod environment;
pub mod explore;
pub mod file;
mod index;
mod intern;
mod liveness;
pub mod memo;
pub mod memory;
pub mod model;
mod model_checks;
pub mod scenario;
pub mod scenarios;
pub mod state;

use counterexample::{replay, NarratedStep};
use explore::{explore, Bounds, Exploration, Finding, Progress};
use std::time::{Duration, Instant};

/// The name under which eventual reconciliation is reported.
pub const LIVENESS: &str = "eventually stable reconciliation (no livelock)";

/// What a property came to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Status {
    /// It holds in every reachable state (every quiescent state, for a goal).
    Holds,
    /// A reachable state breaks it.
    Violated {
        /// What was wrong.
        detail: String,
        /// The steps from the initial state, shortest first.
        steps: Vec<NarratedStep>,
        /// For a livelock, the step at which the repeating cycle starts (0-based).
        cycle_from: Option<usize>,
    },
    /// No state where it applies was reached (a goal, when no state is quiescent).
    NotReached,
    /// Not violated in the states explored, but exploration stopped at a bound.
    Unknown,
}

/// What sort of property a verdict is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PropertyClass {
    /// Holds in every reachable state (or across every step).
    Safety,
    /// Holds in every quiescent state.
    Goal,
    /// The system does not cycle for ever without settling (no fair livelock).
    Liveness,
}

impl std::fmt::Display for PropertyClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            PropertyClass::Safety => "safety",
            PropertyClass::Goal => "goal",
            PropertyClass::Liveness => "liveness",
        };
        // `pad`, so that a report's column widths apply.
        f.pad(name)
    }
}

/// A property and its verdict.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    /// The property's name.
    pub property: String,
    /// Safety, goal or liveness.
    pub kind: PropertyClass,
    /// What it came to.
    #[serde(flatten)]
    pub status: Status,
}

/// The outcome of checking one model.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    /// States explored (with repeats).
    pub states: usize,
    /// Distinct states.
    pub unique_states: usize,
    /// The deepest BFS level.
    pub depth: usize,
    /// How long it took.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// Whether every reachable state was explored.
    pub complete: bool,
    /// Bytes the state graph took.
    pub graph_bytes: usize,
    /// Every property's verdict.
    pub verdicts: Vec<Verdict>,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Report {
    /// Whether some property is violated.
    pub fn violated(&self) -> bool {
        self.shortest_violation().is_some()
    }

    /// The violated property with the shortest counterexample.
    pub fn shortest_violation(&self) -> Option<&Verdict> {
        self.verdicts
            .iter()
            .filter(|v| matches!(v.status, Status::Violated { .. }))
            .min_by_key(|v| v.status.steps().map_or(usize::MAX, <[NarratedStep]>::len))
    }

    /// The shortest violation as `property: detail` and one line per step, for tests and messages.
    pub fn violation(&self) -> Option<(String, Vec<String>)> {
        let verdict = self.shortest_violation()?;
        let Status::Violated { detail, steps, .. } = &verdict.status else { return None };
        Some((format!("{}: {detail}", verdict.property), steps.iter().map(|s| s.account.to_string()).collect()))
    }
}

impl Status {
    /// The counterexample's steps, for a violation.
    pub fn steps(&self) -> Option<&[NarratedStep]> {
        match self {
            Status::Violated { steps, .. } => Some(steps),
            _ => None,
        }
    }
}

/// Checks a model exhaustively with BFS on `threads` threads.
pub fn check(model: model::ClusterModel, threads: usize) -> Report {
    check_with(&model, threads, Bounds::default(), |_| {})
}

/// As [`check`], within `bounds`, calling `progress` about once a second.
pub fn check_with(
    model: &model::ClusterModel,
    threads: usize,
    bounds: Bounds,
    progress: impl FnMut(Progress),
) -> Report {
    let start = Instant::now();
    let exploration = explore(model, threads, bounds, progress);
    model.release_exploration_caches();
    let verdicts = verdicts(model, &exploration);
    Report {
        states: exploration.states,
        unique_states: exploration.graph.len(),
        depth: exploration.depth,
        elapsed: start.elapsed(),
        complete: exploration.complete,
        graph_bytes: exploration.graph.bytes(),
        verdicts,
    }
}

fn verdicts(model: &model::ClusterModel, exploration: &Exploration) -> Vec<Verdict> {
    let graph = &exploration.graph;
    let undecided = if exploration.complete { Status::Holds } else { Status::Unknown };
    let violated = |detail: String, id| Status::Violated {
        detail,
        steps: replay(model, graph, &graph.path_to(id)),
        cycle_from: None,
    };
    let mut out = Vec::new();
    for name in model.safety_property_names() {
        let first = exploration.findings.iter().find_map(|f| match f {
            Finding::Unsafe(id, violation) if violation.property == name => {
                Some(violated(violation.detail.clone(), *id))
            }
            _ => None,
        });
        out.push(Verdict {
            property: name.to_string(),
            kind: PropertyClass::Safety,
            status: first.unwrap_or_else(|| undecided.clone()),
        });
    }
    let reached_quiescence = exploration.findings.iter().any(|f| !matches!(f, Finding::Unsafe(..)));
    for name in model.goal_names() {
        let first = exploration.findings.iter().find_map(|f| match f {
            Finding::GoalFails(id, failed) => {
                failed.iter().find(|v| v.property == name).map(|v| violated(v.detail.clone(), *id))
            }
            _ => None,
        });
        let status = match first {
            Some(status) => status,
            None if !reached_quiescence && exploration.complete => Status::NotReached,
            None => undecided.clone(),
        };
        out.push(Verdict { property: name.to_string(), kind: PropertyClass::Goal, status });
    }
    let liveness = if !exploration.complete {
        Status::Unknown
    } else {
        match liveness::find_livelock(graph) {
            None => Status::Holds,
            Some(livelock) => {
                let mut path = livelock.prefix.clone();
                path.extend(livelock.cycle.iter().skip(1));
                Status::Violated {
                    detail: format!(
                        "a fair cycle of {} steps never reaches a quiescent state: the actors on it keep acting",
                        livelock.cycle.len() - 1
                    ),
                    steps: replay(model, graph, &path),
                    cycle_from: Some(livelock.prefix.len() - 1),
                }
            }
        }
    };
    out.push(Verdict { property: LIVENESS.to_string(), kind: PropertyClass::Liveness, status: liveness });
    out
}
