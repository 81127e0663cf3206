//! The live processes: `controller-manager`, `scheduler`, `nodes`, and `cluster` (all of them with the API
//! server in one process), each the same controllers the checker explores, driven by `themelios-runtime`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use themelios_controllers::cronjob::CronJobController;
use themelios_controllers::daemonset::DaemonSetController;
use themelios_controllers::deployment::DeploymentController;
use themelios_controllers::framework::AnyController;
use themelios_controllers::garbagecollector::GarbageCollector;
use themelios_controllers::job::JobController;
use themelios_controllers::kubelet::{Kubelet, NodeConfig};
use themelios_controllers::namespace::NamespaceController;
use themelios_controllers::nodelifecycle::NodeLifecycleController;
use themelios_controllers::podgc::PodGc;
use themelios_controllers::replicaset::ReplicaSetController;
use themelios_controllers::scheduler::Scheduler;
use themelios_controllers::statefulset::StatefulSetController;
use themelios_controllers::ttlafterfinished::TtlAfterFinishedController;
use themelios_runtime::DriverOptions;
use tokio::sync::watch;

/// The controller-manager's controllers, by the names `--controllers` takes (upstream's names).
const CONTROLLERS: &[&str] = &[
    "deployment",
    "replicaset",
    "statefulset",
    "daemonset",
    "job",
    "cronjob",
    "ttl-after-finished",
    "garbage-collector",
    "namespace",
    "node-lifecycle",
    "pod-garbage-collector",
];

fn controller(name: &str) -> Option<Box<dyn AnyController>> {
    Some(match name {
        "deployment" => Box::new(DeploymentController),
        "replicaset" => Box::new(ReplicaSetController),
        "statefulset" => Box::new(StatefulSetController),
        "daemonset" => Box::new(DaemonSetController),
        "job" => Box::new(JobController),
        "cronjob" => Box::new(CronJobController),
        "ttl-after-finished" => Box::new(TtlAfterFinishedController),
        "garbage-collector" => Box::new(GarbageCollector),
        "namespace" => Box::new(NamespaceController),
        "node-lifecycle" => Box::new(NodeLifecycleController),
        "pod-garbage-collector" => Box::new(PodGc::default()),
        _ => return None,
    })
}

fn nodes(count: usize, prefix: &str) -> Vec<Box<dyn AnyController>> {
    (1..=count)
        .map(|i| Box::new(Kubelet::new(NodeConfig::new(format!("{prefix}-{i}")))) as Box<dyn AnyController>)
        .collect()
}

/// Where to find the API server.
#[derive(clap::Args)]
pub struct Connection {
    /// The kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
}

/// Arguments of `themelios controller-manager`.
#[derive(clap::Args)]
pub struct ControllerManagerArgs {
    #[command(flatten)]
    connection: Connection,
    /// The controllers to run, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    controllers: Vec<String>,
}

/// Arguments of `themelios scheduler`.
#[derive(clap::Args)]
pub struct SchedulerArgs {
    #[command(flatten)]
    connection: Connection,
}

/// Arguments of `themelios nodes`.
#[derive(clap::Args)]
pub struct NodesArgs {
    #[command(flatten)]
    connection: Connection,
    /// How many simulated nodes.
    #[arg(long, default_value_t = 3)]
    count: usize,
    /// Node names are PREFIX-1, PREFIX-2, …
    #[arg(long, default_value = "node")]
    prefix: String,
}

/// Arguments of `themelios cluster`.
#[derive(clap::Args)]
pub struct ClusterArgs {
    /// How many simulated nodes.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Where the store, certificates and kubeconfig live; a restart on it resumes where it stopped.
    #[arg(long, default_value = "themelios-data")]
    data_dir: PathBuf,
    /// The HTTPS port (0 picks a free one).
    #[arg(long, default_value_t = 6443)]
    port: u16,
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| {
        eprintln!("error: starting the async runtime: {e}");
        ExitCode::from(2)
    })
}

async fn client(kubeconfig: Option<&Path>) -> Result<kube::Client, String> {
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path).map_err(|e| format!("{}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => kube::Config::infer().await.map_err(|e| format!("finding a kubeconfig: {e}"))?,
    };
    kube::Client::try_from(config).map_err(|e| format!("connecting: {e}"))
}

/// Runs controllers until Ctrl-C.
fn drive(connection: &Connection, controllers: Vec<Box<dyn AnyController>>, what: &str) -> ExitCode {
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let client = match client(connection.kubeconfig.as_deref()).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let (stop, stopped) = watch::channel(false);
        println!("{what}: {} controllers running", controllers.len());
        let driver = tokio::spawn(themelios_runtime::run(client, controllers, DriverOptions::default(), stopped));
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(true);
        let _ = driver.await;
        ExitCode::SUCCESS
    })
}

/// `themelios controller-manager`
pub fn controller_manager(args: ControllerManagerArgs) -> ExitCode {
    let names: Vec<String> = if args.controllers.is_empty() {
        CONTROLLERS.iter().map(|s| s.to_string()).collect()
    } else {
        args.controllers
    };
    let mut controllers = Vec::new();
    for name in &names {
        match controller(name) {
            Some(c) => controllers.push(c),
            None => {
                eprintln!("error: --controllers: unknown controller {name:?}; known: {}", CONTROLLERS.join(", "));
                return ExitCode::from(2);
            }
        }
    }
    drive(&args.connection, controllers, "controller-manager")
}

/// `themelios scheduler`
pub fn scheduler(args: SchedulerArgs) -> ExitCode {
    drive(&args.connection, vec![Box::new(Scheduler::default())], "scheduler")
}

/// `themelios nodes`
pub fn simulated_nodes(args: NodesArgs) -> ExitCode {
    drive(&args.connection, nodes(args.count, &args.prefix), "nodes")
}

/// `themelios cluster`: the API server, the controller-manager, the scheduler and N simulated nodes in one
/// process, on the embedded store.
pub fn cluster(args: ClusterArgs) -> ExitCode {
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let mut options = themelios_apiserver::serve::Options::new(&args.data_dir);
        options.port = args.port;
        let server = match themelios_apiserver::serve::start(options).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let client = match client(Some(&server.kubeconfig)).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let mut controllers: Vec<Box<dyn AnyController>> = CONTROLLERS.iter().filter_map(|n| controller(n)).collect();
        controllers.push(Box::new(Scheduler::default()));
        controllers.extend(nodes(args.nodes, "node"));
        let (stop, stopped) = watch::channel(false);
        let driver = tokio::spawn(themelios_runtime::run(client, controllers, DriverOptions::default(), stopped));
        println!(
            "serving https://{} with {} simulated nodes (data in {})",
            server.secure,
            args.nodes,
            args.data_dir.display()
        );
        println!("kubeconfig: {}", server.kubeconfig.display());
        println!("export KUBECONFIG={}", server.kubeconfig.display());
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down");
        let _ = stop.send(true);
        let _ = driver.await;
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}
