//! `themelios check` and `themelios scenarios`: the model checker on the command line.

use crate::report;
use crate::runs::{self, Board};
use crate::strategies::Strategy;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use themelios_check::consistency::{Consistency, Staleness};
use themelios_check::explore::Bounds;
use themelios_check::model::ClusterModel;
use themelios_check::scenario::Scenario;
use themelios_check::{check_with, scenarios, Report};

/// Arguments of `themelios check`.
#[derive(clap::Args)]
pub struct Args {
    /// Built-in scenarios or scenario files (YAML, see docs/scenarios.md) to check.
    #[arg(required_unless_present = "matrix")]
    scenarios: Vec<String>,
    /// Consistency models, comma-separated, or `all` (see docs/consistency.md).
    #[arg(long)]
    consistency: Option<String>,
    /// Check only this actor under the models, the others linearizable (hybrid consistency).
    #[arg(long)]
    only: Option<String>,
    /// How long a cache may miss a write: `unbounded` (time moves on while a cache is behind) or
    /// `below-timers` (time waits for every cache); default: as each scenario says, else unbounded.
    #[arg(long)]
    staleness: Option<String>,
    /// Instances of each controller (2 models a duplicate controller-manager).
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// How to search.
    #[arg(long, value_enum, default_value_t = Strategy::Bfs)]
    strategy: Strategy,
    /// Checker threads of each run.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Runs (models, matrix cells) checked side by side; default: the cores divided by --threads.
    #[arg(long)]
    jobs: Option<usize>,
    /// Stop each run after this many distinct states (verdicts not yet violated become "unknown").
    /// Each scenario and model gets its own budget.
    #[arg(long)]
    max_states: Option<usize>,
    /// Stop each run after this many seconds; what it found so far is reported. Ctrl-C stops the run
    /// the same way (and skips the runs after it); a second Ctrl-C quits at once.
    #[arg(long)]
    max_seconds: Option<u64>,
    /// Print the reports as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    json: bool,
    /// Check every built-in scenario under every model with 1 and 2 instances; print, and write
    /// matrix.csv and matrix.svg into --out.
    #[arg(long)]
    matrix: bool,
    /// Where --matrix writes its files.
    #[arg(long, default_value = ".")]
    out: std::path::PathBuf,
}

/// Lists the built-in scenarios and the scenario files under `scenarios/`.
pub fn list() -> ExitCode {
    for s in scenarios::builtin() {
        println!("{:<44} {}", s.name, s.file.as_deref().unwrap_or(""));
    }
    ExitCode::SUCCESS
}

/// A scenario named on the command line: a file, or a built-in.
pub fn load(name: &str) -> Result<Scenario, String> {
    let path = std::path::Path::new(name);
    if name.ends_with(".yaml") || name.ends_with(".yml") || path.exists() {
        themelios_check::file::load(path).map_err(|e| e.to_string())
    } else {
        scenarios::by_name(name).ok_or_else(|| format!("no built-in scenario {name:?}; see `themelios scenarios`"))
    }
}

