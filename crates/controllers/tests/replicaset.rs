//! The ReplicaSet integration tests of upstream `test/integration/replicaset/replicaset_test.go`, on the
//! harness, with the ReplicaSet properties checked after every step and at quiescence.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use themelios_api::{Kind, ObjectRef, Op, Reason, Time};
use themelios_controllers::common::owner::controller_of;
use themelios_controllers::fixtures::{self, labels, pod, replica_set};
use themelios_controllers::harness::Harness;
use themelios_controllers::replicaset::{self, ReplicaSetController, POD_DELETION_COST};

const NS: &str = "default";
const APP: &[(&str, &str)] = &[("app", "web")];

fn harness() -> Harness {
    let mut h = Harness::new();
    h.add(ReplicaSetController);
    h.check(replicaset::properties());
    h
}

fn rs_pods(h: &Harness, rs: &ReplicaSet) -> Vec<Pod> {
    let uid = rs.metadata.uid.clone().unwrap_or_default();
    h.list::<Pod>().into_iter().filter(|p| controller_of(&p.metadata).is_some_and(|r| r.uid == uid)).collect()
}

fn rs(h: &Harness, name: &str) -> ReplicaSet {
    h.get::<ReplicaSet>(NS, name).expect("replicaset exists")
}

fn owner_ref_to(rs: &ReplicaSet, controller: bool) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: rs.metadata.name.clone().unwrap_or_default(),
        uid: rs.metadata.uid.clone().unwrap_or_default(),
        controller: Some(controller),
        block_owner_deletion: None,
    }
}

fn scale(h: &mut Harness, name: &str, replicas: i32) {
    h.submit(Op::Scale { target: ObjectRef::new(Kind::ReplicaSet, NS, name), replicas, resource_version: None })
        .expect("scale");
}

#[test]
fn test_adoption() {
    struct Case {
        name: &'static str,
        refs: fn(&ReplicaSet) -> Vec<OwnerReference>,
        expect_controller_is_rs: bool,
    }
    let cases = [
        Case { name: "orphan", refs: |_| vec![], expect_controller_is_rs: true },
        Case {
            name: "non-controller ref to the rs",
            refs: |rs| vec![owner_ref_to(rs, false)],
            expect_controller_is_rs: true,
        },
        Case {
            name: "already controlled by the rs",
            refs: |rs| vec![owner_ref_to(rs, true)],
            expect_controller_is_rs: true,
        },
        Case {
            name: "controlled by another rs",
            refs: |_| {
                vec![OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: "ReplicaSet".into(),
                    name: "other".into(),
                    uid: "other-uid".into(),
                    controller: Some(true),
                    block_owner_deletion: None,
                }]
            },
            expect_controller_is_rs: false,
        },
    ];
    for case in cases {
        let mut h = harness();
        let set = h.create(replica_set(NS, "rs", 1, APP)).expect("create rs");
        let mut p = pod(NS, "pod", APP);
        p.metadata.owner_references = Some((case.refs)(&set));
        h.create(p).expect("create pod");
        h.settle().unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let p = h.get::<Pod>(NS, "pod").expect("pod stays");
        let controller = controller_of(&p.metadata).expect("pod has a controller");
        if case.name == "already controlled by the rs" {
            assert_eq!(p.metadata.owner_references, Some((case.refs)(&set)), "a controlled pod is left unchanged");
        } else if case.expect_controller_is_rs {
            assert_eq!(controller.uid, set.metadata.uid.clone().unwrap(), "{}", case.name);
            assert_eq!(controller.block_owner_deletion, Some(true), "{}", case.name);
            assert_eq!(p.metadata.owner_references.as_ref().unwrap().len(), 1, "{}", case.name);
        } else {
            assert_eq!(controller.uid, "other-uid", "{}: the rs must not take over", case.name);
            // The RS still creates its own replica alongside.
            assert_eq!(rs_pods(&h, &rs(&h, "rs")).len(), 1, "{}", case.name);
        }
    }
}

#[test]
fn test_rs_selector_immutability() {
    let mut h = harness();
    h.create(replica_set(NS, "rs", 1, APP)).unwrap();
    let err = h
        .modify::<ReplicaSet>(NS, "rs", |rs| {
            let spec = rs.spec.as_mut().unwrap();
            spec.selector.match_labels = Some(labels(&[("app", "other")]));
            spec.template.as_mut().unwrap().metadata.as_mut().unwrap().labels = Some(labels(&[("app", "other")]));
        })
        .unwrap_err();
    assert_eq!(err.reason, Reason::Invalid);
    assert!(
        err.causes().iter().any(|c| c.field == "spec.selector" && c.message.contains("field is immutable")),
        "{err}"
    );
}

