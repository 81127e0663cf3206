//! Every controller of the foundation together, in many seeded orders, with every property checked after
//! every step and every goal at quiescence.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use themelios_api::{pod as podutil, Kind, ObjectRef, Op};
use themelios_controllers::fixtures::replica_set;
use themelios_controllers::garbagecollector::GarbageCollector;
use themelios_controllers::harness::Harness;
use themelios_controllers::kubelet::{Kubelet, NodeConfig};
use themelios_controllers::nodelifecycle::NodeLifecycleController;
use themelios_controllers::podgc::PodGc;
use themelios_controllers::replicaset::ReplicaSetController;
use themelios_controllers::rootcacert::RootCaPublisher;
use themelios_controllers::scheduler::Scheduler;
use themelios_controllers::serviceaccount::ServiceAccountController;

const NS: &str = "default";

fn running_pods_on(h: &Harness, node: &str) -> usize {
    h.list::<Pod>().iter().filter(|p| podutil::node_name(p) == Some(node) && podutil::is_active(p)).count()
}

#[test]
fn replicas_survive_scaling_and_node_loss_in_every_seeded_order() {
    for seed in 0..50 {
        let mut h = Harness::new().seeded(seed);
        h.add(ReplicaSetController);
        h.add(Scheduler::default());
        h.add(PodGc::default());
        h.add(GarbageCollector);
        h.add(NodeLifecycleController);
        h.add(ServiceAccountController);
        h.add(RootCaPublisher::default());
        let mut kubelets = Vec::new();
        for i in 1..=3 {
            kubelets.push(h.add(Kubelet::new(NodeConfig::new(format!("node-{i}")).cpu("2").pods(4))));
        }
        h.check(themelios_controllers::all_properties());

        h.create(replica_set(NS, "web", 5, &[("app", "web")])).unwrap();
        h.settle().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let ready = h.list::<Pod>().iter().filter(|p| podutil::is_ready(p)).count();
        assert_eq!(ready, 5, "seed {seed}");

        h.submit(Op::Scale {
            target: ObjectRef::new(Kind::ReplicaSet, NS, "web"),
            replicas: 8,
            resource_version: None,
        })
        .unwrap();
        h.settle().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(h.get::<ReplicaSet>(NS, "web").unwrap().status.unwrap().ready_replicas, Some(8), "seed {seed}");

        // node-3 is lost: its kubelet stops and the Node object goes. Pod GC collects its pods after the
        // quarantine, the garbage collector its Lease, and the ReplicaSet replaces the pods on the nodes
        // that remain (4 pods fit per node).
        h.stop(kubelets[2]);
        h.submit(Op::delete(ObjectRef::new(Kind::Node, "", "node-3"))).unwrap();
        h.run_to_quiescence().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(running_pods_on(&h, "node-3"), 0, "seed {seed}");
        assert_eq!(running_pods_on(&h, "node-1") + running_pods_on(&h, "node-2"), 8, "seed {seed}");
        assert_eq!(h.get::<ReplicaSet>(NS, "web").unwrap().status.unwrap().ready_replicas, Some(8), "seed {seed}");
        assert!(
            h.get::<k8s_openapi::api::coordination::v1::Lease>("kube-node-lease", "node-3").is_none(),
            "seed {seed}"
        );
    }
}

#[test]
fn a_restarted_replicaset_controller_does_not_overshoot() {
    let mut h = Harness::new();
    let rs = h.add(ReplicaSetController);
    h.add(Scheduler::default());
    h.add(Kubelet::new(NodeConfig::new("node-1")));
    h.add(ServiceAccountController);
    h.add(RootCaPublisher::default());
    h.check(themelios_controllers::all_properties());
    h.create(replica_set(NS, "web", 3, &[("app", "web")])).unwrap();
    // Crash the controller after its first create: it forgets its expectations and must re-derive them.
    h.run_until(|h| h.list::<Pod>().len() == 1).unwrap();
    h.restart(rs);
    h.settle().unwrap();
    assert_eq!(h.list::<Pod>().len(), 3);
}
