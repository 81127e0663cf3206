//! The simulated kubelet: node registration, leases, the pod lifecycle, graceful deletion.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use themelios_api::{pod as podutil, Kind, ObjectRef, Op, Time};
use themelios_controllers::fixtures::{labels, pod};
use themelios_controllers::harness::Harness;
use themelios_controllers::kubelet::{Kubelet, NodeConfig, EXIT_CODE_ANNOTATION, RUN_SECONDS_ANNOTATION};
use themelios_controllers::scheduler::Scheduler;

const NS: &str = "default";

fn cluster() -> Harness {
    let mut h = Harness::new();
    h.add(Scheduler::default());
    h.add(Kubelet::new(NodeConfig::new("node-1").cpu("2").memory("4Gi").pods(10).label("zone", "a")));
    h.check(themelios_controllers::all_properties());
    // This cluster has no controller-manager beyond the scheduler.
    h.uncheck("serviceaccount: every active namespace has a default ServiceAccount");
    h.uncheck("root-ca-cert-publisher: every active namespace has kube-root-ca.crt");
    h
}

fn phase(h: &Harness, name: &str) -> String {
    podutil::phase(&h.get::<Pod>(NS, name).expect("pod")).to_string()
}

#[test]
fn registers_its_node_and_renews_its_lease() {
    let mut h = cluster();
    h.settle().unwrap();
    let node = h.get::<Node>("", "node-1").expect("node registered");
    let status = node.status.unwrap();
    assert_eq!(status.allocatable.unwrap()["cpu"].0, "2");
    assert_eq!(node.metadata.labels.unwrap()["zone"], "a");
    assert!(status.conditions.unwrap().iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let lease = h.get::<Lease>("kube-node-lease", "node-1").expect("lease");
    let renewed = |l: &Lease| l.spec.as_ref().unwrap().renew_time.clone().unwrap().0.as_second();
    assert_eq!(renewed(&lease), Time::EPOCH.0);
    // Time passing for another reason lets the heartbeat run.
    h.advance(15);
    h.settle().unwrap();
    assert_eq!(renewed(&h.get::<Lease>("kube-node-lease", "node-1").unwrap()), Time::EPOCH.0 + 15);
}

#[test]
fn runs_a_pod_to_running_then_ready() {
    let mut h = cluster();
    h.create(pod(NS, "web", &[])).unwrap();
    h.settle().unwrap();
    let p = h.get::<Pod>(NS, "web").unwrap();
    assert_eq!(podutil::node_name(&p), Some("node-1"));
    assert_eq!(podutil::phase(&p), "Running");
    assert!(podutil::is_ready(&p));
    let status = p.status.unwrap();
    assert!(status.pod_ip.is_some());
    assert!(status.container_statuses.unwrap()[0].ready);
    // Running was written before Ready: two separate steps.
    let kubelet_writes =
        h.log().iter().filter(|e| e.actor == "kubelet/node-1" && e.request.contains("Pod default/web")).count();
    assert_eq!(kubelet_writes, 2);
}

#[test]
fn completes_pods_after_their_run_time_with_their_exit_code() {
    let mut h = cluster();
    let mut ok = pod(NS, "ok", &[]);
    ok.spec.as_mut().unwrap().restart_policy = Some("Never".into());
    h.create(ok).unwrap();
    let mut bad = pod(NS, "bad", &[]);
    bad.spec.as_mut().unwrap().restart_policy = Some("Never".into());
    bad.metadata.annotations = Some(labels(&[(RUN_SECONDS_ANNOTATION, "30"), (EXIT_CODE_ANNOTATION, "3")]));
    h.create(bad).unwrap();
    h.settle().unwrap();
    assert_eq!(phase(&h, "ok"), "Running");
    h.run_for(5).unwrap();
    assert_eq!(phase(&h, "ok"), "Succeeded", "default run time is 5 s");
    assert_eq!(phase(&h, "bad"), "Running");
    h.run_to_quiescence().unwrap();
    assert_eq!(phase(&h, "bad"), "Failed");
    assert_eq!(h.now(), Time::EPOCH.plus_seconds(30));
    let exit = h.get::<Pod>(NS, "bad").unwrap().status.unwrap().container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap()
        .exit_code;
    assert_eq!(exit, 3);
}

#[test]
fn on_failure_restarts_the_container() {
    let mut h = cluster();
    let mut p = pod(NS, "flaky", &[]);
    p.spec.as_mut().unwrap().restart_policy = Some("OnFailure".into());
    p.metadata.annotations = Some(labels(&[(RUN_SECONDS_ANNOTATION, "10"), (EXIT_CODE_ANNOTATION, "1")]));
    h.create(p).unwrap();
    h.run_for(25).unwrap();
    let p = h.get::<Pod>(NS, "flaky").unwrap();
    assert_eq!(podutil::phase(&p), "Running");
    assert_eq!(podutil::restart_count(&p), 2);
}

#[test]
fn leaves_a_phase_someone_else_set_alone() {
    let mut h = cluster();
    h.create(pod(NS, "p", &[])).unwrap();
    h.settle().unwrap();
    h.modify_status::<Pod>(NS, "p", |p| p.status.as_mut().unwrap().phase = Some("Failed".into())).unwrap();
    // A test marking a pod unready: the kubelet must not flip it back.
    h.create(pod(NS, "q", &[])).unwrap();
    h.settle().unwrap();
    h.modify_status::<Pod>(NS, "q", |p| {
        let c =
            p.status.as_mut().unwrap().conditions.as_mut().unwrap().iter_mut().find(|c| c.type_ == "Ready").unwrap();
        c.status = "False".into();
        c.reason = None;
    })
    .unwrap();
    h.run_for(60).unwrap();
    assert_eq!(phase(&h, "p"), "Failed");
    assert!(!podutil::is_ready(&h.get::<Pod>(NS, "q").unwrap()));
}

#[test]
fn finishes_graceful_deletion() {
    let mut h = cluster();
    h.create(pod(NS, "p", &[])).unwrap();
    h.settle().unwrap();
    h.submit(Op::delete(ObjectRef::new(Kind::Pod, NS, "p"))).unwrap();
    let deleting = h.get::<Pod>(NS, "p").unwrap();
    assert_eq!(deleting.metadata.deletion_grace_period_seconds, Some(30), "bound pods get their grace period");
    h.settle().unwrap();
    assert!(h.get::<Pod>(NS, "p").is_none());
    // With a finalizer the kubelet stops the containers and the object waits for the finalizer.
    let mut held = pod(NS, "held", &[]);
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    h.create(held).unwrap();
    h.settle().unwrap();
    h.submit(Op::delete(ObjectRef::new(Kind::Pod, NS, "held"))).unwrap();
    h.settle().unwrap();
    let held = h.get::<Pod>(NS, "held").expect("held by its finalizer");
    assert_eq!(podutil::phase(&held), "Failed");
    assert_eq!(held.metadata.deletion_grace_period_seconds, Some(0));
    h.modify::<Pod>(NS, "held", |p| p.metadata.finalizers = None).unwrap();
    assert!(h.get::<Pod>(NS, "held").is_none());
}

#[test]
fn quiet_runs_stop_when_work_is_done_while_timed_runs_let_time_pass() {
    let pod_for = |h: &mut Harness| {
        let mut p = pod(NS, "batch", &[]);
        p.spec.as_mut().unwrap().restart_policy = Some("Never".into());
        p.metadata.annotations = Some(labels(&[(RUN_SECONDS_ANNOTATION, "30")]));
        h.create(p).unwrap();
    };
    let mut h = cluster();
    pod_for(&mut h);
    h.run_to_quiescence_within(3600).unwrap();
    assert_eq!(h.now(), Time::EPOCH.plus_seconds(30), "time stops once the pod is done");
    let renewed = h.get::<Lease>("kube-node-lease", "node-1").unwrap().spec.unwrap().renew_time.unwrap().0.as_second();
    assert_eq!(renewed, Time::EPOCH.0 + 30, "heartbeats kept pace on the way");

    let mut h = cluster();
    pod_for(&mut h);
    h.run_for(3600).unwrap();
    assert_eq!(h.now(), Time::EPOCH.plus_seconds(3600), "a timed run lets all the time pass");
    let renewed = h.get::<Lease>("kube-node-lease", "node-1").unwrap().spec.unwrap().renew_time.unwrap().0.as_second();
    assert!(renewed >= Time::EPOCH.0 + 3590, "with heartbeats throughout: {renewed}");
}
