//! Every safety property can fail: for each, a deliberately broken controller (a "rogue" that sends the
//! one write a correct controller never would) is caught by it, with that property alone checked.
//! `every_safety_property_has_a_mutation` keeps the list complete as properties are added.

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentStrategy, ReplicaSet, ReplicaSetStatus, RollingUpdateStatefulSetStrategy, StatefulSet,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use themelios_api::{Kind, Op, Resource};
use themelios_controllers::common::owner::controller_ref;
use themelios_controllers::fixtures;
use themelios_controllers::framework::{ClusterView, Controller, Outcome, Property, PropertyKind, Timers};
use themelios_controllers::harness::{Harness, RunError};
use themelios_controllers::registry;
use themelios_controllers::statefulset::POD_NAME_LABEL;

const NS: &str = "default";

/// A broken controller: it sends the writes it was given, in order, whatever the cluster looks like.
#[derive(Clone, Debug)]
struct Rogue {
    /// Whose name it acts under (some properties judge only one controller's steps).
    name: &'static str,
    writes: Vec<Op>,
}

impl Controller for Rogue {
    type Local = usize;
    fn name(&self) -> String {
        self.name.into()
    }
    fn step(&self, _view: &ClusterView, sent: &mut usize, _timers: &mut Timers) -> Option<Op> {
        self.writes.get(*sent).cloned()
    }
    fn observe(&self, _op: &Op, _outcome: &Outcome, _now: themelios_api::Time, sent: &mut usize) {
        *sent += 1;
    }
}

fn property(name: &str) -> Property {
    registry::ALL
        .iter()
        .flat_map(|r| (r.properties)())
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no property {name:?}"))
}

/// Runs the rogue's writes on `h` with only `name` checked; the property must catch the last of them.
fn caught(h: Harness, name: &str, writes: Vec<Op>) {
    caught_as(h, "rogue", name, writes)
}

fn caught_as(mut h: Harness, actor: &'static str, name: &str, writes: Vec<Op>) {
    let count = writes.len();
    h.add(Rogue { name: actor, writes });
    h.check(vec![property(name)]);
    h.expect_goals(false);
    match h.run_to_quiescence() {
        Err(RunError::Violation { violation, recent }) => {
            assert_eq!(violation.property, name);
            let rogue_steps = recent.iter().filter(|e| e.actor == actor).count();
            assert_eq!(rogue_steps, count, "caught at the last rogue write: {violation}");
        }
        other => panic!("{name}: the broken controller went unnoticed: {other:?}"),
    }
}

