//! `themelios`: a model-checked reimplementation of the Kubernetes control plane.

mod apiserver;
mod check;
mod explorer;
mod live;
mod matrix;
mod report;
mod runs;
mod simulate;
mod strategies;
mod tables;
mod validate;

use clap::{Parser, Subcommand};

/// The model checker allocates and frees states at a high rate from two threads; mimalloc does that about
/// twice as fast as glibc's allocator here (measured with `perf`: malloc and free were half the profile).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

/// Themelios: Kubernetes controllers as pure step functions, run deterministically and checked against
/// their documented guarantees.
#[derive(Parser)]
#[command(name = "themelios", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run manifests through the controllers on simulated nodes until nothing more happens.
    Simulate(simulate::Args),
    /// Check manifests against the API's validation and admission rules.
    Validate(validate::Args),
    /// Model-check scenarios over every interleaving under consistency models.
    Check(check::Args),
    /// Serve stateright's Explorer web UI on a scenario.
    Explore(explorer::Args),
    /// List the built-in scenarios.
    Scenarios,
    /// Serve the Kubernetes API (HTTPS, bearer token) on an embedded durable store.
    Apiserver(apiserver::Args),
    /// The API server, controller-manager, scheduler and simulated nodes in one process.
    Cluster(live::ClusterArgs),
    /// Run the controllers against any Kubernetes API server (through a kubeconfig).
    ControllerManager(live::ControllerManagerArgs),
    /// Run the scheduler against any Kubernetes API server.
    Scheduler(live::SchedulerArgs),
    /// Run simulated kubelets (nodes) against any Kubernetes API server.
    Nodes(live::NodesArgs),
}

/// Exit codes: 0 everything held, 1 a property was violated or a manifest was rejected, 2 bad input.
fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Simulate(args) => simulate::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Check(args) => {
            themelios_check::memory::tune_for_exploring();
            check::run(args)
        }
        Command::Explore(args) => {
            themelios_check::memory::tune_for_exploring();
            explorer::run(args)
        }
        Command::Scenarios => check::list(),
        Command::Apiserver(args) => apiserver::run(args),
        Command::Cluster(args) => live::cluster(args),
        Command::ControllerManager(args) => live::controller_manager(args),
        Command::Scheduler(args) => live::scheduler(args),
        Command::Nodes(args) => live::simulated_nodes(args),
    }
}
