//! The built-in scenarios.

use crate::model::{ClusterModel, State, UserOp};
use crate::scenario::Scenario;
use std::collections::BTreeMap;
use themelios_api::{Kind, ObjectRef, Op, StateRead};
use themelios_controllers::deployment::{self, DeploymentController};
use themelios_controllers::fixtures;
use themelios_controllers::harness::Harness;
use themelios_controllers::job::{self, JobController};
use themelios_controllers::kubelet::{self, Kubelet, NodeConfig};
use themelios_controllers::replicaset::{self, ReplicaSetController};
use themelios_controllers::scheduler::Scheduler;
use themelios_controllers::statefulset::{self, StatefulSetController};

/// At most one running pod per StatefulSet identity across every kubelet: the form kubernetes #59848
/// breaks, seen from what the nodes run rather than from the API.
pub fn one_running_pod_per_identity(model: &ClusterModel, state: &State) -> Result<(), String> {
    let mut running: BTreeMap<&str, (&str, String)> = BTreeMap::new();
    for (i, actor) in state.actors.iter().enumerate() {
        let Some(local) = actor.local.as_any().downcast_ref::<kubelet::Local>() else { continue };
        let node = model.controllers[i].name();
        for (name, uid) in &local.running {
            if let Some((other_uid, other_node)) = running.get(name.as_str()) {
                if *other_uid != uid.as_str() {
                    return Err(format!("{name} runs twice: uid {other_uid} on {other_node} and uid {uid} on {node}"));
                }
            }
            running.insert(name, (uid, node.clone()));
        }
    }
    Ok(())
}

/// Kubernetes issue 59848: a StatefulSet pod is deleted and recreated; a kubelet that restarts and lists
/// from a lagging API server cache sees the old pod still bound to it and runs it again, while the new pod
/// with the same identity runs too.
pub fn issue_59848() -> Scenario {
    Scenario {
        name: "StatefulSet-stale-read-59848".into(),
        setup: Box::new(|| {
            let mut h = Harness::new();
            h.add(StatefulSetController);
            h.add(Scheduler::default());
            h.add(Kubelet::new(NodeConfig::new("node-1")));
            h.add(Kubelet::new(NodeConfig::new("node-2")));
            h.create(fixtures::stateful_set("default", "db", 1, &[("app", "db")], false)).expect("valid fixture");
            let _ = h.settle();
            // A busy node-1 makes the scheduler place a recreated db-0 on node-2, as in the original report.
            let mut filler = fixtures::pod_requesting("default", "filler", "1", "1Gi");
            if let Some(spec) = filler.spec.as_mut() {
                spec.node_name = Some("node-1".into());
            }
            h.create(filler).expect("valid fixture");
            let _ = h.settle();
            h
        }),
        user_ops: vec![Box::new(|| UserOp {
            name: "delete pod default/db-0".into(),
            request: Box::new(|store| {
                store.get(Kind::Pod, &themelios_api::ObjectName::new("default", "db-0"))?;
                Some(Op::delete(ObjectRef::new(Kind::Pod, "default", "db-0")))
            }),
        })],
        restarts: vec![("kubelet/node-1".into(), 1)],
        properties: Box::new(statefulset::properties),
        model_checks: vec![(
            "statefulset: at most one running pod per identity across nodes",
            one_running_pod_per_identity,
        )],
    }
}

/// Every built-in scenario.
pub fn builtin() -> Vec<Scenario> {
    vec![
        deployment_new(),
        deployment_rolling_update(),
        deployment_paused(),
        job_non_parallel(),
        job_parallel(),
        replica_set_spec_replicas_change(),
        replica_set_overlapping(),
        stateful_set_spec_replicas_change(),
        issue_59848(),
    ]
}