fn owned_pod(name: &str, owner_kind: Kind, owner: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Pod {
    let mut p = fixtures::pod(NS, name, &[("app", "web")]);
    p.metadata.owner_references = Some(vec![controller_ref(owner_kind, owner)]);
    p
}

fn create(object: impl Resource) -> Op {
    Op::Create(object.into_object())
}

/// The properties covered below, by name.
const COVERED: &[&str] = &[
    "replicaset: a create never takes a ReplicaSet's active pods above spec.replicas",
    "replicaset: a pod's controller never changes to another owner",
    "job: a create never takes active pods above min(parallelism, remaining completions)",
    "job: no new pods after a terminal condition",
    "job: succeeded and failed count each finished pod once",
    "job: succeeded never exceeds completions, and each index counts once",
    "daemonset: at most one daemon pod per node outside a surge window",
    "deployment: a paused Deployment creates no ReplicaSet",
    "cronjob: Forbid never runs two Jobs of one CronJob at once",
    "gc: an object with a live owner is never collected",
    "statefulset: at most one pod per identity",
    "statefulset: OrderedReady creates a pod only when every predecessor is Running and Ready",
    "deployment: never creates a second ReplicaSet for a template it already has",
    "job: a finished pod loses the tracking finalizer only after it is counted",
    "scheduler: a bind never takes a node's requests past its allocatable resources",
    "scheduler: binds only to nodes the pod selects and whose NoSchedule taints it tolerates",
    "deployment: a rolling update never grows its ReplicaSets past replicas + maxSurge",
    "gc: a foreground-deleted owner stays until its blocking dependents are gone",
    "statefulset: OnDelete never replaces a running pod",
    "statefulset: OrderedReady deletes a pod only when its successors are gone or updated and ready",
    "statefulset: pods below the partition are never replaced for an update and come back at the current revision",
    "deployment: a rolling update never scales available pods below replicas - maxUnavailable",
    "deployment: Recreate never runs pods of two revisions at once",
    "pvc-protection: a claim a scheduled pod refers to is never removed",
    "scheduler: a pod's node never changes once set",
];

#[test]
fn every_safety_property_has_a_mutation() {
    let safety: std::collections::BTreeSet<&str> = registry::ALL
        .iter()
        .flat_map(|r| (r.properties)())
        .filter(|p| p.kind == PropertyKind::Safety)
        .map(|p| p.name)
        .collect();
    let listed: std::collections::BTreeSet<&str> = COVERED.iter().copied().collect();
    assert_eq!(safety, listed, "a safety property was added or renamed: give it a mutation below");
    let named: std::collections::BTreeSet<&str> = COVERED.iter().copied().collect();
    assert_eq!(named.len(), COVERED.len(), "a property is listed twice");
}

#[test]
fn replicaset_surplus_create() {
    let mut h = Harness::new();
    let rs = h.create(fixtures::replica_set(NS, "web", 1, &[("app", "web")])).unwrap();
    h.create(owned_pod("web-a", Kind::ReplicaSet, &rs.metadata)).unwrap();
    caught(h, COVERED[0], vec![create(owned_pod("web-b", Kind::ReplicaSet, &rs.metadata))]);
}

#[test]
fn replicaset_controller_switch() {
    let mut h = Harness::new();
    let a = h.create(fixtures::replica_set(NS, "a", 1, &[("app", "web")])).unwrap();
    let b = h.create(fixtures::replica_set(NS, "b", 1, &[("app", "other")])).unwrap();
    let pod = h.create(owned_pod("web-a", Kind::ReplicaSet, &a.metadata)).unwrap();
    let mut stolen = pod.clone();
    stolen.metadata.owner_references = Some(vec![controller_ref(Kind::ReplicaSet, &b.metadata)]);
    caught(h, COVERED[1], vec![Op::Update(stolen.into_object())]);
}

#[test]
fn job_pod_above_parallelism() {
    let mut h = Harness::new();
    let job = h.create(fixtures::job(NS, "job", 1, Some(3))).unwrap();
    h.create(owned_pod("job-a", Kind::Job, &job.metadata)).unwrap();
    caught(h, COVERED[2], vec![create(owned_pod("job-b", Kind::Job, &job.metadata))]);
}

#[test]
fn job_pod_after_completion() {
    let mut h = Harness::new();
    let job = h.create(fixtures::job(NS, "job", 1, Some(1))).unwrap();
    let now = h.now();
    h.modify_status::<Job>(NS, "job", |j| {
        let status = j.status.get_or_insert_with(Default::default);
        status.conditions = Some(vec![k8s_openapi::api::batch::v1::JobCondition {
            type_: "Complete".into(),
            status: "True".into(),
            last_transition_time: Some(now.to_k8s()),
            ..Default::default()
        }]);
    })
    .unwrap();
    caught(h, COVERED[3], vec![create(owned_pod("job-late", Kind::Job, &job.metadata))]);
}

#[test]
fn job_counts_without_a_pod() {
    let mut h = Harness::new();
    let job = h.create(fixtures::job(NS, "job", 1, Some(2))).unwrap();
    let mut counted = job.clone();
    counted.status.get_or_insert_with(Default::default).succeeded = Some(1);
    caught(h, COVERED[4], vec![Op::UpdateStatus(counted.into_object())]);
}

#[test]
fn job_counts_past_completions() {
    let mut h = Harness::new();
    let job = h.create(fixtures::job(NS, "job", 1, Some(1))).unwrap();
    let mut counted = job.clone();
    counted.status.get_or_insert_with(Default::default).succeeded = Some(2);
    caught(h, COVERED[5], vec![Op::UpdateStatus(counted.into_object())]);
}

#[test]
fn daemonset_second_pod_on_a_node() {
    let mut h = Harness::new();
    let ds = h.create(fixtures::daemon_set(NS, "agent", &[("app", "web")])).unwrap();
    let on_node = |name: &str| {
        let mut p = owned_pod(name, Kind::DaemonSet, &ds.metadata);
        p.spec.as_mut().unwrap().node_name = Some("node-1".into());
        p
    };
    caught(h, COVERED[6], vec![create(on_node("agent-a")), create(on_node("agent-b"))]);
}

#[test]
fn paused_deployment_gets_a_replica_set() {
    let mut h = Harness::new();
    let mut d = fixtures::deployment(NS, "web", 2, &[("app", "web")]);
    d.spec.as_mut().unwrap().paused = Some(true);
    let d: Deployment = h.create(d).unwrap();
    let mut rs = fixtures::replica_set(NS, "web-1", 2, &[("app", "web")]);
    rs.metadata.owner_references = Some(vec![controller_ref(Kind::Deployment, &d.metadata)]);
    caught(h, COVERED[7], vec![create(rs)]);
}

#[test]
fn forbid_cron_job_runs_two_jobs() {
    let mut h = Harness::new();
    let mut cj = fixtures::cron_job(NS, "cj", "*/5 * * * *");
    cj.spec.as_mut().unwrap().concurrency_policy = Some("Forbid".into());
    let cj: CronJob = h.create(cj).unwrap();
    let job = |name: &str| {
        let mut j = fixtures::job(NS, name, 1, Some(1));
        j.metadata.owner_references = Some(vec![controller_ref(Kind::CronJob, &cj.metadata)]);
        j
    };
    caught(h, COVERED[8], vec![create(job("cj-1")), create(job("cj-2"))]);
}

#[test]
fn collector_deletes_a_pod_whose_owner_lives() {
    let mut h = Harness::new();
    let rs = h.create(fixtures::replica_set(NS, "web", 1, &[("app", "web")])).unwrap();
    h.create(owned_pod("web-a", Kind::ReplicaSet, &rs.metadata)).unwrap();
    let delete = Op::delete(themelios_api::ObjectRef::new(Kind::Pod, NS, "web-a"));
    caught_as(h, "garbage-collector", COVERED[9], vec![delete]);
}

fn stateful_pod(set: &k8s_openapi::api::apps::v1::StatefulSet, ordinal: i32, pod_name: &str) -> Pod {
    let mut p = owned_pod(pod_name, Kind::StatefulSet, &set.metadata);
    let identity = format!("db-{ordinal}");
    p.metadata.labels.get_or_insert_with(Default::default).insert(POD_NAME_LABEL.into(), identity);
    p
}

#[test]
fn statefulset_identity_twice() {
    let mut h = Harness::new();
    let set = h.create(fixtures::stateful_set(NS, "db", 2, &[("app", "web")], false)).unwrap();
    h.create(stateful_pod(&set, 0, "db-0")).unwrap();
    caught(h, COVERED[10], vec![create(stateful_pod(&set, 0, "db-0-copy"))]);
}

#[test]
fn statefulset_creates_past_an_unready_predecessor() {
    let mut h = Harness::new();
    let set = h.create(fixtures::stateful_set(NS, "db", 2, &[("app", "web")], false)).unwrap();
    h.create(stateful_pod(&set, 0, "db-0")).unwrap();
    caught(h, COVERED[11], vec![create(stateful_pod(&set, 1, "db-1"))]);
}

#[test]
fn deployment_twin_replica_set() {
    let mut h = Harness::new();
    let d: Deployment = h.create(fixtures::deployment(NS, "web", 2, &[("app", "web")])).unwrap();
    let set = |name: &str| {
        let mut rs = fixtures::replica_set(NS, name, 1, &[("app", "web")]);
        rs.spec.as_mut().unwrap().template = Some(d.spec.clone().unwrap().template);
        rs.metadata.owner_references = Some(vec![controller_ref(Kind::Deployment, &d.metadata)]);
        rs
    };
    h.create(set("web-1")).unwrap();
    caught(h, COVERED[12], vec![create(set("web-2"))]);
}

#[test]
fn job_finalizer_removed_before_counting() {
    let mut h = Harness::new();
    let job = h.create(fixtures::job(NS, "job", 1, Some(1))).unwrap();
    let mut pod = owned_pod("job-a", Kind::Job, &job.metadata);
    pod.metadata.finalizers = Some(vec![themelios_controllers::job::TRACKING_FINALIZER.into()]);
    h.create(pod).unwrap();
    let now = h.now();
    let finished = h.modify_status::<Pod>(NS, "job-a", |p| fixtures::finish(p, 0, now)).unwrap();
    let mut released = finished.clone();
    released.metadata.finalizers = None;
    caught(h, COVERED[13], vec![Op::Update(released.into_object())]);
}

fn bind(pod: &str, node: &str) -> Op {
    Op::Bind { pod: themelios_api::ObjectName::new(NS, pod.to_string()), uid: None, node: node.into() }
}

#[test]
fn scheduler_binds_past_capacity() {
    let mut h = Harness::new();
    h.create(fixtures::node("node-1", "1", "1Gi", 110)).unwrap();
    h.create(fixtures::pod_requesting(NS, "big", "2", "")).unwrap();
    caught(h, COVERED[14], vec![bind("big", "node-1")]);
}

#[test]
fn scheduler_binds_against_the_node_selector() {
    let mut h = Harness::new();
    h.create(fixtures::node("node-1", "4", "16Gi", 110)).unwrap();
    let mut pod = fixtures::pod(NS, "picky", &[]);
    pod.spec.as_mut().unwrap().node_selector = Some(fixtures::labels(&[("zone", "a")]));
    h.create(pod).unwrap();
    caught(h, COVERED[15], vec![bind("picky", "node-1")]);
}

#[test]
fn deployment_grows_past_max_surge() {
    let mut h = Harness::new();
    let d: Deployment = h.create(fixtures::deployment(NS, "web", 2, &[("app", "web")])).unwrap();
    let mut rs = fixtures::replica_set(NS, "web-1", 2, &[("app", "web")]);
    rs.spec.as_mut().unwrap().template = Some(d.spec.clone().unwrap().template);
    rs.metadata.owner_references = Some(vec![controller_ref(Kind::Deployment, &d.metadata)]);
    let rs = h.create(rs).unwrap();
    let scaled = Op::Scale {
        target: themelios_api::ObjectRef::new(Kind::ReplicaSet, NS, rs.metadata.name.clone().unwrap()),
        replicas: 4,
        resource_version: None,
    };
    caught(h, COVERED[16], vec![scaled]);
}

#[test]
fn foreground_deletion_finished_early() {
    let mut h = Harness::new();
    let rs = h.create(fixtures::replica_set(NS, "web", 1, &[("app", "web")])).unwrap();
    let mut pod = owned_pod("web-a", Kind::ReplicaSet, &rs.metadata);
    pod.metadata.owner_references.as_mut().unwrap()[0].block_owner_deletion = Some(true);
    h.create(pod).unwrap();
    let options = themelios_api::DeleteOptions {
        propagation: Some(themelios_api::Propagation::Foreground),
        ..Default::default()
    };
    h.submit(Op::Delete { target: themelios_api::ObjectRef::new(Kind::ReplicaSet, NS, "web"), options }).unwrap();
    let waiting = h.get::<k8s_openapi::api::apps::v1::ReplicaSet>(NS, "web").expect("kept by its finalizer");
    let mut released = waiting.clone();
    released.metadata.finalizers = None;
    caught(h, COVERED[17], vec![Op::Update(released.into_object())]);
}

fn delete_pod(name: &str) -> Op {
    Op::delete(themelios_api::ObjectRef::new(Kind::Pod, NS, name))
}

fn stateful_set_with(strategy: StatefulSetUpdateStrategy, replicas: i32) -> StatefulSet {
    let mut set = fixtures::stateful_set(NS, "db", replicas, &[("app", "web")], false);
    set.spec.as_mut().unwrap().update_strategy = Some(strategy);
    set
}

#[test]
fn statefulset_replaces_a_running_pod_under_on_delete() {
    let mut h = Harness::new();
    let on_delete = StatefulSetUpdateStrategy { type_: Some("OnDelete".into()), rolling_update: None };
    let set = h.create(stateful_set_with(on_delete, 1)).unwrap();
    h.create(stateful_pod(&set, 0, "db-0")).unwrap();
    caught(h, COVERED[18], vec![delete_pod("db-0")]);
}

#[test]
fn statefulset_deletes_a_pod_before_its_successor() {
    let mut h = Harness::new();
    let set = h.create(fixtures::stateful_set(NS, "db", 2, &[("app", "web")], false)).unwrap();
    h.create(stateful_pod(&set, 0, "db-0")).unwrap();
    h.create(stateful_pod(&set, 1, "db-1")).unwrap();
    caught(h, COVERED[19], vec![delete_pod("db-0")]);
}

#[test]
fn statefulset_replaces_a_pod_below_the_partition() {
    let mut h = Harness::new();
    let partitioned = StatefulSetUpdateStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(RollingUpdateStatefulSetStrategy { partition: Some(1), max_unavailable: None }),
    };
    let set = h.create(stateful_set_with(partitioned, 2)).unwrap();
    h.create(stateful_pod(&set, 0, "db-0")).unwrap();
    caught(h, COVERED[20], vec![delete_pod("db-0")]);
}

