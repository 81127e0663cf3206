//! `themelios explore SCENARIO`: stateright's Explorer web UI, to walk a scenario's states by hand.

use stateright::Model;
use std::process::ExitCode;

/// Arguments of `themelios explore`.
#[derive(clap::Args)]
pub struct Args {
    /// A built-in scenario or a scenario file.
    scenario: String,
    /// The consistency model (default: the scenario's own).
    #[arg(long)]
    consistency: Option<String>,
    /// Instances of each controller.
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Address to serve on.
    #[arg(long, default_value = "localhost:3000")]
    address: String,
}

/// Serves the Explorer until interrupted.
pub fn run(args: Args) -> ExitCode {
    let scenario = match crate::check::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let model = match crate::check::models(args.consistency.as_deref()) {
        Ok(Some(models)) if models.len() == 1 => scenario.under(models[0], args.instances),
        Ok(None) => scenario.default_model(args.instances),
        Ok(Some(_)) => {
            eprintln!("error: explore one consistency model at a time");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    println!("Explorer for {} on http://{} (Ctrl-C to stop)", scenario.name, args.address);
    model.checker().serve(args.address.as_str());
    ExitCode::SUCCESS
}