/// The user operation that finishes one active pod of a Job with an exit code, as upstream's tests set
/// pod status by hand.
fn finish_job_pod(name: &'static str, exit_code: i32) -> UserOp {
    UserOp {
        name: format!("a pod of job default/{name} exits {exit_code}"),
        request: Box::new(move |store| {
            let pods = store.list(Kind::Pod, Some("default"));
            let pod = pods.iter().filter_map(|p| p.typed::<k8s_openapi::api::core::v1::Pod>()).find(|p| {
                themelios_api::pod::is_active(p)
                    && p.metadata.owner_references.iter().flatten().any(|r| r.kind == "Job" && r.name == name)
            })?;
            let mut finished = pod.clone();
            fixtures::finish(&mut finished, exit_code, themelios_api::Time::EPOCH);
            Some(Op::UpdateStatus(themelios_api::Resource::into_object(finished)))
        }),
    }
}

/// Deployment TestNewDeployment: a new Deployment of 2 replicas rolls out to completion.
pub fn deployment_new() -> Scenario {
    Scenario {
        name: "Deployment-TestNewDeployment".into(),
        setup: Box::new(|| {
            let mut h = Harness::new();
            h.add(DeploymentController);
            h.add(ReplicaSetController);
            h.add(fixtures::PodReadier::default());
            h.create(fixtures::deployment("default", "web", 2, &[("app", "web")])).expect("valid fixture");
            h
        }),
        user_ops: Vec::new(),
        restarts: vec![],
        properties: Box::new(deployment_and_replica_set_properties),
        model_checks: vec![],
    }
}

fn deployment_and_replica_set_properties() -> Vec<themelios_controllers::framework::Property> {
    let mut all = deployment::properties();
    all.extend(replicaset::properties());
    all
}

/// Deployment TestPausedDeployment: a Deployment created paused creates nothing until it is resumed.
pub fn deployment_paused() -> Scenario {
    Scenario {
        name: "Deployment-TestPausedDeployment".into(),
        setup: Box::new(|| {
            let mut h = Harness::new();
            h.add(DeploymentController);
            h.add(ReplicaSetController);
            h.add(fixtures::PodReadier::default());
            let mut d = fixtures::deployment("default", "web", 1, &[("app", "web")]);
            if let Some(spec) = d.spec.as_mut() {
                spec.paused = Some(true);
            }
            h.create(d).expect("valid fixture");
            h
        }),
        user_ops: vec![Box::new(|| UserOp {
            name: "resume default/web".into(),
            request: Box::new(|store| {
                let d = store.get(Kind::Deployment, &themelios_api::ObjectName::new("default", "web"))?;
                let mut d = d.typed::<k8s_openapi::api::apps::v1::Deployment>()?.clone();
                d.spec.as_mut()?.paused = Some(false);
                Some(Op::Update(themelios_api::Resource::into_object(d)))
            }),
        })],
        restarts: vec![],
        properties: Box::new(deployment_and_replica_set_properties),
        model_checks: vec![],
    }
}

/// Job TestNonParallelJob: one pod fails and is replaced, the replacement succeeds; the controller may
/// restart in between.
pub fn job_non_parallel() -> Scenario {
    Scenario {
        name: "Job-TestNonParallelJob".into(),
        setup: Box::new(|| {
            let mut h = Harness::new();
            h.add(JobController);
            h.create(fixtures::job("default", "job", 1, Some(1))).expect("valid fixture");
            let _ = h.settle();
            h
        }),
        user_ops: vec![Box::new(|| finish_job_pod("job", 1)), Box::new(|| finish_job_pod("job", 0))],
        restarts: vec![("job-controller".into(), 1)],
        properties: Box::new(job::properties),
        model_checks: vec![],
    }
}

/// Job TestParallelJob: a work-queue Job of parallelism 2; both pods succeed.
pub fn job_parallel() -> Scenario {
    Scenario {
        name: "Job-TestParallelJob".into(),
        setup: Box::new(|| {
            let mut h = Harness::new();
            h.add(JobController);
            h.create(fixtures::job("default", "job", 2, None)).expect("valid fixture");
            let _ = h.settle();
            h
        }),
        user_ops: vec![Box::new(|| finish_job_pod("job", 0)), Box::new(|| finish_job_pod("job", 0))],
        restarts: vec![],
        properties: Box::new(job::properties),
        model_checks: vec![],
    }
}

