//! Upstream scheduler integration tests (TestUnschedulableNodes, TestMultipleSchedulers, TestAllocatable,
//! TestSchedulerInformers, the taint part of TestNodeEvents) and the filter details, on the harness.

use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use themelios_api::pod as podutil;
use themelios_controllers::fixtures::{labels, node, pod, pod_requesting};
use themelios_controllers::harness::Harness;
use themelios_controllers::scheduler::{self, Scheduler};

const NS: &str = "default";

fn harness() -> Harness {
    let mut h = Harness::new();
    h.add(Scheduler::default());
    h.check(scheduler::properties());
    h
}

fn node_of(h: &Harness, name: &str) -> Option<String> {
    h.get::<Pod>(NS, name).and_then(|p| podutil::node_name(&p).map(str::to_string))
}

fn unschedulable_message(h: &Harness, name: &str) -> Option<String> {
    let p = h.get::<Pod>(NS, name)?;
    let c = podutil::condition(&p, "PodScheduled")?;
    (c.status == "False" && c.reason.as_deref() == Some("Unschedulable")).then(|| c.message.clone().unwrap_or_default())
}

#[test]
fn test_unschedulable_nodes() {
    let mut h = harness();
    let mut n = node("node-1", "4", "8Gi", 110);
    n.spec.as_mut().unwrap().unschedulable = Some(true);
    h.create(n).unwrap();
    h.create(pod(NS, "p", &[])).unwrap();
    h.settle().unwrap();
    assert_eq!(node_of(&h, "p"), None);
    assert_eq!(
        unschedulable_message(&h, "p").as_deref(),
        Some("0/1 nodes are available: 1 node(s) were unschedulable.")
    );
    h.modify::<Node>("", "node-1", |n| n.spec.as_mut().unwrap().unschedulable = Some(false)).unwrap();
    h.settle().unwrap();
    assert_eq!(node_of(&h, "p").as_deref(), Some("node-1"));
    let scheduled = podutil::condition(&h.get::<Pod>(NS, "p").unwrap(), "PodScheduled").cloned().unwrap();
    assert_eq!(scheduled.status, "True");
}

#[test]
fn test_multiple_schedulers() {
    let mut h = harness();
    h.create(node("node-1", "4", "8Gi", 110)).unwrap();
    let mut foo = pod(NS, "foo-pod", &[]);
    foo.spec.as_mut().unwrap().scheduler_name = Some("foo-scheduler".into());
    h.create(foo).unwrap();
    h.create(pod(NS, "default-pod", &[])).unwrap();
    h.settle().unwrap();
    assert_eq!(node_of(&h, "default-pod").as_deref(), Some("node-1"));
    assert_eq!(node_of(&h, "foo-pod"), None, "no foo-scheduler yet");
    assert!(
        podutil::condition(&h.get::<Pod>(NS, "foo-pod").unwrap(), "PodScheduled").is_none(),
        "the default scheduler leaves it alone"
    );
    h.add(Scheduler::named("foo-scheduler"));
    h.settle().unwrap();
    assert_eq!(node_of(&h, "foo-pod").as_deref(), Some("node-1"));
}

#[test]
fn test_allocatable() {
    let mut h = harness();
    // No allocatable: capacity is used.
    let mut n = node("node-1", "30m", "30Mi", 110);
    n.status.as_mut().unwrap().allocatable = None;
    h.create(n).unwrap();
    h.create(pod_requesting(NS, "p1", "20m", "20Mi")).unwrap();
    h.settle().unwrap();
    assert_eq!(node_of(&h, "p1").as_deref(), Some("node-1"));
    let force = themelios_api::DeleteOptions { grace_period_seconds: Some(0), ..Default::default() };
    h.submit(themelios_api::Op::Delete {
        target: themelios_api::ObjectRef::new(themelios_api::Kind::Pod, NS, "p1"),
        options: force,
    })
    .unwrap();
    // Allocatable drops to 10m CPU: a 20m pod no longer fits.
    h.modify_status::<Node>("", "node-1", |n| {
        let allocatable = [("cpu", "10m"), ("memory", "30Mi"), ("pods", "110")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.into())))
            .collect();
        n.status.as_mut().unwrap().allocatable = Some(allocatable);
    })
    .unwrap();
    h.create(pod_requesting(NS, "p2", "20m", "20Mi")).unwrap();
    h.settle().unwrap();
    assert_eq!(node_of(&h, "p2"), None);
    assert_eq!(unschedulable_message(&h, "p2").as_deref(), Some("0/1 nodes are available: 1 Insufficient cpu."));
}