/// A Deployment and one ReplicaSet of it with `replicas` pods wanted and available.
fn deployment_with_available_set(h: &mut Harness, strategy: Option<&str>, replicas: i32) -> (Deployment, ReplicaSet) {
    let mut d = fixtures::deployment(NS, "web", replicas, &[("app", "web")]);
    d.spec.as_mut().unwrap().strategy =
        strategy.map(|t| DeploymentStrategy { type_: Some(t.into()), ..Default::default() });
    let d: Deployment = h.create(d).unwrap();
    let mut rs = fixtures::replica_set(NS, "web-1", replicas, &[("app", "web")]);
    rs.spec.as_mut().unwrap().template = Some(d.spec.clone().unwrap().template);
    rs.metadata.owner_references = Some(vec![controller_ref(Kind::Deployment, &d.metadata)]);
    h.create(rs).unwrap();
    let rs = h
        .modify_status::<ReplicaSet>(NS, "web-1", move |rs| {
            rs.status = Some(ReplicaSetStatus {
                replicas,
                ready_replicas: Some(replicas),
                available_replicas: Some(replicas),
                ..Default::default()
            })
        })
        .unwrap();
    (d, rs)
}

#[test]
fn deployment_scales_below_the_availability_floor() {
    let mut h = Harness::new();
    let (_, rs) = deployment_with_available_set(&mut h, None, 4);
    // maxUnavailable 25% of 4 is 1: scaling the only set to 2 leaves 2 available, below 3.
    let scaled = Op::Scale {
        target: themelios_api::ObjectRef::new(Kind::ReplicaSet, NS, rs.metadata.name.clone().unwrap()),
        replicas: 2,
        resource_version: None,
    };
    caught(h, COVERED[21], vec![scaled]);
}

