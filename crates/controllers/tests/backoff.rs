//! Every controller backs off a failed write as upstream does: rate-limited work queues retry a key after
//! 1 s, 2 s, 4 s … (the scheduler's backoff queue caps that at 10 s), periodic loops at their next pass.
//! Each test fails every write of one kind with an InternalError and reads the retry times from the log.

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use themelios_api::{ApiError, ApiState, Kind, ObjectRef, Op, Reason, Time};
use themelios_controllers::fixtures::{job, meta, node, pod};
use themelios_controllers::framework::Controller;
use themelios_controllers::garbagecollector::GarbageCollector;
use themelios_controllers::harness::Harness;
use themelios_controllers::namespace::{NamespaceController, KUBERNETES_FINALIZER};
use themelios_controllers::nodelifecycle::NodeLifecycleController;
use themelios_controllers::podgc::{PodGc, QUARANTINE_SECONDS};
use themelios_controllers::rootcacert::RootCaPublisher;
use themelios_controllers::scheduler::Scheduler;
use themelios_controllers::serviceaccount::ServiceAccountController;
use themelios_controllers::ttlafterfinished::TtlAfterFinishedController;
use themelios_controllers::volumeprotection::{PvProtectionController, PvcProtectionController};

const NS: &str = "default";
/// A rate-limited work queue's retries within 20 s of the first try.
const WORK_QUEUE: [i64; 5] = [0, 1, 3, 7, 15];

/// A harness running `controller`.
fn harness(controller: impl Controller) -> Harness {
    let mut h = Harness::new();
    h.add(controller);
    h.expect_goals(false);
    h
}

/// From now on, the requests `fails` picks are refused with an InternalError.
fn refuse(h: &mut Harness, fails: impl Fn(&Op) -> bool + Send + Sync + 'static) {
    h.admit(move |op, _: &ApiState| fails(op).then(|| ApiError::new(Reason::InternalError, "etcd is unavailable")));
}

/// The times, in seconds after the first, at which `actor` made a request whose line contains `request`.
fn tries(h: &Harness, actor: &str, request: &str) -> Vec<i64> {
    let times: Vec<Time> =
        h.log().iter().filter(|e| e.actor == actor && e.request.contains(request)).map(|e| e.time).collect();
    let first = times.first().copied().unwrap_or(Time::EPOCH);
    times.iter().map(|t| t.seconds_since(first)).collect()
}

fn is_write_of(op: &Op, kind: Kind) -> bool {
    match op {
        Op::Create(o) | Op::Update(o) | Op::UpdateStatus(o) | Op::Finalize(o) => o.kind() == kind,
        Op::Delete { target, .. } => target.kind == kind,
        Op::Bind { .. } => kind == Kind::Pod,
        _ => false,
    }
}

#[test]
fn ttl_after_finished_retries_a_failed_delete_with_backoff() {
    let mut h = harness(TtlAfterFinishedController);
    let mut finished = job(NS, "done", 1, Some(1));
    finished.spec.as_mut().unwrap().ttl_seconds_after_finished = Some(0);
    h.create(finished).unwrap();
    let now = h.now();
    h.modify_status::<Job>(NS, "done", move |j| {
        j.status = Some(JobStatus {
            completion_time: Some(now.to_k8s()),
            conditions: Some(vec![JobCondition {
                type_: "Complete".into(),
                status: "True".into(),
                last_transition_time: Some(now.to_k8s()),
                ..Default::default()
            }]),
            ..Default::default()
        })
    })
    .unwrap();
    refuse(&mut h, |op| matches!(op, Op::Delete { .. }));
    h.run_for(20).unwrap();
    assert_eq!(tries(&h, "ttl-after-finished-controller", "delete"), WORK_QUEUE);
}

#[test]
fn the_namespace_controller_retries_a_failed_finalize_with_backoff() {
    let mut h = harness(NamespaceController);
    let mut doomed = Namespace { metadata: meta("", "doomed", &[]), ..Default::default() };
    doomed.spec =
        Some(k8s_openapi::api::core::v1::NamespaceSpec { finalizers: Some(vec![KUBERNETES_FINALIZER.into()]) });
    h.create(doomed).unwrap();
    h.submit(Op::delete(ObjectRef::new(Kind::Namespace, "", "doomed"))).unwrap();
    refuse(&mut h, |op| matches!(op, Op::Finalize(_)));
    h.run_for(20).unwrap();
    assert_eq!(tries(&h, "namespace-controller", "doomed"), WORK_QUEUE);
}

