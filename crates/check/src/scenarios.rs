//! The built-in scenarios.

use crate::model::{ClusterModel, State, UserOp};
use crate::scenario::Scenario;
use std::collections::BTreeMap;
use themelios_api::{Kind, ObjectRef, Op, StateRead};
use themelios_controllers::deployment::{self, DeploymentController};
use themelios_controllers::fixtures;
use themelios_controllers::harness::Harness;
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
        setup: || {
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
        },
        user_ops: vec![|| UserOp {
            name: "delete pod default/db-0".into(),
            request: Box::new(|store| {
                store.get(Kind::Pod, &themelios_api::ObjectName::new("default", "db-0"))?;
                Some(Op::delete(ObjectRef::new(Kind::Pod, "default", "db-0")))
            }),
        }],
        restarts: vec![("kubelet/node-1".into(), 1)],
        properties: statefulset::properties,
        model_checks: vec![(
            "statefulset: at most one running pod per identity across nodes",
            one_running_pod_per_identity,
        )],
    }
}

/// Every built-in scenario.
pub fn builtin() -> Vec<Scenario> {
    vec![replica_set_spec_replicas_change(), deployment_rolling_update(), issue_59848()]
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
        setup: || {
            let mut h = Harness::new();
            h.add(ReplicaSetController);
            h.create(fixtures::replica_set("default", "web", 2, &[("app", "web")])).expect("valid fixture");
            let _ = h.settle();
            h
        },
        user_ops: vec![|| scale(Kind::ReplicaSet, "web", 3), || scale(Kind::ReplicaSet, "web", 1)],
        restarts: vec![("replicaset-controller".into(), 1)],
        properties: replicaset::properties,
        model_checks: vec![],
    }
}

/// Deployment TestDeploymentRollingUpdate, small: 2 replicas, a template change, pods made ready by the
/// test, the Deployment and ReplicaSet controllers interleaving.
pub fn deployment_rolling_update() -> Scenario {
    Scenario {
        name: "Deployment-TestDeploymentRollingUpdate".into(),
        setup: || {
            let mut h = Harness::new();
            h.add(DeploymentController);
            h.add(ReplicaSetController);
            h.add(fixtures::PodReadier::default());
            h.create(fixtures::deployment("default", "web", 2, &[("app", "web")])).expect("valid fixture");
            let _ = h.run_to_quiescence();
            h
        },
        user_ops: vec![|| UserOp {
            name: "set image of default/web to nginx:2".into(),
            request: Box::new(|store| {
                let d = store.get(Kind::Deployment, &themelios_api::ObjectName::new("default", "web"))?;
                let mut d = d.typed::<k8s_openapi::api::apps::v1::Deployment>()?.clone();
                d.spec.as_mut()?.template.spec.as_mut()?.containers[0].image = Some("nginx:2".into());
                Some(Op::Update(themelios_api::Resource::into_object(d)))
            }),
        }],
        restarts: vec![],
        properties: || {
            let mut all = deployment::properties();
            all.extend(replicaset::properties());
            all
        },
        model_checks: vec![],
    }
}
