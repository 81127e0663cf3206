//! The DaemonSet integration tests of upstream `test/integration/daemonset/daemonset_test.go` (with the
//! scheduler and simulated kubelets), and the robustness matrix's "at most one pod per node" safety check
//! under the faults the harness can inject.

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetUpdateStrategy, RollingUpdateDaemonSet};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use themelios_api::{pod as podutil, ApiError, Kind, Op, Reason, StateRead};
use themelios_controllers::common::revision;
use themelios_controllers::daemonset::{self, target_node, DaemonSetController, REVISION_HASH};
use themelios_controllers::fixtures::{self, labels};
use themelios_controllers::harness::{Harness, SplitMix64};
use themelios_controllers::kubelet::{Kubelet, NodeConfig};
use themelios_controllers::scheduler::Scheduler;

const NS: &str = "default";
const APP: &[(&str, &str)] = &[("app", "agent")];

fn cluster(nodes: Vec<NodeConfig>) -> Harness {
    let mut h = Harness::new();
    h.add(DaemonSetController);
    h.add(Scheduler::default());
    for n in nodes {
        h.add(Kubelet::new(n));
    }
    h.check(daemonset::properties());
    h
}

fn nodes(n: usize) -> Vec<NodeConfig> {
    (1..=n).map(|i| NodeConfig::new(format!("node-{i}"))).collect()
}

fn active_pods(h: &Harness) -> Vec<Pod> {
    h.list::<Pod>().into_iter().filter(podutil::is_active).collect()
}

fn ds(h: &Harness) -> DaemonSet {
    h.get::<DaemonSet>(NS, "agent").unwrap()
}

fn nodes_with_pods(h: &Harness) -> Vec<String> {
    let mut v: Vec<String> = active_pods(h).iter().filter_map(target_node).collect();
    v.sort();
    v
}

fn with_strategy(mut d: DaemonSet, on_delete: bool) -> DaemonSet {
    d.spec.as_mut().unwrap().update_strategy = Some(DaemonSetUpdateStrategy {
        type_: Some(if on_delete { "OnDelete" } else { "RollingUpdate" }.into()),
        rolling_update: None,
    });
    d
}

#[test]
fn test_one_node_and_simple_daemon_set_launch_pods() {
    for on_delete in [false, true] {
        for n in [1, 5] {
            let mut h = cluster(nodes(n));
            h.create(with_strategy(fixtures::daemon_set(NS, "agent", APP), on_delete)).unwrap();
            h.settle().unwrap();
            let pods = active_pods(&h);
            assert_eq!(pods.len(), n);
            assert_eq!(ds(&h).status.unwrap().number_ready, n as i32);
            for p in &pods {
                let refs = p.metadata.owner_references.as_ref().unwrap();
                assert_eq!((refs.len(), refs[0].kind.as_str(), refs[0].controller), (1, "DaemonSet", Some(true)));
                assert!(podutil::node_name(p).is_some(), "placed by the scheduler");
            }
        }
    }
}

#[test]
fn test_simple_daemon_set_restarts_pods_on_terminal_phase() {
    for (phase, finalizer) in [("Succeeded", false), ("Failed", false), ("Failed", true)] {
        let mut h = cluster(nodes(3));
        h.create(fixtures::daemon_set(NS, "agent", APP)).unwrap();
        h.settle().unwrap();
        let victim = active_pods(&h)[0].metadata.name.clone().unwrap();
        if finalizer {
            h.modify::<Pod>(NS, &victim, |p| p.metadata.finalizers = Some(vec!["example.com/hold".into()])).unwrap();
        }
        h.modify_status::<Pod>(NS, &victim, |p| p.status.as_mut().unwrap().phase = Some(phase.into())).unwrap();
        h.settle().unwrap();
        assert_eq!(nodes_with_pods(&h), vec!["node-1", "node-2", "node-3"], "{phase} finalizer={finalizer}");
    }
}

#[test]
fn test_daemon_set_with_node_selector_launches_pods() {
    let mut configs = nodes(6);
    for c in configs.iter_mut().take(2) {
        c.labels.insert("zone".into(), "test".into());
    }
    let mut h = cluster(configs);
    let mut d = fixtures::daemon_set(NS, "agent", APP);
    d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().affinity = Some(Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![
                    NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: "zone".into(),
                            operator: "In".into(),
                            values: Some(vec!["test".into()]),
                        }]),
                        match_fields: None,
                    },
                    NodeSelectorTerm {
                        match_expressions: None,
                        match_fields: Some(vec![NodeSelectorRequirement {
                            key: "metadata.name".into(),
                            operator: "In".into(),
                            values: Some(vec!["node-4".into()]),
                        }]),
                    },
                ],
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    h.create(d).unwrap();
    h.settle().unwrap();
    assert_eq!(nodes_with_pods(&h), vec!["node-1", "node-2", "node-4"]);
}

