//! `themelios check` and `themelios scenarios`: the model checker on the command line.

use std::io::Write;
use std::process::ExitCode;
use themelios_check::consistency::Consistency;
use themelios_check::{check_with_progress, scenarios};

/// Arguments of `themelios check`.
#[derive(clap::Args)]
pub struct Args {
    /// Built-in scenarios or scenario files (YAML, see docs/scenarios.md) to check.
    #[arg(required = true)]
    scenarios: Vec<String>,
    /// Consistency models, comma-separated, or `all`.
    #[arg(long, default_value = "linearizable")]
    consistency: String,
    /// Check only this actor under the models, the others linearizable (hybrid consistency).
    #[arg(long)]
    only: Option<String>,
    /// Instances of each controller (2 models a duplicate controller-manager).
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Checker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// Lists the built-in scenarios and the scenario files under `scenarios/`.
pub fn list() -> ExitCode {
    for s in scenarios::builtin() {
        println!("{}", s.name);
    }
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir("scenarios")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    for f in files {
        println!("{}", f.display());
    }
    ExitCode::SUCCESS
}

/// Checks each scenario under each model; exit 0 when everything holds, 1 on a violation, 2 on bad input.
pub fn run(args: Args) -> ExitCode {
    let models: Vec<Consistency> = if args.consistency == "all" {
        Consistency::NAMES.iter().filter_map(|n| Consistency::named(n)).collect()
    } else {
        let mut models = Vec::new();
        for name in args.consistency.split(',') {
            match Consistency::named(name.trim()) {
                Some(m) => models.push(m),
                None => {
                    eprintln!("error: unknown consistency model {name:?}; one of {}", Consistency::NAMES.join(", "));
                    return ExitCode::from(2);
                }
            }
        }
        models
    };
    let mut violated = false;
    for name in &args.scenarios {
        let path = std::path::Path::new(name);
        let scenario = if name.ends_with(".yaml") || name.ends_with(".yml") || path.exists() {
            match themelios_check::file::load(path) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        } else {
            match scenarios::by_name(name) {
                Some(s) => s,
                None => {
                    eprintln!("error: no built-in scenario {name:?}; see `themelios scenarios`");
                    return ExitCode::from(2);
                }
            }
        };
        let name = scenario.name.clone();
        for consistency in &models {
            let linear = Consistency::named("linearizable").unwrap_or(*consistency);
            let model = match &args.only {
                Some(actor) => scenario.hybrid(|a| if a == actor { *consistency } else { linear }),
                None => scenario.with_instances(*consistency, args.instances),
            };
            let mut last_print = std::time::Duration::ZERO;
            let report = check_with_progress(model, args.threads.max(1), |states, unique, elapsed| {
                if elapsed - last_print >= std::time::Duration::from_secs(1) {
                    last_print = elapsed;
                    let rate = states as f64 / elapsed.as_secs_f64().max(1e-9);
                    eprint!("\r  {name} / {consistency}: {states} states, {unique} unique, {rate:.0} states/s   ");
                    let _ = std::io::stderr().flush();
                }
            });
            if last_print > std::time::Duration::ZERO {
                eprintln!();
            }
            let rate = report.states as f64 / report.elapsed.as_secs_f64().max(1e-9);
            let verdict = if report.violation.is_some() { "VIOLATED" } else { "holds" };
            println!(
                "{name} under {consistency} ({} instance(s)): {verdict} — {} states, {} unique, {:.2}s, {rate:.0} states/s",
                args.instances,
                report.states,
                report.unique_states,
                report.elapsed.as_secs_f64()
            );
            if let Some((why, steps)) = report.violation {
                violated = true;
                println!("  property: {why}");
                println!("  counterexample ({} steps):", steps.len());
                for (i, step) in steps.iter().enumerate() {
                    println!("  {:>3}. {step}", i + 1);
                }
            }
        }
    }
    if violated {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
