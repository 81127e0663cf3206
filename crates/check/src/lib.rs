//! # themelios-check
//!
//! The model checker: a scenario's controllers run as actors over a datastore whose reads follow a
//! consistency model, under every interleaving of steps, cache catch-ups, restarts and user operations,
//! with the controllers' properties checked in every state.

#![warn(missing_docs)]

pub mod consistency;
pub mod file;
pub mod model;
pub mod scenario;
pub mod scenarios;

use stateright::{Checker, Model};
use std::time::{Duration, Instant};

/// The outcome of checking one model.
#[derive(Debug)]
pub struct Report {
    /// States explored (with repeats).
    pub states: usize,
    /// Distinct states.
    pub unique_states: usize,
    /// How long it took.
    pub elapsed: Duration,
    /// The property violated and the steps to it, shortest first (BFS).
    pub violation: Option<(String, Vec<String>)>,
}

/// Checks a model exhaustively with BFS on `threads` threads.
pub fn check(model: model::ClusterModel, threads: usize) -> Report {
    check_with_progress(model, threads, |_, _, _| {})
}

/// As [`check`], calling `progress(states, unique states, elapsed)` about once a second.
pub fn check_with_progress(
    model: model::ClusterModel,
    threads: usize,
    mut progress: impl FnMut(usize, usize, Duration),
) -> Report {
    let start = Instant::now();
    let checker = model.checker().threads(threads).spawn_bfs();
    let mut reported = Duration::ZERO;
    while !checker.is_done() {
        std::thread::sleep(Duration::from_millis(10));
        if start.elapsed() - reported >= Duration::from_millis(200) {
            reported = start.elapsed();
            progress(checker.state_count(), checker.unique_state_count(), reported);
        }
    }
    let checker = checker.join();
    let elapsed = start.elapsed();
    let names = ["every safety property holds", "every quiescent state meets every goal"];
    let violation = names.iter().find_map(|name| {
        let path = checker.discovery(name)?;
        let model = checker.model();
        let last = path.last_state().clone();
        let detail = last.violation.clone().or_else(|| model.failed_goal(&last)).unwrap_or_else(|| (*name).to_string());
        let steps: Vec<String> =
            path.into_vec().into_iter().filter_map(|(state, action)| Some(model.describe(&state, &action?))).collect();
        Some((detail, steps))
    });
    Report { states: checker.state_count(), unique_states: checker.unique_state_count(), elapsed, violation }
}