#[test]
fn test_scheduler_informers() {
    let mut h = harness();
    h.create(node("node-1", "1", "1Gi", 110)).unwrap();
    // Pods bound by "another scheduler" directly through spec.nodeName still use the node's resources.
    for i in 0..2 {
        let mut p = pod_requesting(NS, &format!("other-{i}"), "400m", "100Mi");
        p.spec.as_mut().unwrap().node_name = Some("node-1".into());
        h.create(p).unwrap();
    }
    h.create(pod_requesting(NS, "new", "300m", "100Mi")).unwrap();
    h.settle().unwrap();
    assert_eq!(node_of(&h, "new"), None);
    assert_eq!(unschedulable_message(&h, "new").as_deref(), Some("0/1 nodes are available: 1 Insufficient cpu."));
}

#[test]
fn test_node_events_taint() {
    let mut h = harness();
    h.create(node("small", "100m", "1Gi", 110)).unwrap();
    h.create(pod_requesting(NS, "big", "500m", "")).unwrap();
    h.settle().unwrap();
    assert_eq!(unschedulable_message(&h, "big").as_deref(), Some("0/1 nodes are available: 1 Insufficient cpu."));
    // A new node with room but an untolerated NoSchedule taint: still unschedulable, now for two reasons.
    let mut tainted = node("tainted", "4", "8Gi", 110);
    tainted.spec.as_mut().unwrap().taints = Some(vec![Taint {
        key: "dedicated".into(),
        value: Some("infra".into()),
        effect: "NoSchedule".into(),
        time_added: None,
    }]);
    h.create(tainted).unwrap();
    h.settle().unwrap();
    assert_eq!(node_of(&h, "big"), None);
    assert_eq!(
        unschedulable_message(&h, "big").as_deref(),
        Some("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: infra}.")
    );
    h.modify::<Node>("", "tainted", |n| n.spec.as_mut().unwrap().taints = None).unwrap();
    h.settle().unwrap();
    assert_eq!(node_of(&h, "big").as_deref(), Some("tainted"));
}

fn zone_affinity(zone: &str) -> Affinity {
    Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(vec![NodeSelectorRequirement {
                        key: "zone".into(),
                        operator: "In".into(),
                        values: Some(vec![zone.into()]),
                    }]),
                    match_fields: None,
                }],
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn unschedulable_message_counts_reasons_per_node() {
    let mut h = harness();
    let mut a = node("a", "100m", "1Gi", 110);
    a.metadata.labels = Some(labels(&[("zone", "east")]));
    h.create(a).unwrap();
    h.create(node("b", "4", "8Gi", 110)).unwrap();
    h.create(node("c", "4", "8Gi", 110)).unwrap();
    let mut p = pod_requesting(NS, "p", "1", "");
    p.spec.as_mut().unwrap().affinity = Some(zone_affinity("east"));
    h.create(p).unwrap();
    h.settle().unwrap();
    assert_eq!(
        unschedulable_message(&h, "p").as_deref(),
        Some("0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector.")
    );
}

#[test]
fn node_selector_affinity_fields_and_tolerations_choose_the_node() {
    let mut h = harness();
    let mut east = node("east-1", "4", "8Gi", 110);
    east.metadata.labels = Some(labels(&[("zone", "east")]));
    east.spec.as_mut().unwrap().taints =
        Some(vec![Taint { key: "gpu".into(), value: None, effect: "NoSchedule".into(), time_added: None }]);
    h.create(east).unwrap();
    let mut west = node("west-1", "4", "8Gi", 110);
    west.metadata.labels = Some(labels(&[("zone", "west")]));
    h.create(west).unwrap();

    let mut by_selector = pod(NS, "by-selector", &[]);
    by_selector.spec.as_mut().unwrap().node_selector = Some(labels(&[("zone", "west")]));
    h.create(by_selector).unwrap();

    let mut tolerant = pod(NS, "tolerant", &[]);
    let spec = tolerant.spec.as_mut().unwrap();
    spec.affinity = Some(zone_affinity("east"));
    spec.tolerations =
        Some(vec![Toleration { key: Some("gpu".into()), operator: Some("Exists".into()), ..Default::default() }]);
    h.create(tolerant).unwrap();

    let mut intolerant = pod(NS, "intolerant", &[]);
    intolerant.spec.as_mut().unwrap().affinity = Some(zone_affinity("east"));
    h.create(intolerant).unwrap();

    let mut by_field = pod(NS, "by-field", &[]);
    by_field.spec.as_mut().unwrap().affinity = Some(Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: None,
                    match_fields: Some(vec![NodeSelectorRequirement {
                        key: "metadata.name".into(),
                        operator: "In".into(),
                        values: Some(vec!["west-1".into()]),
                    }]),
                }],
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    h.create(by_field).unwrap();
    h.settle().unwrap();

    assert_eq!(node_of(&h, "by-selector").as_deref(), Some("west-1"));
    assert_eq!(node_of(&h, "tolerant").as_deref(), Some("east-1"));
    assert_eq!(node_of(&h, "by-field").as_deref(), Some("west-1"));
    assert_eq!(node_of(&h, "intolerant"), None);
    assert_eq!(
        unschedulable_message(&h, "intolerant").as_deref(),
        Some("0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {gpu: }.")
    );
}