#[test]
fn the_service_account_controller_retries_a_failed_create_with_backoff() {
    let mut h = harness(ServiceAccountController);
    h.create(Namespace { metadata: meta("", "team", &[]), ..Default::default() }).unwrap();
    refuse(&mut h, |op| is_write_of(op, Kind::ServiceAccount));
    h.run_for(20).unwrap();
    assert_eq!(tries(&h, "serviceaccount-controller", "team/"), WORK_QUEUE);
}

#[test]
fn the_root_ca_publisher_retries_a_failed_create_with_backoff() {
    let mut h = harness(RootCaPublisher::default());
    h.create(Namespace { metadata: meta("", "team", &[]), ..Default::default() }).unwrap();
    refuse(&mut h, |op| is_write_of(op, Kind::ConfigMap));
    h.run_for(20).unwrap();
    assert_eq!(tries(&h, "root-ca-cert-publisher", "team/"), WORK_QUEUE);
}

#[test]
fn the_protection_controllers_retry_a_failed_update_with_backoff() {
    let mut h = harness(PvcProtectionController);
    h.create(PersistentVolumeClaim { metadata: meta(NS, "data", &[]), ..Default::default() }).unwrap();
    // Admission put the finalizer on; a user takes it off, and the controller puts it back.
    h.modify::<PersistentVolumeClaim>(NS, "data", |c| c.metadata.finalizers = None).unwrap();
    refuse(&mut h, |op| is_write_of(op, Kind::PersistentVolumeClaim));
    h.run_for(20).unwrap();
    assert_eq!(tries(&h, "pvc-protection-controller", "data"), WORK_QUEUE);

    let mut h = harness(PvProtectionController);
    h.create(PersistentVolume { metadata: meta("", "vol", &[]), ..Default::default() }).unwrap();
    h.modify::<PersistentVolume>("", "vol", |v| v.metadata.finalizers = None).unwrap();
    refuse(&mut h, |op| is_write_of(op, Kind::PersistentVolume));
    h.run_for(20).unwrap();
    assert_eq!(tries(&h, "pv-protection-controller", "vol"), WORK_QUEUE);
}

#[test]
fn the_garbage_collector_retries_a_failed_delete_with_backoff() {
    let mut h = harness(GarbageCollector);
    let mut orphan = pod(NS, "orphan", &[]);
    orphan.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: "gone".into(),
        uid: "uid-of-a-replicaset-that-never-was".into(),
        ..Default::default()
    }]);
    h.create(orphan).unwrap();
    refuse(&mut h, |op| matches!(op, Op::Delete { .. }));
    h.run_for(20).unwrap();
    assert_eq!(tries(&h, "garbage-collector", "delete"), WORK_QUEUE);
}

#[test]
fn the_scheduler_retries_a_failed_binding_after_one_to_ten_seconds() {
    let mut h = harness(Scheduler::default());
    h.create(node("node-1", "4", "8Gi", 110)).unwrap();
    h.create(pod(NS, "web", &[])).unwrap();
    refuse(&mut h, |op| matches!(op, Op::Bind { .. }));
    h.run_for(40).unwrap();
    // 1, 2, 4, 8, then the 10 s cap.
    assert_eq!(tries(&h, "default-scheduler", "web"), [0, 1, 3, 7, 15, 25, 35]);
}

#[test]
fn pod_gc_retries_a_failed_write_at_its_next_pass() {
    let mut h = harness(PodGc::default());
    let mut stranded = pod(NS, "stranded", &[]);
    stranded.spec.as_mut().unwrap().node_name = Some("gone".into());
    h.create(stranded).unwrap();
    refuse(&mut h, |op| is_write_of(op, Kind::Pod));
    h.run_for(QUARANTINE_SECONDS + 60).unwrap();
    assert_eq!(tries(&h, "pod-garbage-collector", "stranded"), [0, 20, 40, 60]);
}

#[test]
fn node_lifecycle_retries_a_failed_write_at_its_next_pass() {
    let mut h = harness(NodeLifecycleController);
    let mut cordoned = node("node-1", "4", "8Gi", 110);
    cordoned.spec.get_or_insert_with(Default::default).unschedulable = Some(true);
    h.create(cordoned).unwrap();
    refuse(&mut h, |op| is_write_of(op, Kind::Node));
    h.run_for(16).unwrap();
    assert_eq!(tries(&h, "node-lifecycle-controller", "node-1"), [0, 5, 10, 15]);
    assert!(h.list::<Pod>().is_empty());
}
