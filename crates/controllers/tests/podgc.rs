//! Upstream `test/integration/podgc/podgc_test.go` on the harness, plus the threshold and unscheduled cases.

use k8s_openapi::api::core::v1::{Pod, Taint};
use themelios_api::{pod as podutil, DeleteOptions, Kind, ObjectRef, Op};
use themelios_controllers::fixtures::{node, pod};
use themelios_controllers::harness::Harness;
use themelios_controllers::podgc::{self, PodGc, OUT_OF_SERVICE_TAINT, QUARANTINE_SECONDS};

const NS: &str = "default";
const FINALIZER: &str = "example.com/hold";

fn harness(gc: PodGc) -> Harness {
    let mut h = Harness::new();
    h.add(gc);
    h.check(podgc::properties());
    h
}

fn bound_pod(name: &str, node_name: &str, finalizer: bool) -> Pod {
    let mut p = pod(NS, name, &[]);
    p.spec.as_mut().unwrap().node_name = Some(node_name.into());
    if finalizer {
        p.metadata.finalizers = Some(vec![FINALIZER.into()]);
    }
    p
}

fn set_phase(h: &mut Harness, name: &str, phase: &str) {
    let phase = phase.to_string();
    h.modify_status::<Pod>(NS, name, move |p| p.status.get_or_insert_with(Default::default).phase = Some(phase))
        .unwrap();
}

#[test]
fn test_pod_gc_orphaned_pods_with_finalizer() {
    for phase in ["Pending", "Running", "Succeeded", "Failed"] {
        let mut h = harness(PodGc::default());
        h.create(node("gone", "1", "1Gi", 10)).unwrap();
        h.create(bound_pod("p", "gone", true)).unwrap();
        set_phase(&mut h, "p", phase);
        h.submit(Op::delete(ObjectRef::new(Kind::Node, "", "gone"))).unwrap();
        // Within the quarantine nothing happens.
        h.run_for(QUARANTINE_SECONDS - 1).unwrap();
        assert!(h.get::<Pod>(NS, "p").unwrap().metadata.deletion_timestamp.is_none(), "{phase}: quarantine");
        h.run_to_quiescence().unwrap();
        let p = h.get::<Pod>(NS, "p").expect("held by its finalizer");
        assert!(p.metadata.deletion_timestamp.is_some(), "{phase}");
        match phase {
            "Succeeded" | "Failed" => assert_eq!(podutil::phase(&p), phase, "terminal phases are kept"),
            _ => {
                assert_eq!(podutil::phase(&p), "Failed", "{phase}");
                let c = podutil::condition(&p, "DisruptionTarget").expect("DisruptionTarget");
                assert_eq!((c.status.as_str(), c.reason.as_deref()), ("True", Some("DeletionByPodGC")));
            }
        }
    }
}

#[test]
fn test_terminating_on_out_of_service_node() {
    for finalizer in [false, true] {
        let mut h = harness(PodGc::default());
        let mut n = node("down", "1", "1Gi", 10);
        n.spec.as_mut().unwrap().taints = Some(vec![Taint {
            key: OUT_OF_SERVICE_TAINT.into(),
            value: Some("nodeshutdown".into()),
            effect: "NoExecute".into(),
            time_added: None,
        }]);
        n.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].status = "False".into();
        h.create(n).unwrap();
        h.create(bound_pod("p", "down", finalizer)).unwrap();
        set_phase(&mut h, "p", "Running");
        h.submit(Op::delete(ObjectRef::new(Kind::Pod, NS, "p"))).unwrap();
        h.settle().unwrap();
        match h.get::<Pod>(NS, "p") {
            None => assert!(!finalizer, "force-deleted"),
            Some(p) => {
                assert!(finalizer, "a pod without finalizers must be gone");
                assert_eq!(podutil::phase(&p), "Failed");
                assert_eq!(p.metadata.deletion_grace_period_seconds, Some(0));
            }
        }
    }
}

#[test]
fn pods_on_a_ready_node_are_left_alone() {
    let mut h = harness(PodGc::default());
    h.create(node("up", "1", "1Gi", 10)).unwrap();
    h.create(bound_pod("p", "up", false)).unwrap();
    h.run_to_quiescence().unwrap();
    assert!(h.get::<Pod>(NS, "p").unwrap().metadata.deletion_timestamp.is_none());
    assert!(h.log().iter().all(|e| e.actor == "user"));
}

#[test]
fn terminated_pods_above_the_threshold_go_oldest_first() {
    let mut h = harness(PodGc::with_threshold(2));
    h.create(node("n", "1", "1Gi", 10)).unwrap();
    for i in 0..4 {
        h.create(bound_pod(&format!("done-{i}"), "n", false)).unwrap();
        set_phase(&mut h, &format!("done-{i}"), "Succeeded");
        h.advance(10);
    }
    h.settle().unwrap();
    let left: Vec<String> = h.list::<Pod>().into_iter().map(|p| p.metadata.name.unwrap()).collect();
    assert_eq!(left, vec!["done-2", "done-3"]);
}

#[test]
fn unscheduled_terminating_pods_are_force_deleted() {
    let mut h = harness(PodGc::default());
    let mut p = pod(NS, "never-scheduled", &[]);
    p.metadata.finalizers = Some(vec![FINALIZER.into()]);
    h.create(p).unwrap();
    h.submit(Op::Delete {
        target: ObjectRef::new(Kind::Pod, NS, "never-scheduled"),
        options: DeleteOptions::default(),
    })
    .unwrap();
    // Unbound pods are deleted at once (grace 0): the finalizer alone holds this one, so GC has nothing to do.
    assert_eq!(h.get::<Pod>(NS, "never-scheduled").unwrap().metadata.deletion_grace_period_seconds, Some(0));
    h.modify::<Pod>(NS, "never-scheduled", |p| p.metadata.finalizers = None).unwrap();
    assert!(h.get::<Pod>(NS, "never-scheduled").is_none());
}
