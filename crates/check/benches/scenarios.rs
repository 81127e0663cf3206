//! The model checker's performance, printed as figures: `cargo bench -p themelios-check`.
//!
//! For each built-in scenario under linearizable reads with one, then two instances of each controller:
//! exhaustive BFS without a depth bound on two threads — total and unique states, time, states per second, the
//! process's peak memory growth and bytes per unique state. Each scenario runs in a child process so that
//! peak memory is its own. Those spaces are small (at most 141,550 states), so their memory is mostly what
//! does not grow with states: the memo, the summaries, each distinct object version. Two large spaces follow,
//! where memory per state is what states cost: TestNewDeployment with three instances of each controller
//! (exhaustive, 1.3 million states) and TestDeploymentRollingUpdate with three (bounded at 5 million
//! distinct states). Targets (issue 7): ≥ 400,000 states/s on two threads for TestDeploymentRollingUpdate;
//! ≤ 200 bytes per unique state.

use std::process::Command;

/// The same allocator as the `themelios` binary, so the figures are the ones users get.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use themelios_check::consistency::Consistency;
use themelios_check::explore::Bounds;
use themelios_check::{check_with, scenarios};

/// Peak resident memory of this process, in bytes (Linux `VmHWM`).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

/// The large runs: scenario, instances of each controller, and a bound on distinct states if any.
const LARGE: &[(&str, usize, Option<usize>)] =
    &[("Deployment-TestNewDeployment", 3, None), ("Deployment-TestDeploymentRollingUpdate", 3, Some(5_000_000))];

fn run_one(name: &str, instances: usize, max_states: Option<usize>) {
    let Some(scenario) = scenarios::by_name(name) else { return };
    let model = scenario.with_instances(Consistency::LINEARIZABLE, instances);
    let before = peak_rss().unwrap_or(0);
    let bounds = Bounds { max_states, ..Bounds::default() };
    let report = check_with(&model, 2, bounds, |_| {});
    let peak = peak_rss().unwrap_or(0).saturating_sub(before);
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    println!(
        "{:<42} {:>2} {:>10} {:>10} {:>8.2} {:>10.0} {:>9.1} {:>8.0} {}",
        name,
        instances,
        report.states,
        report.unique_states,
        secs,
        report.states as f64 / secs,
        peak as f64 / (1 << 20) as f64,
        peak as f64 / report.unique_states.max(1) as f64,
        match (report.violated(), report.complete) {
            (true, _) => "VIOLATED",
            (false, true) => "holds (safety, goals, no livelock)",
            (false, false) => "no violation within the bound",
        }
    );
}

fn main() {
    themelios_check::memory::tune_for_exploring();
    if let (Ok(name), Ok(instances)) =
        (std::env::var("THEMELIOS_BENCH_SCENARIO"), std::env::var("THEMELIOS_BENCH_INSTANCES"))
    {
        let max_states = std::env::var("THEMELIOS_BENCH_MAX_STATES").ok().and_then(|m| m.parse().ok());
        run_one(&name, instances.parse().unwrap_or(1), max_states);
        return;
    }
    println!(
        "{:<42} {:>2} {:>10} {:>10} {:>8} {:>10} {:>9} {:>8} verdict",
        "scenario (linearizable)", "n", "states", "unique", "secs", "states/s", "peak MiB", "B/state"
    );
    let mut runs: Vec<(String, usize, Option<usize>)> = Vec::new();
    for instances in [1, 2] {
        runs.extend(scenarios::builtin().into_iter().map(|s| (s.name, instances, None)));
    }
    runs.extend(LARGE.iter().map(|(name, instances, bound)| (name.to_string(), *instances, *bound)));
    let me = std::env::current_exe().expect("the bench binary");
    for (name, instances, bound) in runs {
        let mut child = Command::new(&me);
        child.env("THEMELIOS_BENCH_SCENARIO", &name).env("THEMELIOS_BENCH_INSTANCES", instances.to_string());
        if let Some(bound) = bound {
            child.env("THEMELIOS_BENCH_MAX_STATES", bound.to_string());
        }
        if !child.status().is_ok_and(|s| s.success()) {
            println!("{name:<42} {instances:>2} failed to run");
        }
    }
}