#[test]
fn test_spec_replicas_change() {
    let mut h = harness();
    h.create(replica_set(NS, "rs", 2, APP)).unwrap();
    h.settle().unwrap();
    for replicas in [3, 0, 2] {
        scale(&mut h, "rs", replicas);
        h.settle().unwrap();
        let set = rs(&h, "rs");
        assert_eq!(set.status.as_ref().unwrap().replicas, replicas);
        assert_eq!(rs_pods(&h, &set).len(), replicas as usize);
    }
    let before = rs(&h, "rs").status.unwrap().observed_generation.unwrap();
    h.modify::<ReplicaSet>(NS, "rs", |rs| {
        let tmeta = rs.spec.as_mut().unwrap().template.as_mut().unwrap().metadata.as_mut().unwrap();
        tmeta.annotations = Some(labels(&[("test", "annotation")]));
    })
    .unwrap();
    h.settle().unwrap();
    let after = rs(&h, "rs").status.unwrap().observed_generation.unwrap();
    assert!(after > before, "observedGeneration {before} -> {after}");
}

#[test]
fn test_deleting_and_failed_pods() {
    let mut h = harness();
    let set = h.create(replica_set(NS, "rs", 2, APP)).unwrap();
    h.settle().unwrap();
    let pods = rs_pods(&h, &set);
    assert_eq!(pods.len(), 2);
    let (deleting, failed) = (pods[0].metadata.name.clone().unwrap(), pods[1].metadata.name.clone().unwrap());
    h.modify::<Pod>(NS, &deleting, |p| p.metadata.finalizers = Some(vec!["fake.example.com/blockDeletion".into()]))
        .unwrap();
    h.submit(Op::delete(ObjectRef::new(Kind::Pod, NS, &deleting))).unwrap();
    h.modify_status::<Pod>(NS, &failed, |p| {
        p.status.get_or_insert_with(Default::default).phase = Some("Failed".into())
    })
    .unwrap();
    h.settle().unwrap();
    let all = rs_pods(&h, &rs(&h, "rs"));
    assert_eq!(all.len(), 4, "two replacements beside both originals");
    assert!(all.iter().any(|p| p.metadata.name.as_deref() == Some(deleting.as_str())));
    assert!(all.iter().any(|p| p.metadata.name.as_deref() == Some(failed.as_str())));
    assert_eq!(rs(&h, "rs").status.unwrap().replicas, 2);
}

#[test]
fn test_pod_deletion_cost() {
    // (costs of the two pods, which pod index is expected to be deleted); pod 0 has 5 restarts, pod 1 none.
    let cases: [(&str, Option<[&str; 2]>, usize); 3] = [
        ("lower cost goes first", Some(["-10", "100"]), 0),
        ("equal costs: more restarts go first", Some(["0", "0"]), 0),
        ("no costs: more restarts go first", None, 0),
    ];
    let cases_reversed = [("lower cost beats restarts", Some(["100", "-10"]), 1)];
    for (name, costs, victim) in cases.into_iter().chain(cases_reversed) {
        let mut h = harness();
        let set = h.create(replica_set(NS, "rs", 2, APP)).unwrap();
        h.settle().unwrap();
        let pods = rs_pods(&h, &set);
        let names: Vec<String> = pods.iter().map(|p| p.metadata.name.clone().unwrap()).collect();
        for (i, pod_name) in names.iter().enumerate() {
            let restarts = if i == 0 { 5 } else { 0 };
            h.modify_status::<Pod>(NS, pod_name, |p| {
                fixtures::make_ready(p, Time::EPOCH);
                p.status.as_mut().unwrap().container_statuses =
                    Some(vec![k8s_openapi::api::core::v1::ContainerStatus {
                        name: "app".into(),
                        restart_count: restarts,
                        ready: true,
                        ..Default::default()
                    }]);
            })
            .unwrap();
            if let Some(costs) = costs {
                h.modify::<Pod>(NS, pod_name, |p| {
                    p.metadata.annotations = Some(labels(&[(POD_DELETION_COST, costs[i])]))
                })
                .unwrap();
            }
        }
        scale(&mut h, "rs", 1);
        h.settle().unwrap_or_else(|e| panic!("{name}: {e}"));
        let left: Vec<String> = rs_pods(&h, &set).iter().map(|p| p.metadata.name.clone().unwrap()).collect();
        assert_eq!(left.len(), 1, "{name}");
        assert_ne!(left[0], names[victim], "{name}: pod {victim} should have been deleted");
    }
}

