//! The namespace deletion flow and the node lifecycle controller.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Toleration};
use themelios_api::{pod as podutil, Kind, ObjectRef, Op, Reason};
use themelios_controllers::deployment::DeploymentController;
use themelios_controllers::fixtures::{self, meta, pod};
use themelios_controllers::harness::Harness;
use themelios_controllers::kubelet::{Kubelet, NodeConfig};
use themelios_controllers::namespace::{self, NamespaceController};
use themelios_controllers::nodelifecycle::{self, NodeLifecycleController, UNREACHABLE};
use themelios_controllers::replicaset::ReplicaSetController;
use themelios_controllers::scheduler::Scheduler;

#[test]
fn deleting_a_namespace_removes_its_contents_then_itself() {
    let mut h = Harness::new();
    h.add(NamespaceController);
    h.add(DeploymentController);
    h.add(ReplicaSetController);
    h.add(Scheduler::default());
    h.add(Kubelet::new(NodeConfig::new("node-1")));
    h.check(namespace::properties());
    h.create(Namespace { metadata: meta("", "doomed", &[]), ..Default::default() }).unwrap();
    h.create(fixtures::deployment("doomed", "web", 2, &[("app", "web")])).unwrap();
    h.create(ConfigMap { metadata: meta("doomed", "settings", &[]), ..Default::default() }).unwrap();
    h.settle().unwrap();
    assert_eq!(h.list::<Pod>().len(), 2);
    h.submit(Op::delete(ObjectRef::new(Kind::Namespace, "", "doomed"))).unwrap();
    let late = h.create(pod("doomed", "late", &[])).unwrap_err();
    assert_eq!(late.reason, Reason::Forbidden, "no new content in a terminating namespace");
    h.run_to_quiescence().unwrap();
    assert!(h.get::<Namespace>("", "doomed").is_none());
    assert!(h.list::<Pod>().is_empty() && h.list::<Deployment>().is_empty() && h.list::<ConfigMap>().is_empty());
    assert!(h.get::<Namespace>("", "default").is_some(), "other namespaces are untouched");
}

#[test]
fn a_silent_node_is_tainted_its_pods_evicted_and_it_recovers() {
    let mut h = Harness::new();
    h.add(NodeLifecycleController);
    h.add(Scheduler::default());
    let kubelet = h.add(Kubelet::new(NodeConfig::new("node-1")));
    h.check(nodelifecycle::properties());
    h.create(pod("default", "ordinary", &[])).unwrap();
    let mut stays = pod("default", "tolerant", &[]);
    stays.spec.as_mut().unwrap().tolerations = Some(vec![Toleration {
        key: Some(UNREACHABLE.into()),
        operator: Some("Exists".into()),
        effect: Some("NoExecute".into()),
        ..Default::default()
    }]);
    h.create(stays).unwrap();
    h.settle().unwrap();
    assert!(h.list::<Pod>().iter().all(|p| podutil::node_name(p) == Some("node-1")));

    h.stop(kubelet);
    h.run_for(60).unwrap();
    let node = h.get::<Node>("", "node-1").unwrap();
    let conditions = node.status.as_ref().unwrap().conditions.clone().unwrap();
    assert_eq!(conditions.len(), 4, "Ready and the three pressure conditions");
    assert!(conditions.iter().all(|c| c.status == "Unknown" && c.reason.as_deref() == Some("NodeStatusUnknown")));
    let taints = node.spec.unwrap().taints.unwrap();
    for effect in ["NoSchedule", "NoExecute"] {
        assert!(taints.iter().any(|t| t.key == UNREACHABLE && t.effect == effect), "{effect}: {taints:?}");
    }
    // Its pods are marked not ready, as upstream's MarkPodsNotReady does.
    for name in ["ordinary", "tolerant"] {
        assert!(!podutil::is_ready(&h.get::<Pod>("default", name).unwrap()), "{name} is still ready");
    }
    // Pods tolerate unreachable for the default 300 s, then go; an unlimited toleration keeps a pod.
    assert!(h.get::<Pod>("default", "ordinary").unwrap().metadata.deletion_timestamp.is_none());
    h.run_for(400).unwrap();
    assert!(h.get::<Pod>("default", "ordinary").unwrap().metadata.deletion_timestamp.is_some(), "evicted after 300 s");
    assert!(h.get::<Pod>("default", "tolerant").unwrap().metadata.deletion_timestamp.is_none());

    h.restart(kubelet);
    h.run_for(30).unwrap();
    let node = h.get::<Node>("", "node-1").unwrap();
    assert!(node.spec.unwrap().taints.is_none(), "untainted once the kubelet reports again");

    // A cordon is a NoSchedule taint too, gone with the cordon.
    h.modify::<Node>("", "node-1", |n| n.spec.get_or_insert_with(Default::default).unschedulable = Some(true)).unwrap();
    h.settle().unwrap();
    let taints = h.get::<Node>("", "node-1").unwrap().spec.unwrap().taints.unwrap_or_default();
    assert!(taints.iter().any(|t| t.key == "node.kubernetes.io/unschedulable" && t.effect == "NoSchedule"));
    h.modify::<Node>("", "node-1", |n| n.spec.get_or_insert_with(Default::default).unschedulable = None).unwrap();
    h.settle().unwrap();
    assert!(h.get::<Node>("", "node-1").unwrap().spec.unwrap().taints.is_none());
}