#[test]
fn test_not_ready_node_daemon_does_launch_pod() {
    let mut h = cluster(vec![]);
    let mut node = fixtures::node("not-ready", "2", "4Gi", 10);
    node.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].status = "False".into();
    h.create(node).unwrap();
    h.create(fixtures::daemon_set(NS, "agent", APP)).unwrap();
    h.settle().unwrap();
    assert_eq!(nodes_with_pods(&h), vec!["not-ready"]);
}

#[test]
fn test_insufficient_capacity_node() {
    let mut h = cluster(vec![NodeConfig::new("big"), NodeConfig::new("tiny").cpu("100m")]);
    let mut d = fixtures::daemon_set(NS, "agent", APP);
    d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0].resources =
        Some(k8s_openapi::api::core::v1::ResourceRequirements {
            requests: Some(
                [("cpu".to_string(), k8s_openapi::apimachinery::pkg::api::resource::Quantity("500m".into()))].into(),
            ),
            ..Default::default()
        });
    h.create(d).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    assert_eq!(h.list::<Pod>().len(), 2, "a pod for every node, whatever its resources");
    let unscheduled = h.list::<Pod>().into_iter().find(|p| podutil::node_name(p).is_none()).unwrap();
    assert_eq!(podutil::condition(&unscheduled, "PodScheduled").unwrap().reason.as_deref(), Some("Unschedulable"));
    let status = ds(&h).status.unwrap();
    assert_eq!((status.number_ready, status.desired_number_scheduled), (1, 2));
}

#[test]
fn test_launch_with_hash_collision() {
    let mut h = cluster(nodes(2));
    let created = h.create(fixtures::daemon_set(NS, "agent", APP)).unwrap();
    // A revision with the name the template would get, holding other data, and controlled by the set.
    let mut colliding =
        revision::new_revision(Kind::DaemonSet, &created.metadata, &created.spec.clone().unwrap().template, 1, None);
    colliding.data = Some(k8s_openapi::apimachinery::pkg::runtime::RawExtension(serde_json::json!({"spec": {}})));
    h.create(colliding).unwrap();
    h.settle().unwrap();
    assert_eq!(ds(&h).status.unwrap().collision_count, Some(1));
    assert_eq!(active_pods(&h).len(), 2, "pods with the new template still appear");
}

#[test]
fn test_dsc_updates_pod_label_after_dedup_cur_histories() {
    let mut h = cluster(nodes(2));
    h.create(with_strategy(fixtures::daemon_set(NS, "agent", APP), true)).unwrap();
    h.settle().unwrap();
    let created = ds(&h);
    // A duplicate of the current revision with a higher number and another name.
    let mut dup =
        revision::new_revision(Kind::DaemonSet, &created.metadata, &created.spec.clone().unwrap().template, 5, Some(7));
    dup.metadata.labels.as_mut().unwrap().insert(REVISION_HASH.into(), "duplicate".into());
    h.create(dup.clone()).unwrap();
    h.settle().unwrap();
    let revisions = h.list::<ControllerRevision>();
    assert_eq!(revisions.len(), 1, "the duplicate is merged away");
    assert_eq!(revisions[0].metadata.name, dup.metadata.name, "the higher revision is kept");
    assert!(
        active_pods(&h).iter().all(|p| p.metadata.labels.as_ref().unwrap()[REVISION_HASH] == "duplicate"),
        "pods relabelled"
    );
}

#[test]
fn test_tainted_node() {
    let mut h =
        cluster(vec![NodeConfig::new("plain"), NodeConfig::new("tainted").taint("dedicated", "infra", "NoSchedule")]);
    h.create(fixtures::daemon_set(NS, "agent", APP)).unwrap();
    h.settle().unwrap();
    assert_eq!(nodes_with_pods(&h), vec!["plain"]);
    h.modify::<Node>("", "tainted", |n| n.spec.as_mut().unwrap().taints = None).unwrap();
    h.settle().unwrap();
    assert_eq!(nodes_with_pods(&h), vec!["plain", "tainted"]);
}

