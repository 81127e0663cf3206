//! The live processes: `controller-manager`, `scheduler`, `nodes`, and `cluster` (all of them with the API
//! server in one process), each the same controllers the checker explores, driven by `themelios-runtime`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use themelios_controllers::framework::AnyController;
use themelios_controllers::kubelet::{Kubelet, NodeConfig};
use themelios_controllers::registry;
use themelios_controllers::scheduler::Scheduler;
use themelios_runtime::DriverOptions;
use tokio::sync::watch;

/// The controller-manager's controller called `name` (upstream's names, as `--controllers` takes them).
fn controller(name: &str, settings: &registry::Settings) -> Option<Box<dyn AnyController>> {
    registry::by_name(name).filter(|r| r.in_controller_manager).map(|r| (r.make)(settings))
}

/// The CA bundle the root CA publisher publishes: `--root-ca-file`, else the CA the kubeconfig trusts (as
/// upstream's controller-manager falls back to its client's CA).
async fn root_ca_bundle(root_ca_file: Option<&Path>, kubeconfig: Option<&Path>) -> Result<String, String> {
    if let Some(path) = root_ca_file {
        return std::fs::read_to_string(path).map_err(|e| format!("--root-ca-file {}: {e}", path.display()));
    }
    let config = kube_config(kubeconfig).await?;
    let certificates = config.root_cert.unwrap_or_default();
    if certificates.is_empty() {
        return Err("the kubeconfig names no CA; give the bundle to publish with --root-ca-file".into());
    }
    Ok(certificates.iter().map(|der| pem("CERTIFICATE", der)).collect())
}

/// DER bytes as a PEM block.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body.as_bytes().chunks(64).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

fn nodes(count: usize, prefix: &str, labels: &[(String, String)], taints: &[NodeTaint]) -> Vec<Box<dyn AnyController>> {
    (1..=count)
        .map(|i| {
            let mut config = NodeConfig::new(format!("{prefix}-{i}"));
            for (key, value) in labels {
                config = config.label(key, value);
            }
            for taint in taints {
                config = config.taint(&taint.key, &taint.value, &taint.effect);
            }
            Box::new(Kubelet::new(config)) as Box<dyn AnyController>
        })
        .collect()
}

/// A taint as the kubelet's `--register-with-taints` spells it: `key=value:Effect` or `key:Effect`.
#[derive(Clone, Debug)]
pub struct NodeTaint {
    key: String,
    value: String,
    effect: String,
}

fn parse_taint(text: &str) -> Result<NodeTaint, String> {
    let (key_value, effect) =
        text.rsplit_once(':').ok_or_else(|| format!("{text:?}: a taint is key=value:Effect or key:Effect"))?;
    if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect) {
        return Err(format!("{text:?}: the effect must be NoSchedule, PreferNoSchedule or NoExecute"));
    }
    let (key, value) = key_value.split_once('=').unwrap_or((key_value, ""));
    if key.is_empty() {
        return Err(format!("{text:?}: the taint has no key"));
    }
    Ok(NodeTaint { key: key.into(), value: value.into(), effect: effect.into() })
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').ok_or_else(|| format!("{text:?}: a label is key=value"))?;
    Ok((key.into(), value.into()))
}

/// Where to find the API server.
#[derive(clap::Args)]
pub struct Connection {
    /// The kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
}

/// Leader election flags, as upstream's components take them.
#[derive(clap::Args)]
pub struct LeaderElectionArgs {
    /// Act only while holding a coordination.k8s.io/v1 Lease, so several replicas can run.
    #[arg(long)]
    leader_elect: bool,
    /// How long a leader's claim lasts after its last renewal (e.g. 15s).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    leader_elect_lease_duration: std::time::Duration,
    /// How long the leader keeps trying to renew before it stops (e.g. 10s).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    leader_elect_renew_deadline: std::time::Duration,
    /// How often candidates try to acquire and the leader renews (e.g. 2s).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    leader_elect_retry_period: std::time::Duration,
    /// The Lease's namespace.
    #[arg(long, default_value = "kube-system")]
    leader_elect_resource_namespace: String,
}

