//! The built-in scenarios.

use crate::model::{ClusterModel, State, UserOp};
use crate::scenario::Scenario;
use std::collections::BTreeMap;
use themelios_api::{Kind, ObjectRef, Op, StateRead};
use themelios_controllers::fixtures;
use themelios_controllers::harness::Harness;
use themelios_controllers::kubelet::{self, Kubelet, NodeConfig};
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