#[test]
fn recreate_deployment_runs_two_revisions() {
    let mut h = Harness::new();
    let (d, rs) = deployment_with_available_set(&mut h, Some("Recreate"), 1);
    h.create(owned_pod("web-1-a", Kind::ReplicaSet, &rs.metadata)).unwrap();
    let mut next = fixtures::replica_set(NS, "web-2", 1, &[("app", "web")]);
    next.metadata.owner_references = Some(vec![controller_ref(Kind::Deployment, &d.metadata)]);
    let next = h.create(next).unwrap();
    caught(h, COVERED[22], vec![create(owned_pod("web-2-a", Kind::ReplicaSet, &next.metadata))]);
}

#[test]
fn pvc_protection_releases_a_claim_in_use() {
    let mut h = Harness::new();
    h.create(PersistentVolumeClaim { metadata: fixtures::meta(NS, "data", &[]), ..Default::default() }).unwrap();
    h.create(fixtures::pod_using_claim(NS, "user", "node-1", "data")).unwrap();
    h.submit(Op::delete(themelios_api::ObjectRef::new(Kind::PersistentVolumeClaim, NS, "data"))).unwrap();
    let mut released = h.get::<PersistentVolumeClaim>(NS, "data").expect("held by its finalizer");
    released.metadata.finalizers = None;
    caught_as(h, "pvc-protection-controller", COVERED[23], vec![Op::Update(released.into_object())]);
}

/// The API server refuses to move a bound pod (a second binding is a Conflict, `spec.nodeName` is
/// immutable), so no controller can break this property through it: the mutation is the server's. Two
/// harnesses make the same pod (uids are assigned in order), one bound to each node; the property judges
/// the step from one to the other.
#[test]
fn a_server_that_moves_a_bound_pod_is_caught() {
    let bound_to = |node: &str| {
        let mut h = Harness::new();
        h.create(fixtures::pod(NS, "web", &[])).unwrap();
        h.submit(bind("web", node)).unwrap();
        h
    };
    let (before, after) = (bound_to("node-1"), bound_to("node-2"));
    assert_eq!(
        before.get::<Pod>(NS, "web").unwrap().metadata.uid,
        after.get::<Pod>(NS, "web").unwrap().metadata.uid,
        "one pod in two states"
    );
    let violation = themelios_controllers::framework::first_safety_violation(
        &[property(COVERED[24])],
        "api-server",
        &before.view(),
        &after.view(),
    )
    .expect("caught");
    assert!(violation.detail.contains("moved from node node-1"), "{violation}");
    let refused = bound_to("node-1").submit(bind("web", "node-2"));
    assert!(refused.is_err(), "the real server refuses a second binding: {refused:?}");
}