#[test]
fn test_overlapping_rss() {
    let mut h = harness();
    let a = h.create(replica_set(NS, "rs-1", 1, APP)).unwrap();
    let b = h.create(replica_set(NS, "rs-2", 2, APP)).unwrap();
    h.settle().unwrap();
    assert_eq!(h.list::<Pod>().len(), 3);
    assert_eq!(rs_pods(&h, &a).len(), 1);
    assert_eq!(rs_pods(&h, &b).len(), 2);
    assert_eq!(rs(&h, "rs-1").status.unwrap().replicas, 1);
    assert_eq!(rs(&h, "rs-2").status.unwrap().replicas, 2);
}

#[test]
fn test_pod_orphaning_and_adoption_when_labels_change() {
    let mut h = harness();
    let set = h.create(replica_set(NS, "rs", 1, APP)).unwrap();
    h.settle().unwrap();
    let first = rs_pods(&h, &set)[0].metadata.name.clone().unwrap();
    h.modify::<Pod>(NS, &first, |p| p.metadata.labels = Some(labels(&[("app", "elsewhere")]))).unwrap();
    h.settle().unwrap();
    let released = h.get::<Pod>(NS, &first).unwrap();
    assert!(controller_of(&released.metadata).is_none(), "relabelled pod is released");
    assert!(released.metadata.owner_references.is_none());
    assert_eq!(rs_pods(&h, &set).len(), 1, "a replacement is created");
    // Relabel it back: adopted again, then one of the two is surplus and deleted.
    h.modify::<Pod>(NS, &first, |p| p.metadata.labels = Some(labels(APP))).unwrap();
    h.settle().unwrap();
    assert_eq!(rs_pods(&h, &set).len(), 1, "exactly one pod remains");
    assert_eq!(h.list::<Pod>().len(), 1);
}

#[test]
fn test_general_pod_adoption() {
    let mut h = harness();
    let set = h.create(replica_set(NS, "rs", 1, APP)).unwrap();
    let mut p = pod(NS, "pod", APP);
    // A ref to the RS that is not a controller ref: the RS must make it the controller ref.
    p.metadata.owner_references = Some(vec![owner_ref_to(&set, false)]);
    h.create(p).unwrap();
    h.settle().unwrap();
    let refs = h.get::<Pod>(NS, "pod").unwrap().metadata.owner_references.unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].controller, Some(true));
    // A ref to another kind stays, and the controller ref is added beside it.
    let mut q = pod(NS, "pod-2", APP);
    q.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "cm".into(),
        uid: "cm-uid".into(),
        controller: None,
        block_owner_deletion: None,
    }]);
    h.delete_all_pods_but("pod-2");
    h.create(q).unwrap();
    h.settle().unwrap();
    let refs = h.get::<Pod>(NS, "pod-2").unwrap().metadata.owner_references.unwrap();
    assert_eq!(refs.len(), 2, "{refs:?}");
    assert!(refs.iter().any(|r| r.uid == "cm-uid" && r.controller.is_none()));
    assert!(refs.iter().any(|r| Some(&r.uid) == set.metadata.uid.as_ref() && r.controller == Some(true)));
}

trait DeletePods {
    fn delete_all_pods_but(&mut self, keep: &str);
}
impl DeletePods for Harness {
    fn delete_all_pods_but(&mut self, keep: &str) {
        for p in self.list::<Pod>() {
            let name = p.metadata.name.unwrap();
            if name != keep {
                self.submit(Op::delete(ObjectRef::new(Kind::Pod, NS, &name))).unwrap();
            }
        }
    }
}

#[test]
fn test_ready_and_available_replicas() {
    let mut h = harness();
    let mut set = replica_set(NS, "rs", 3, APP);
    set.spec.as_mut().unwrap().min_ready_seconds = Some(3600);
    let set = h.create(set).unwrap();
    h.settle().unwrap();
    let names: Vec<String> = rs_pods(&h, &set).iter().map(|p| p.metadata.name.clone().unwrap()).collect();
    h.advance(3 * 3600);
    let now = h.now();
    // Not ready; ready now; ready two hours ago.
    h.modify_status::<Pod>(NS, &names[1], |p| fixtures::make_ready(p, now)).unwrap();
    h.modify_status::<Pod>(NS, &names[2], |p| fixtures::make_ready(p, now.plus_seconds(-7200))).unwrap();
    h.settle().unwrap();
    let status = rs(&h, "rs").status.unwrap();
    assert_eq!((status.replicas, status.ready_replicas, status.available_replicas), (3, Some(2), Some(1)));
    // Once minReadySeconds pass, the second pod becomes available too.
    h.run_for(3600).unwrap();
    assert_eq!(rs(&h, "rs").status.unwrap().available_replicas, Some(2));
}