#[test]
fn least_allocated_spreads_pods_and_pod_count_is_a_limit() {
    let mut h = harness();
    h.create(node("n1", "2", "4Gi", 2)).unwrap();
    h.create(node("n2", "2", "4Gi", 2)).unwrap();
    for i in 0..4 {
        h.create(pod_requesting(NS, &format!("p{i}"), "100m", "100Mi")).unwrap();
    }
    h.create(pod_requesting(NS, "p4", "100m", "100Mi")).unwrap();
    h.settle().unwrap();
    let on = |n: &str| (0..5).filter(|i| node_of(&h, &format!("p{i}")).as_deref() == Some(n)).count();
    assert_eq!((on("n1"), on("n2")), (2, 2), "two per node: spread by least allocated, capped by pods=2");
    assert_eq!(unschedulable_message(&h, "p4").as_deref(), Some("0/2 nodes are available: 2 Too many pods."));
}

#[test]
fn assumed_bindings_prevent_overcommit_from_a_lagging_view() {
    // Bind two pods that each take most of the node's cpu: the second must not land on the same node even
    // though the scheduler's view is re-read between the binds.
    let mut h = harness();
    h.create(node("n1", "1", "4Gi", 110)).unwrap();
    h.create(pod_requesting(NS, "a", "700m", "")).unwrap();
    h.create(pod_requesting(NS, "b", "700m", "")).unwrap();
    h.settle().unwrap();
    let bound = ["a", "b"].iter().filter(|p| node_of(&h, p).is_some()).count();
    assert_eq!(bound, 1);
}

/// Binds every pending pod to one node, ignoring fit: the properties must catch it.
struct Reckless;
impl themelios_controllers::framework::Controller for Reckless {
    type Local = ();
    fn name(&self) -> String {
        "reckless".into()
    }
    fn step(
        &self,
        view: &themelios_controllers::framework::ClusterView,
        _: &mut (),
        _timers: &mut themelios_controllers::framework::Timers,
    ) -> Option<themelios_api::Op> {
        let p = view.list::<Pod>().find(|p| podutil::node_name(p).is_none())?;
        Some(themelios_api::Op::Bind {
            pod: themelios_api::ObjectName::new(NS, p.metadata.name.clone()?),
            uid: None,
            node: "n1".into(),
        })
    }
}

#[test]
fn properties_catch_a_scheduler_that_overcommits() {
    let mut h = Harness::new();
    h.add(Reckless);
    h.check(scheduler::properties());
    h.create(node("n1", "1", "4Gi", 110)).unwrap();
    h.create(pod_requesting(NS, "a", "700m", "")).unwrap();
    h.create(pod_requesting(NS, "b", "700m", "")).unwrap();
    let err = h.settle().unwrap_err().to_string();
    assert!(err.contains("a bind never takes a node's requests past its allocatable"), "{err}");
}

/// In a cluster of 250 nodes a search stops after 120 feasible ones (upstream's adaptive
/// percentageOfNodesToScore) and the next search starts where it stopped: one-pod nodes still all fill,
/// with no node overbooked.
#[test]
fn a_large_cluster_searches_part_of_the_nodes_and_rotates() {
    let mut h = harness();
    for i in 0..250 {
        h.create(node(&format!("node-{i:03}"), "4", "8Gi", 1)).unwrap();
    }
    for i in 0..250 {
        h.create(pod(NS, &format!("p{i:03}"), &[])).unwrap();
    }
    h.settle().unwrap();
    let mut per_node = std::collections::BTreeMap::new();
    for i in 0..250 {
        let on = node_of(&h, &format!("p{i:03}")).unwrap_or_else(|| panic!("p{i:03} is not bound"));
        *per_node.entry(on).or_insert(0) += 1;
    }
    assert_eq!(per_node.len(), 250);
    assert!(per_node.values().all(|&n| n == 1));
    // The first pod goes to the best of the first 120 nodes (all score alike; the tie is broken by a hash).
    let index = |pod: &str| node_of(&h, pod).and_then(|n| n.strip_prefix("node-")?.parse::<usize>().ok()).unwrap();
    assert!(index("p000") < 120, "{}", index("p000"));
    // The second search starts at node 120 and stops after 120 more.
    assert!((120..240).contains(&index("p001")), "{}", index("p001"));
}

