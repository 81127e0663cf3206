//! `themelios check` and `themelios scenarios`: the model checker on the command line.

use crate::report;
use crate::strategies::Strategy;
use std::process::ExitCode;
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
    /// Checker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Stop after this many distinct states (verdicts not yet violated become "unknown").
    #[arg(long)]
    max_states: Option<usize>,
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
        return crate::matrix::run(&args.out, args.threads, args.max_states, staleness.unwrap_or_default());
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
    let mut violated = false;
    let mut json = Vec::new();
    for scenario in &loaded {
        let runs: Vec<(String, ClusterModel)> = match &models {
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
        for (consistency, mut model) in runs {
            if let Some(staleness) = staleness {
                model.staleness = staleness;
            }
            let stale = match model.staleness {
                Staleness::Unbounded => String::new(),
                other => format!(" / staleness {other}"),
            };
            let label = format!("{} / {consistency}{stale} / {} instance(s)", scenario.name, args.instances);
            let report = match args.strategy {
                Strategy::Bfs => bfs(&model, &label, &args),
                other => {
                    let outcome = crate::strategies::run(model, other, args.threads, args.max_states);
                    println!("{label} ({other:?}): {outcome}");
                    violated |= outcome.violated;
                    continue;
                }
            };
            violated |= report.violated();
            if args.json {
                json.push(report::json(&scenario.name, &consistency, model.staleness, args.instances, &report));
            } else {
                report::print(&label, &report);
            }
        }
    }
    if args.json {
        println!("{}", themelios_api::json::to_string_pretty(&json));
    }
    if violated {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn bfs(model: &ClusterModel, label: &str, args: &Args) -> Report {
    let bounds = Bounds { max_states: args.max_states, ..Bounds::default() };
    let mut shown = false;
    let report = check_with(model, args.threads.max(1), bounds, |p| {
        shown = true;
        report::progress_line(label, &p);
    });
    if shown {
        eprintln!();
    }
    report
}

fn bad_input(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