#[test]
fn test_rs_scale_subresource() {
    let mut h = harness();
    h.create(replica_set(NS, "rs", 1, APP)).unwrap();
    h.settle().unwrap();
    for replicas in [3, 0] {
        scale(&mut h, "rs", replicas);
        assert_eq!(rs(&h, "rs").spec.unwrap().replicas, Some(replicas));
        h.settle().unwrap();
        assert_eq!(h.list::<Pod>().len(), replicas as usize);
    }
    let err = h
        .submit(Op::Scale { target: ObjectRef::new(Kind::ReplicaSet, NS, "rs"), replicas: -1, resource_version: None })
        .unwrap_err();
    assert_eq!(err.reason, Reason::Invalid);
    assert_eq!(err.causes()[0].field, "spec.replicas");
    let stale = h.submit(Op::Scale {
        target: ObjectRef::new(Kind::ReplicaSet, NS, "rs"),
        replicas: 2,
        resource_version: Some("1".into()),
    });
    assert_eq!(stale.unwrap_err().reason, Reason::Conflict);
}

#[test]
fn test_extra_pods_adoption_and_deletion() {
    let mut h = harness();
    for i in 0..3 {
        h.create(pod(NS, &format!("orphan-{i}"), APP)).unwrap();
    }
    let set = h.create(replica_set(NS, "rs", 2, APP)).unwrap();
    h.settle().unwrap();
    assert_eq!(h.list::<Pod>().len(), 2);
    assert_eq!(rs_pods(&h, &set).len(), 2);
}

#[test]
fn test_fully_labeled_replicas() {
    let mut h = harness();
    h.create(replica_set(NS, "rs", 2, APP)).unwrap();
    h.settle().unwrap();
    h.modify::<ReplicaSet>(NS, "rs", |rs| {
        let tmeta = rs.spec.as_mut().unwrap().template.as_mut().unwrap().metadata.as_mut().unwrap();
        tmeta.labels = Some(labels(&[("app", "web"), ("tier", "front")]));
    })
    .unwrap();
    let first = h.list::<Pod>()[0].metadata.name.clone().unwrap();
    h.modify::<Pod>(NS, &first, |p| p.metadata.labels = Some(labels(&[("app", "web"), ("tier", "front")]))).unwrap();
    h.settle().unwrap();
    let status = rs(&h, "rs").status.unwrap();
    assert_eq!(status.replicas, 2);
    assert_eq!(status.fully_labeled_replicas, Some(1));
}

#[test]
fn test_replica_sets_apps_v1_default_gc_policy() {
    let mut h = harness();
    let mut set = replica_set(NS, "rs", 1, APP);
    set.metadata.finalizers = Some(vec!["fake.example.com/blockDeletion".into()]);
    h.create(set).unwrap();
    h.settle().unwrap();
    h.submit(Op::delete(ObjectRef::new(Kind::ReplicaSet, NS, "rs"))).unwrap();
    let deleting = rs(&h, "rs");
    assert!(deleting.metadata.deletion_timestamp.is_some());
    assert_eq!(
        deleting.metadata.finalizers,
        Some(vec!["fake.example.com/blockDeletion".to_string()]),
        "no orphan finalizer"
    );
    h.settle().unwrap();
    h.modify::<ReplicaSet>(NS, "rs", |rs| rs.metadata.finalizers = None).unwrap();
    assert!(h.get::<ReplicaSet>(NS, "rs").is_none(), "gone once its finalizers are");
}

#[test]
fn create_failures_back_off_and_set_replica_failure() {
    // No goals here: with every create rejected, the replica count cannot be reached.
    let mut h = Harness::new();
    h.add(ReplicaSetController);
    // An admission check rejects every pod create, as an exhausted quota would.
    h.admit(|op, _| {
        matches!(op, Op::Create(o) if o.kind() == Kind::Pod)
            .then(|| themelios_api::ApiError::forbidden(Kind::Pod, "", "exceeded quota: pods"))
    });
    h.create(replica_set(NS, "rs", 2, APP)).unwrap();
    h.settle().unwrap();
    let status = rs(&h, "rs").status.unwrap();
    let failure = status.conditions.unwrap().into_iter().find(|c| c.type_ == "ReplicaFailure").expect("ReplicaFailure");
    assert_eq!(failure.reason.as_deref(), Some("FailedCreate"));
    // Slow start: the first batch of one failed, so the second create was never sent; and without time
    // passing the controller does not retry (it backs off).
    let creates =
        h.log().iter().filter(|e| e.actor == "replicaset-controller" && e.request.starts_with("create")).count();
    assert_eq!(creates, 1, "{:#?}", h.log());
    // With time, it retries with growing delays rather than in a tight loop.
    h.run_for(60).unwrap();
    let retries =
        h.log().iter().filter(|e| e.actor == "replicaset-controller" && e.request.starts_with("create")).count();
    assert!((3..=8).contains(&retries), "retries in 60 s of backoff: {retries}");
}