/// Pods that request nothing are scored with upstream's non-zero defaults (100m, 200 MB), so they spread
/// like any others: six pods of a ReplicaSet land two on each of three nodes (the default spreading by
/// hostname over the ReplicaSet's selector agrees).
#[test]
fn pods_without_requests_spread_over_the_nodes() {
    let mut h = harness();
    h.add(themelios_controllers::replicaset::ReplicaSetController);
    for n in ["node-1", "node-2", "node-3"] {
        h.create(node(n, "4", "16Gi", 110)).unwrap();
    }
    h.create(themelios_controllers::fixtures::replica_set(NS, "web", 6, &[("app", "web")])).unwrap();
    h.settle().unwrap();
    let mut per_node = std::collections::BTreeMap::<String, usize>::new();
    for p in h.list::<Pod>() {
        *per_node.entry(podutil::node_name(&p).unwrap_or("none").to_string()).or_default() += 1;
    }
    assert_eq!(per_node.into_values().collect::<Vec<_>>(), [2, 2, 2]);
}

/// The default topology spreading counts the pods the owner's selector matches, not only the owner's: a
/// node running matching pods of someone else is avoided, though it is far larger (LeastAllocated alone
/// would pick it).
#[test]
fn default_spreading_counts_pods_the_owners_selector_matches() {
    let mut h = harness();
    h.create(node("big", "64", "256Gi", 110)).unwrap();
    h.create(node("small", "4", "16Gi", 110)).unwrap();
    for i in 0..2 {
        let mut p = pod(NS, &format!("stray-{i}"), &[("app", "web")]);
        p.spec.as_mut().unwrap().node_name = Some("big".into());
        h.create(p).unwrap();
    }
    let owner = h.create(themelios_controllers::fixtures::replica_set(NS, "web", 1, &[("app", "web")])).unwrap();
    let mut owned = pod(NS, "owned", &[("app", "web")]);
    owned.metadata.owner_references = Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: "web".into(),
        uid: owner.metadata.uid.clone().unwrap(),
        controller: Some(true),
        ..Default::default()
    }]);
    h.create(owned).unwrap();
    let mut unowned = pod(NS, "unowned", &[("app", "web")]);
    unowned.metadata.labels.as_mut().unwrap().insert("solo".into(), "yes".into());
    h.create(unowned).unwrap();
    h.settle().unwrap();
    assert_eq!(node_of(&h, "owned").as_deref(), Some("small"), "big already runs two pods its owner selects");
    assert_eq!(node_of(&h, "unowned").as_deref(), Some("big"), "without an owner nothing is spread: most room wins");
}

/// PreferNoSchedule taints and preferred node affinity weigh in as TaintToleration (3) and NodeAffinity (2).
#[test]
fn soft_taints_and_preferred_affinity_steer_the_choice() {
    let mut h = harness();
    let mut tainted = node("node-a", "4", "16Gi", 110);
    tainted.spec.as_mut().unwrap().taints =
        Some(vec![Taint { key: "spot".into(), effect: "PreferNoSchedule".into(), ..Default::default() }]);
    h.create(tainted).unwrap();
    h.create(node("node-b", "4", "16Gi", 110)).unwrap();
    h.create(pod(NS, "plain", &[])).unwrap();
    h.settle().unwrap();
    assert_eq!(node_of(&h, "plain").as_deref(), Some("node-b"), "the soft taint is avoided though node-a sorts first");

    let mut h = harness();
    h.create(node("node-a", "4", "16Gi", 110)).unwrap();
    let mut labelled = node("node-b", "4", "16Gi", 110);
    labelled.metadata.labels.get_or_insert_with(Default::default).insert("disk".into(), "ssd".into());
    h.create(labelled).unwrap();
    let mut p = pod(NS, "picky", &[]);
    p.spec.as_mut().unwrap().affinity = Some(Affinity {
        node_affinity: Some(NodeAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                k8s_openapi::api::core::v1::PreferredSchedulingTerm {
                    weight: 10,
                    preference: NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: "disk".into(),
                            operator: "In".into(),
                            values: Some(vec!["ssd".into()]),
                        }]),
                        ..Default::default()
                    },
                },
            ]),
            ..Default::default()
        }),
        ..Default::default()
    });
    h.create(p).unwrap();
    h.settle().unwrap();
    assert_eq!(node_of(&h, "picky").as_deref(), Some("node-b"));
}