#[test]
fn test_unschedulable_node_daemon_does_launch_pod() {
    let mut h = cluster(vec![
        NodeConfig::new("cordoned"),
        NodeConfig::new("no-network").taint("node.kubernetes.io/network-unavailable", "", "NoSchedule"),
    ]);
    h.settle().unwrap();
    h.modify::<Node>("", "cordoned", |n| n.spec.as_mut().unwrap().unschedulable = Some(true)).unwrap();
    let mut d = fixtures::daemon_set(NS, "agent", APP);
    d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().host_network = Some(true);
    h.create(d).unwrap();
    h.settle().unwrap();
    assert_eq!(nodes_with_pods(&h), vec!["cordoned", "no-network"]);
    assert!(active_pods(&h).iter().all(|p| podutil::node_name(p).is_some()), "both scheduled");
}

#[test]
fn test_update_status_despite_pod_creation_failure() {
    let mut h = cluster(nodes(4));
    h.admit(|op, state| {
        let pods = themelios_api::StateRead::list(state, Kind::Pod, None).len();
        (matches!(op, Op::Create(o) if o.kind() == Kind::Pod) && pods >= 2)
            .then(|| ApiError::forbidden(Kind::Pod, "", "pod quota exceeded"))
    });
    h.create(fixtures::daemon_set(NS, "agent", APP)).unwrap();
    h.expect_goals(false);
    h.run_for(60).unwrap();
    assert_eq!(ds(&h).status.unwrap().number_ready, 2);
}

#[test]
fn test_daemon_set_rolling_update_with_tolerations() {
    // NoExecute taints: a pod that stops tolerating its node's taint is removed.
    let zone = |n: usize, z: &str| {
        NodeConfig::new(format!("node-{z}-{n}")).taint(&format!("zone-{z}"), "true", "NoExecute").taint(
            "zone-common",
            "true",
            "NoExecute",
        )
    };
    let mut h = cluster(vec![zone(1, "y"), zone(2, "y"), zone(3, "y"), zone(1, "z"), zone(2, "z"), zone(3, "z")]);
    let toleration = |key: &str| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some("NoExecute".into()),
        ..Default::default()
    };
    let mut d = fixtures::daemon_set(NS, "agent", APP);
    let spec = d.spec.as_mut().unwrap();
    spec.update_strategy = Some(DaemonSetUpdateStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(RollingUpdateDaemonSet {
            max_unavailable: Some(IntOrString::Int(0)),
            max_surge: Some(IntOrString::Int(1)),
        }),
    });
    spec.template.spec.as_mut().unwrap().tolerations = Some(vec![toleration("zone-y"), toleration("zone-common")]);
    h.create(d).unwrap();
    h.settle().unwrap();
    assert!(nodes_with_pods(&h).iter().all(|n| n.contains("-y-")) && nodes_with_pods(&h).len() == 3);
    // Tolerate both zones: pods spread to zone z as well; the surge adds at most one pod at a time.
    let mut peak = 0;
    h.modify::<DaemonSet>(NS, "agent", |d| {
        d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().tolerations =
            Some(vec![toleration("zone-y"), toleration("zone-z"), toleration("zone-common")]);
    })
    .unwrap();
    h.run_until(|h| {
        peak = peak.max(active_pods(h).len());
        false
    })
    .unwrap();
    assert_eq!(nodes_with_pods(&h).len(), 6);
    assert!(peak <= 7, "at most one surge pod at a time: peak {peak}");
    // No tolerations at all: every pod goes.
    h.modify::<DaemonSet>(NS, "agent", |d| d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().tolerations = None)
        .unwrap();
    h.settle().unwrap();
    assert!(active_pods(&h).is_empty());
}

#[test]
fn test_rolling_update_with_max_unavailable_replaces_one_node_at_a_time() {
    let mut h = cluster(nodes(4));
    h.create(fixtures::daemon_set(NS, "agent", APP)).unwrap();
    h.settle().unwrap();
    h.modify::<DaemonSet>(NS, "agent", |d| {
        d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0].image = Some("fluentd:2".into())
    })
    .unwrap();
    let mut max_missing = 0;
    h.run_until(|h| {
        max_missing = max_missing.max(4 - active_pods(h).iter().filter(|p| podutil::is_ready(p)).count());
        false
    })
    .unwrap();
    assert_eq!(max_missing, 1, "maxUnavailable 1: one node without a ready pod at a time");
    assert!(active_pods(&h)
        .iter()
        .all(|p| p.spec.as_ref().unwrap().containers[0].image.as_deref() == Some("fluentd:2")));
}