/// Parses `--consistency`; `None` means each scenario's own choice.
pub fn models(arg: Option<&str>) -> Result<Option<Vec<Consistency>>, String> {
    let Some(arg) = arg else { return Ok(None) };
    if arg == "all" {
        return Ok(Some(Consistency::all()));
    }
    arg.split(',')
        .map(|name| {
            Consistency::named(name.trim())
                .ok_or_else(|| format!("unknown consistency model {name:?}; one of {}", Consistency::NAMES.join(", ")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Parses `--staleness`.
fn staleness(name: &str) -> Result<Staleness, String> {
    Staleness::named(name).ok_or_else(|| format!("unknown staleness {name:?}; one of {}", Staleness::NAMES.join(", ")))
}

/// Checks each scenario under each model; exit 0 when everything holds, 1 on a violation, 2 on bad input.
pub fn run(args: Args) -> ExitCode {
    let staleness = match args.staleness.as_deref().map(staleness).transpose() {
        Ok(s) => s,
        Err(e) => return bad_input(&e),
    };
    if args.matrix {
        let jobs = args.jobs.unwrap_or_else(|| runs::default_jobs(args.threads));
        return crate::matrix::run(&args.out, args.threads, jobs, args.max_states, staleness.unwrap_or_default());
    }
    let models = match models(args.consistency.as_deref()) {
        Ok(m) => m,
        Err(e) => return bad_input(&e),
    };
    let mut loaded = Vec::new();
    for name in &args.scenarios {
        match load(name) {
            Ok(s) => loaded.push(s),
            Err(e) => return bad_input(&e),
        }
    }
    let mut planned = Vec::new();
    for scenario in &loaded {
        let models: Vec<(String, ClusterModel)> = match &models {
            None => vec![("as the scenario says".to_string(), scenario.default_model(args.instances))],
            Some(models) => models
                .iter()
                .map(|c| {
                    let model = match &args.only {
                        Some(actor) => scenario.hybrid(|a| if a == actor { *c } else { Consistency::LINEARIZABLE }),
                        None => scenario.under(*c, args.instances),
                    };
                    (c.to_string(), model)
                })
                .collect(),
        };
        for (consistency, mut model) in models {
            if let Some(staleness) = staleness {
                model.staleness = staleness;
            }
            let stale = match model.staleness {
                Staleness::Unbounded => String::new(),
                other => format!(" / staleness {other}"),
            };
            let label = format!("{} / {consistency}{stale} / {} instance(s)", scenario.name, args.instances);
            planned.push(Planned { label, scenario: scenario.name.clone(), consistency, model });
        }
    }
    if args.strategy != Strategy::Bfs {
        let mut violated = false;
        for run in planned {
            let outcome = crate::strategies::run(run.model, args.strategy, args.threads, args.max_states);
            println!("{} ({:?}): {outcome}", run.label, args.strategy);
            violated |= outcome.violated;
        }
        return if violated { ExitCode::from(1) } else { ExitCode::SUCCESS };
    }
    let stop = stop_on_ctrl_c();
    let jobs = args.jobs.unwrap_or_else(|| runs::default_jobs(args.threads));
    let reports = runs::run_all(
        &planned,
        jobs,
        |index, run, board| {
            // After Ctrl-C the runs not yet started are skipped.
            (!stop.load(Ordering::Relaxed)).then(|| bfs(&run.model, &run.label, &args, &stop, board, index))
        },
        |index, report| {
            if let (Some(report), false) = (report, args.json) {
                report::print(&planned[index].label, report);
            }
        },
    );
    let violated = reports.iter().flatten().any(Report::violated);
    let mut json = Vec::new();
    let mut summary: Vec<(String, String, usize, f64)> = Vec::new();
    for (run, report) in planned.iter().zip(&reports) {
        let Some(report) = report else {
            summary.push((run.label.clone(), "not run (interrupted)".into(), 0, 0.0));
            continue;
        };
        summary.push((run.label.clone(), verdict_of(report), report.unique_states, report.elapsed.as_secs_f64()));
        if args.json {
            json.push(report::json(&run.scenario, &run.consistency, run.model.staleness, args.instances, report));
        }
    }
    if args.json {
        println!("{}", themelios_api::json::to_string_pretty(&json));
    } else if summary.len() > 1 {
        println!("\n{:<72} {:<32} {:>10} {:>9}", "run", "verdict", "states", "seconds");
        for (label, verdict, states, seconds) in &summary {
            println!("{label:<72} {verdict:<32} {states:>10} {seconds:>9.2}");
        }
    }
    if violated {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// One run the command line asked for.
struct Planned {
    label: String,
    scenario: String,
    consistency: String,
    model: ClusterModel,
}

fn bfs(model: &ClusterModel, label: &str, args: &Args, stop: &Arc<AtomicBool>, board: &Board, index: usize) -> Report {
    let bounds = Bounds {
        max_states: args.max_states,
        max_time: args.max_seconds.map(Duration::from_secs),
        stop: Some(stop.clone()),
        ..Bounds::default()
    };
    let mut announced = false;
    let report = check_with(model, args.threads.max(1), bounds, |p| {
        if let (Some((property, steps)), false) = (p.first_violation, announced) {
            // Found now; the run goes on for the other verdicts, and however it ends this stays reported.
            announced = true;
            eprintln!("\r  {label}: found a violation of {property:?} in {steps} steps (shortest); still exploring");
        }
        board.show(index, label, &p);
    });
    if stop.load(Ordering::Relaxed) {
        eprintln!("  {label}: interrupted; reporting what was found");
    }
    report
}

/// The verdict of a run in a few words, for the summary table.
fn verdict_of(report: &Report) -> String {
    match report.shortest_violation() {
        Some(v) => format!("violated ({} steps)", v.status.steps().map_or(0, <[_]>::len)),
        None if report.complete => "holds".into(),
        None => "unknown (budget)".into(),
    }
}

/// A flag Ctrl-C sets: the run in progress stops and reports; a second Ctrl-C quits at once.
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let watcher = std::thread::Builder::new().name("ctrl-c".into()).spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        runtime.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::Relaxed);
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        });
    });
    if let Err(e) = watcher {
        eprintln!("warning: Ctrl-C will stop at once (no watcher thread: {e})");
    }
    stop
}

fn bad_input(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