/// ReplicaSet TestOverlappingRSs: two ReplicaSets with one selector (1 and 2 replicas) share no pods.
pub fn replica_set_overlapping() -> Scenario {
    Scenario {
        name: "ReplicaSet-TestOverlappingRSs".into(),
        setup: Box::new(|| {
            let mut h = Harness::new();
            h.add(ReplicaSetController);
            h.create(fixtures::replica_set("default", "a", 1, &[("app", "web")])).expect("valid fixture");
            h.create(fixtures::replica_set("default", "b", 2, &[("app", "web")])).expect("valid fixture");
            h
        }),
        user_ops: Vec::new(),
        restarts: vec![],
        properties: Box::new(replicaset::properties),
        model_checks: vec![],
    }
}

/// StatefulSet TestSpecReplicasChange: a Parallel StatefulSet of 2 is scaled to 3 and to 1.
pub fn stateful_set_spec_replicas_change() -> Scenario {
    Scenario {
        name: "StatefulSet-TestSpecReplicasChange".into(),
        setup: Box::new(|| {
            let mut h = Harness::new();
            h.add(StatefulSetController);
            h.add(fixtures::PodReadier::default());
            h.create(fixtures::stateful_set("default", "db", 2, &[("app", "db")], false)).expect("valid fixture");
            let _ = h.settle();
            h
        }),
        user_ops: vec![Box::new(|| scale(Kind::StatefulSet, "db", 3)), Box::new(|| scale(Kind::StatefulSet, "db", 1))],
        restarts: vec![],
        properties: Box::new(statefulset::properties),
        model_checks: vec![],
    }
}

/// A built-in scenario by name.
pub fn by_name(name: &str) -> Option<Scenario> {
    builtin().into_iter().find(|s| s.name == name)
}

fn scale(kind: Kind, name: &'static str, replicas: i32) -> UserOp {
    UserOp {
        name: format!("scale {} default/{name} to {replicas}", kind.name()),
        request: Box::new(move |_| {
            Some(Op::Scale { target: ObjectRef::new(kind, "default", name), replicas, resource_version: None })
        }),
    }
}

/// ReplicaSet TestSpecReplicasChange: a ReplicaSet of 2 is scaled to 3 and to 1 while its controller and
/// the pods' readiness interleave.
pub fn replica_set_spec_replicas_change() -> Scenario {
    Scenario {
        name: "ReplicaSet-TestSpecReplicasChange".into(),
        setup: Box::new(|| {
            let mut h = Harness::new();
            h.add(ReplicaSetController);
            h.create(fixtures::replica_set("default", "web", 2, &[("app", "web")])).expect("valid fixture");
            let _ = h.settle();
            h
        }),
        user_ops: vec![Box::new(|| scale(Kind::ReplicaSet, "web", 3)), Box::new(|| scale(Kind::ReplicaSet, "web", 1))],
        restarts: vec![("replicaset-controller".into(), 1)],
        properties: Box::new(replicaset::properties),
        model_checks: vec![],
    }
}

/// Deployment TestDeploymentRollingUpdate, small: 2 replicas, a template change, pods made ready by the
/// test, the Deployment and ReplicaSet controllers interleaving.
pub fn deployment_rolling_update() -> Scenario {
    Scenario {
        name: "Deployment-TestDeploymentRollingUpdate".into(),
        setup: Box::new(|| {
            let mut h = Harness::new();
            h.add(DeploymentController);
            h.add(ReplicaSetController);
            h.add(fixtures::PodReadier::default());
            h.create(fixtures::deployment("default", "web", 2, &[("app", "web")])).expect("valid fixture");
            let _ = h.run_to_quiescence();
            h
        }),
        user_ops: vec![Box::new(|| UserOp {
            name: "set image of default/web to nginx:2".into(),
            request: Box::new(|store| {
                let d = store.get(Kind::Deployment, &themelios_api::ObjectName::new("default", "web"))?;
                let mut d = d.typed::<k8s_openapi::api::apps::v1::Deployment>()?.clone();
                d.spec.as_mut()?.template.spec.as_mut()?.containers[0].image = Some("nginx:2".into());
                Some(Op::Update(themelios_api::Resource::into_object(d)))
            }),
        })],
        restarts: vec![],
        properties: Box::new(deployment_and_replica_set_properties),
        model_checks: vec![],
    }
}