/// The robustness matrix: write conflicts, failing pod creates, and controller restarts; at most one pod
/// per node throughout (checked after every step), and one pod per node in the end.
#[test]
fn test_daemon_set_reconcile_robustness_matrix() {
    for seed in 0..30u64 {
        let mut h = Harness::new().seeded(seed);
        let controller = h.add(DaemonSetController);
        h.add(Scheduler::default());
        for n in nodes(3) {
            h.add(Kubelet::new(n));
        }
        h.check(daemonset::properties());
        let scenario = seed % 4;
        let faults = std::sync::Mutex::new(SplitMix64::new(seed));
        h.admit(move |op, _| {
            let roll = faults.lock().map(|mut r| r.next_u64() % 10).unwrap_or(0);
            match (scenario, op) {
                (1, Op::Update(o) | Op::UpdateStatus(o)) if o.kind() == Kind::DaemonSet && roll < 3 => {
                    Some(ApiError::stale(Kind::DaemonSet, o.meta().name.as_deref().unwrap_or("")))
                }
                (2 | 3, Op::Create(o)) if o.kind() == Kind::Pod && roll < 3 => {
                    Some(ApiError::new(Reason::InternalError, "injected failure"))
                }
                _ => None,
            }
        });
        h.create(fixtures::daemon_set(NS, "agent", APP)).unwrap();
        if scenario == 3 {
            let steps = h.log().len();
            h.run_until(|h| h.log().len() >= steps + 3).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            h.restart(controller);
        }
        h.run_to_quiescence().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let current = ds(&h).status.unwrap().current_number_scheduled;
        assert_eq!(current, 3, "seed {seed}");
    }
}

#[test]
fn node_selector_changes_move_pods() {
    let mut h = cluster(vec![NodeConfig::new("a").label("role", "logs"), NodeConfig::new("b")]);
    let mut d = fixtures::daemon_set(NS, "agent", APP);
    d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().node_selector = Some(labels(&[("role", "logs")]));
    h.create(d).unwrap();
    h.settle().unwrap();
    assert_eq!(nodes_with_pods(&h), vec!["a"]);
    // The node stops matching: with only a selector change the pod is not evicted (selectors are checked at
    // placement, like NoSchedule), but a NoExecute taint removes it.
    h.modify::<Node>("", "a", |n| {
        n.spec.as_mut().unwrap().taints =
            Some(vec![Taint { key: "evict".into(), value: None, effect: "NoExecute".into(), time_added: None }])
    })
    .unwrap();
    h.settle().unwrap();
    assert!(nodes_with_pods(&h).is_empty());
}

/// Upstream's expectations: once the controller has created a node's daemon pod, a pod cache that does not
/// show it yet (the same view again) gets no second create — until a restart forgets the expectation,
/// which is what kubernetes #54096 needs.
#[test]
fn expectations_hold_back_a_second_create_until_a_restart_forgets_them() {
    use themelios_controllers::framework::{Controller, Timers};
    let mut h = Harness::new();
    h.create(fixtures::node("node-1", "4", "16Gi", 110)).unwrap();
    h.create(fixtures::daemon_set(NS, "agent", APP)).unwrap();
    let controller = DaemonSetController;
    let mut local = daemonset::Local::default();
    let step = |h: &mut Harness, local: &mut daemonset::Local, stale: &themelios_api::ApiState| {
        let view = themelios_controllers::framework::ClusterView::new(stale.objects(), stale.revision(), h.now());
        let op = controller.step(&view, local, &mut Timers::new(h.now()));
        if let Some(op) = &op {
            let outcome = h.submit(op.clone()).map(themelios_api::StoredObject::new);
            controller.observe(op, &outcome, h.now(), local);
        }
        op
    };
    // The revision first, then the pod, each read from the latest state.
    let current = h.state().clone();
    assert!(matches!(step(&mut h, &mut local, &current), Some(Op::Create(o)) if o.kind() == Kind::ControllerRevision));
    let before_pod = h.state().clone();
    assert!(matches!(step(&mut h, &mut local, &before_pod), Some(Op::Create(o)) if o.kind() == Kind::Pod));
    // The same stale view: the pod it created is not in it, but it is expected.
    let again = step(&mut h, &mut local, &before_pod);
    assert!(!matches!(&again, Some(Op::Create(o)) if o.kind() == Kind::Pod), "a second create: {again:?}");
    assert_eq!(h.list::<Pod>().len(), 1);
    // A restart forgets the expectation: the stale view now leads to a second pod for node-1.
    let mut restarted = daemonset::Local::default();
    let after_restart = step(&mut h, &mut restarted, &before_pod);
    assert!(matches!(&after_restart, Some(Op::Create(o)) if o.kind() == Kind::Pod), "{after_restart:?}");
    assert_eq!(h.list::<Pod>().len(), 2);
}