/// Parses `500ms`, `15s`, `2m` or `1h`: a positive duration a Lease can hold (whole seconds up to
/// 2^31 - 1, as `leaseDurationSeconds` is an int32).
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 500ms, 15s or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    let longest = f64::from(i32::MAX);
    if !(seconds > 0.0 && seconds <= longest) {
        return Err(format!("{text:?}: must be more than 0 and at most {longest}s"));
    }
    std::time::Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

impl LeaderElectionArgs {
    /// The election the flags ask for, if any, with upstream's rules for how the durations relate.
    fn election(&self, name: &str) -> Result<Option<themelios_runtime::leader::LeaderElection>, String> {
        if !self.leader_elect {
            return Ok(None);
        }
        // Upstream's leaderelection.NewLeaderElector: the jitter on retries is 1.2.
        if self.leader_elect_lease_duration <= self.leader_elect_renew_deadline {
            return Err("--leader-elect-lease-duration must be greater than --leader-elect-renew-deadline".into());
        }
        if self.leader_elect_renew_deadline.as_secs_f64() <= self.leader_elect_retry_period.as_secs_f64() * 1.2 {
            return Err("--leader-elect-renew-deadline must be greater than 1.2 × --leader-elect-retry-period".into());
        }
        Ok(Some({
            let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
            let host = if host.is_empty() { "themelios".to_string() } else { host };
            themelios_runtime::leader::LeaderElection {
                namespace: self.leader_elect_resource_namespace.clone(),
                name: name.to_string(),
                identity: format!("{host}_{}", std::process::id()),
                lease_duration: self.leader_elect_lease_duration,
                renew_deadline: self.leader_elect_renew_deadline,
                retry_period: self.leader_elect_retry_period,
            }
        }))
    }
}

/// Arguments of `themelios controller-manager`.
#[derive(clap::Args)]
pub struct ControllerManagerArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(flatten)]
    leader: LeaderElectionArgs,
    /// The controllers to run, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    controllers: Vec<String>,
    /// The CA bundle to publish as `kube-root-ca.crt` in every namespace (default: the CA the kubeconfig
    /// trusts).
    #[arg(long)]
    root_ca_file: Option<PathBuf>,
}

/// Arguments of `themelios scheduler`.
#[derive(clap::Args)]
pub struct SchedulerArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(flatten)]
    leader: LeaderElectionArgs,
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
    /// Labels the nodes register with, comma-separated key=value (as the kubelet's flag).
    #[arg(long, value_delimiter = ',', value_parser = parse_label)]
    node_labels: Vec<(String, String)>,
    /// Taints the nodes register with, comma-separated key=value:Effect (as the kubelet's flag).
    #[arg(long, value_delimiter = ',', value_parser = parse_taint)]
    register_with_taints: Vec<NodeTaint>,
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
    #[command(flatten)]
    security: crate::apiserver::SecurityArgs,
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| {
        eprintln!("error: starting the async runtime: {e}");
        ExitCode::from(2)
    })
}

/// A client that names `component` in its User-Agent, as upstream's components do, so the server
/// records the component as the field manager of what it writes (not "unknown").
async fn client(kubeconfig: Option<&Path>, component: &str) -> Result<kube::Client, String> {
    let mut config = kube_config(kubeconfig).await?;
    let agent = format!("themelios-{component}/{}", env!("CARGO_PKG_VERSION"));
    if let Ok(agent) = http::HeaderValue::from_str(&agent) {
        config.headers.push((http::header::USER_AGENT, agent));
    }
    kube::Client::try_from(config).map_err(|e| format!("connecting: {e}"))
}

async fn kube_config(kubeconfig: Option<&Path>) -> Result<kube::Config, String> {
    match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path).map_err(|e| format!("{}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| format!("{}: {e}", path.display()))
        }
        None => kube::Config::infer().await.map_err(|e| format!("finding a kubeconfig: {e}")),
    }
}

