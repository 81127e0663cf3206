//! `themelios simulate`: manifests run through the controllers on simulated nodes, deterministically.

use crate::tables;
use crate::validate::read_manifests;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use std::process::ExitCode;
use themelios_api::{pod as podutil, Kind, Op, Time};
use themelios_controllers::cronjob::CronJobController;
use themelios_controllers::daemonset::DaemonSetController;
use themelios_controllers::deployment::DeploymentController;
use themelios_controllers::garbagecollector::GarbageCollector;
use themelios_controllers::harness::Harness;
use themelios_controllers::job::JobController;
use themelios_controllers::kubelet::{Kubelet, NodeConfig};
use themelios_controllers::namespace::NamespaceController;
use themelios_controllers::nodelifecycle::NodeLifecycleController;
use themelios_controllers::podgc::PodGc;
use themelios_controllers::replicaset::ReplicaSetController;
use themelios_controllers::rootcacert::RootCaPublisher;
use themelios_controllers::scheduler::Scheduler;
use themelios_controllers::serviceaccount::ServiceAccountController;
use themelios_controllers::statefulset::StatefulSetController;
use themelios_controllers::ttlafterfinished::TtlAfterFinishedController;

const EXAMPLE: &str = include_str!("../../../examples/cluster.yaml");

/// Kinds a controller of this build acts on; objects of other kinds are stored as they are.
const CONTROLLED: &[Kind] = &[
    Kind::Deployment,
    Kind::ReplicaSet,
    Kind::StatefulSet,
    Kind::ControllerRevision,
    Kind::PersistentVolumeClaim,
    Kind::DaemonSet,
    Kind::ConfigMap,
    Kind::ReplicationController,
    Kind::Lease,
    Kind::Job,
    Kind::CronJob,
    Kind::Pod,
    Kind::Node,
    Kind::Namespace,
];

/// Arguments of `themelios simulate`.
#[derive(clap::Args)]
pub struct Args {
    /// Manifest files to create (default: a built-in example Deployment and two pods).
    files: Vec<std::path::PathBuf>,
    /// Simulated nodes (each 4 CPUs, 16 GiB, 110 pods).
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Shuffle the controllers' turns with this seed (default: a fixed order).
    #[arg(long)]
    seed: Option<u64>,
    /// Stop after this many steps if the system has not settled.
    #[arg(long, default_value_t = 100_000)]
    max_steps: usize,
    /// Move logical time at most this many seconds ahead (time moves only while work is due).
    #[arg(long, default_value_t = 3600)]
    max_seconds: i64,
    /// Print only the final tables, not every step.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: Args) -> ExitCode {
    let manifests = if args.files.is_empty() {
        themelios_api::manifest::decode("examples/cluster.yaml", EXAMPLE)
            .map(|ms| ms.into_iter().map(|m| ("examples/cluster.yaml".to_string(), m)).collect())
            .map_err(|e| e.to_string())
    } else {
        read_manifests(&args.files)
    };
    let manifests = match manifests {
        Ok(m) => m,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };

    let mut h = Harness::new().step_limit(args.max_steps);
    if let Some(seed) = args.seed {
        h = h.seeded(seed);
    }
    h.add(DeploymentController);
    h.add(ReplicaSetController);
    h.add(StatefulSetController);
    h.add(DaemonSetController);
    h.add(JobController);
    h.add(CronJobController);
    h.add(TtlAfterFinishedController);
    h.add(Scheduler::default());
    h.add(PodGc::default());
    h.add(GarbageCollector);
    h.add(NamespaceController);
    h.add(NodeLifecycleController);
    h.add(ServiceAccountController);
    h.add(RootCaPublisher::default());
    for i in 1..=args.nodes {
        h.add(Kubelet::new(NodeConfig::new(format!("node-{i}"))));
    }
    h.check(themelios_controllers::all_properties());

    for (file, m) in manifests {
        let kind = m.object.kind();
        if !CONTROLLED.contains(&kind) {
            eprintln!("note: {file}:{}: no controller for {kind} in this build yet; it is stored as it is", m.line);
        }
        let mut object = m.object;
        if kind.namespaced() && object.meta().namespace.is_none() {
            object.meta_mut().namespace = Some("default".into());
        }
        if let Err(err) = h.submit(Op::Create(object)) {
            eprintln!("error: {file}:{}: {}", m.line, err.message);
            return ExitCode::from(2);
        }
    }

    let result = h.run_to_quiescence_within(args.max_seconds);
    if !args.quiet {
        for entry in h.log() {
            println!("{entry}");
        }
        println!();
    }
    print_summary(&h);
    match result {
        Ok(()) => {
            let settled = h.log().last().map_or(Time::EPOCH, |e| e.time);
            println!(
                "\n{} steps; settled at t={}s of logical time; every property held after every step.",
                h.log().len(),
                settled.seconds_since(Time::EPOCH)
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("\n{err}");
            ExitCode::from(1)
        }
    }
}

fn print_summary(h: &Harness) {
    let deployments: Vec<Vec<String>> = h
        .list::<Deployment>()
        .iter()
        .map(|d| {
            let status = d.status.clone().unwrap_or_default();
            let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            vec![
                d.metadata.name.clone().unwrap_or_default(),
                format!("{}/{want}", status.ready_replicas.unwrap_or(0)),
                status.updated_replicas.unwrap_or(0).to_string(),
                status.available_replicas.unwrap_or(0).to_string(),
            ]
        })
        .collect();
    if !deployments.is_empty() {
        tables::print(&["DEPLOYMENT", "READY", "UP-TO-DATE", "AVAILABLE"], &deployments);
        println!();
    }
    let sets: Vec<Vec<String>> = h
        .list::<ReplicaSet>()
        .iter()
        .map(|rs| {
            let status = rs.status.clone().unwrap_or_default();
            vec![
                rs.metadata.name.clone().unwrap_or_default(),
                rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).to_string(),
                status.replicas.to_string(),
                status.ready_replicas.unwrap_or(0).to_string(),
            ]
        })
        .collect();
    if !sets.is_empty() {
        tables::print(&["REPLICASET", "DESIRED", "CURRENT", "READY"], &sets);
        println!();
    }
    let pods: Vec<Vec<String>> = h
        .list::<Pod>()
        .iter()
        .map(|p| {
            let reason = podutil::condition(p, "PodScheduled")
                .filter(|c| c.status == "False")
                .and_then(|c| c.message.clone())
                .unwrap_or_default();
            vec![
                p.metadata.name.clone().unwrap_or_default(),
                podutil::phase(p).to_string(),
                if podutil::is_ready(p) { "1/1" } else { "0/1" }.to_string(),
                podutil::node_name(p).unwrap_or("<none>").to_string(),
                reason,
            ]
        })
        .collect();
    tables::print(&["POD", "STATUS", "READY", "NODE", "MESSAGE"], &pods);
}
