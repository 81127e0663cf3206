//! Depth-first search and random simulation, through stateright's checkers: safety and goals only (the
//! livelock check needs the whole graph, which only BFS keeps).

use stateright::{Checker, Model, UniformChooser};
use std::time::{Duration, Instant};
use themelios_check::model::ClusterModel;

/// How the state space is searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// Breadth-first, exhaustive: shortest counterexamples, safety, goals and livelocks.
    Bfs,
    /// Depth-first (stateright), exhaustive: safety and goals.
    Dfs,
    /// Random walks (stateright), not exhaustive: safety and goals on the paths walked.
    Simulation,
}

/// What a DFS or simulation run found.
pub struct Outcome {
    states: usize,
    unique: usize,
    elapsed: Duration,
    /// Whether a property was violated.
    pub violated: bool,
    found: Vec<String>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.violated { "VIOLATED" } else { "no violation found" };
        write!(
            f,
            "{verdict} — {} states, {} unique, {:.2}s (livelocks are checked only by --strategy bfs)",
            self.states,
            self.unique,
            self.elapsed.as_secs_f64()
        )?;
        for line in &self.found {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

/// Runs `model` with stateright's DFS or simulation checker.
pub fn run(model: ClusterModel, strategy: Strategy, threads: usize, max_states: Option<usize>) -> Outcome {
    let start = Instant::now();
    let builder = model.checker().threads(threads.max(1));
    match (strategy, max_states) {
        (Strategy::Simulation, n) => {
            outcome(builder.target_state_count(n.unwrap_or(100_000)).spawn_simulation(0, UniformChooser).join(), start)
        }
        (_, Some(n)) => outcome(builder.target_state_count(n).spawn_dfs().join(), start),
        (_, None) => outcome(builder.spawn_dfs().join(), start),
    }
}

fn outcome(checker: impl Checker<ClusterModel>, start: Instant) -> Outcome {
    let mut found = Vec::new();
    let model = checker.model();
    for property in model.properties() {
        if let Some(path) = checker.discovery(property.name) {
            found.push(format!("{}:", property.name));
            for (i, (state, action)) in path.into_vec().into_iter().enumerate() {
                if let Some(action) = action {
                    found.push(format!("{:>3}. {}", i + 1, model.describe(&state, &action)));
                } else if let Some(violation) = &state.violation {
                    found.push(format!("     {violation}"));
                }
            }
        }
    }
    Outcome {
        states: checker.state_count(),
        unique: checker.unique_state_count(),
        elapsed: start.elapsed(),
        violated: !found.is_empty(),
        found,
    }
}