/// Runs controllers until Ctrl-C (or, under leader election, until the Lease is lost: exit code 1).
fn drive(
    connection: &Connection,
    controllers: Vec<Box<dyn AnyController>>,
    what: &str,
    election: Option<themelios_runtime::leader::LeaderElection>,
) -> ExitCode {
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let client = match client(connection.kubeconfig.as_deref(), what).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        if let Some(election) = &election {
            let lease = format!("{}/{}", election.namespace, election.name);
            println!("{what}: {} waiting for lease {lease}", election.identity);
            tokio::select! {
                _ = election.acquire(client.clone(), |holder| println!("{what}: lease {lease} held by {holder}; standing by")) => {}
                _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
            }
            println!("{what}: {} acquired lease {lease}; leading", election.identity);
        }
        let (stop, stopped) = watch::channel(false);
        println!("{what}: {} controllers running", controllers.len());
        let driver = tokio::spawn(themelios_runtime::run(client.clone(), controllers, DriverOptions::default(), stopped));
        let lost = async {
            match &election {
                Some(election) => election.hold(client.clone()).await,
                None => std::future::pending().await,
            }
        };
        let code = tokio::select! {
            _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
            _ = lost => {
                eprintln!("{what}: lost the lease; stopping");
                ExitCode::from(1)
            }
        };
        let _ = stop.send(true);
        let _ = driver.await;
        code
    })
}

/// `themelios controller-manager`
pub fn controller_manager(args: ControllerManagerArgs) -> ExitCode {
    let election = match args.leader.election("kube-controller-manager") {
        Ok(election) => election,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let names: Vec<String> = if args.controllers.is_empty() {
        registry::controller_manager_names().map(str::to_string).collect()
    } else {
        args.controllers
    };
    let settings = match runtime().and_then(|rt| {
        rt.block_on(root_ca_bundle(args.root_ca_file.as_deref(), args.connection.kubeconfig.as_deref())).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(2)
        })
    }) {
        Ok(root_ca_bundle) => registry::Settings { root_ca_bundle },
        Err(code) => return code,
    };
    let mut controllers = Vec::new();
    for name in &names {
        match controller(name, &settings) {
            Some(c) => controllers.push(c),
            None => {
                eprintln!(
                    "error: --controllers: unknown controller {name:?}; known: {}",
                    registry::controller_manager_names().collect::<Vec<_>>().join(", ")
                );
                return ExitCode::from(2);
            }
        }
    }
    drive(&args.connection, controllers, "controller-manager", election)
}

/// `themelios scheduler`
pub fn scheduler(args: SchedulerArgs) -> ExitCode {
    let election = match args.leader.election("kube-scheduler") {
        Ok(election) => election,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    drive(&args.connection, vec![Box::new(Scheduler::default())], "scheduler", election)
}

/// `themelios nodes`
pub fn simulated_nodes(args: NodesArgs) -> ExitCode {
    let kubelets = nodes(args.count, &args.prefix, &args.node_labels, &args.register_with_taints);
    drive(&args.connection, kubelets, "nodes", None)
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
        args.security.configure(&mut options);
        let server = match themelios_apiserver::serve::start(options).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let client = match client(Some(&server.kubeconfig), "cluster").await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let settings = match root_ca_bundle(None, Some(&server.kubeconfig)).await {
            Ok(root_ca_bundle) => registry::Settings { root_ca_bundle },
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let mut controllers: Vec<Box<dyn AnyController>> =
            registry::controller_manager_names().filter_map(|name| controller(name, &settings)).collect();
        controllers.push(Box::new(Scheduler::default()));
        controllers.extend(nodes(args.nodes, "node", &[], &[]));
        let (stop, stopped) = watch::channel(false);
        let driver = tokio::spawn(themelios_runtime::run(client, controllers, DriverOptions::default(), stopped));
        println!(
            "serving https://{} with {} simulated nodes (data in {})",
            server.secure,
            args.nodes,
            args.data_dir.display()
        );
        // An absolute path, so the printed export line works from any directory.
        let kubeconfig = std::fs::canonicalize(&server.kubeconfig).unwrap_or_else(|_| server.kubeconfig.clone());
        println!("kubeconfig: {}", kubeconfig.display());
        println!("export KUBECONFIG={}", kubeconfig.display());
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down");
        let _ = stop.send(true);
        let _ = driver.await;
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}
