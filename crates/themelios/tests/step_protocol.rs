//! The three drivers — the test harness, the model checker and the live runtime — follow one step protocol:
//! from the same cluster, time and controller memory, each decides the same for every built-in controller
//! (the same request, the same wake-up, the same heartbeat), and the harness and the model move logical
//! time to the same next instant.

use std::collections::BTreeMap;
use themelios_api::{Kind, Object, Time};
use themelios_check::consistency::Consistency;
use themelios_check::model::Action;
use themelios_check::scenario::Scenario;
use themelios_controllers::framework::{Deadlines, Step};
use themelios_controllers::harness::Harness;
use themelios_controllers::kubelet::{Kubelet, NodeConfig};
use themelios_controllers::registry::{self, Settings};
use themelios_runtime::cache::Caches;
use themelios_runtime::driver::{decide_on, next_run};

/// Objects that make every controller wait for something: pods becoming available, a Job's deadline and
/// its pods' run time, a finished Job's time to live, a schedule, node leases.
const OBJECTS: &[(Kind, &str)] = &[
    (
        Kind::Deployment,
        r#"{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: default},
            spec: {replicas: 2, minReadySeconds: 30, selector: {matchLabels: {app: web}},
                   template: {metadata: {labels: {app: web}}, spec: {containers: [{name: app, image: nginx}]}}}}"#,
    ),
    (
        Kind::Job,
        r#"{apiVersion: batch/v1, kind: Job, metadata: {name: slow, namespace: default},
            spec: {activeDeadlineSeconds: 100,
                   template: {metadata: {annotations: {themelios.dev/run-seconds: "50"}},
                              spec: {restartPolicy: Never, containers: [{name: app, image: busybox}]}}}}"#,
    ),
    (
        Kind::Job,
        r#"{apiVersion: batch/v1, kind: Job, metadata: {name: short, namespace: default},
            spec: {ttlSecondsAfterFinished: 60,
                   template: {metadata: {annotations: {themelios.dev/run-seconds: "5"}},
                              spec: {restartPolicy: Never, containers: [{name: app, image: busybox}]}}}}"#,
    ),
    (
        Kind::CronJob,
        r#"{apiVersion: batch/v1, kind: CronJob, metadata: {name: tick, namespace: default},
            spec: {schedule: "*/5 * * * *",
                   jobTemplate: {spec: {template: {spec: {restartPolicy: Never,
                                                          containers: [{name: app, image: busybox}]}}}}}}"#,
    ),
    (
        Kind::StatefulSet,
        r#"{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db, namespace: default},
            spec: {replicas: 1, minReadySeconds: 20, serviceName: db, selector: {matchLabels: {app: db}},
                   template: {metadata: {labels: {app: db}}, spec: {containers: [{name: app, image: nginx}]}}}}"#,
    ),
    (
        Kind::DaemonSet,
        r#"{apiVersion: apps/v1, kind: DaemonSet, metadata: {name: agent, namespace: default},
            spec: {minReadySeconds: 15, selector: {matchLabels: {app: agent}},
                   template: {metadata: {labels: {app: agent}}, spec: {containers: [{name: app, image: busybox}]}}}}"#,
    ),
];

/// The cluster after `seconds` of logical time: every controller the controller-manager runs, the
/// scheduler, two nodes. Deterministic: built twice, it is the same cluster with the same memories.
fn cluster(seconds: i64) -> Harness {
    let mut h = Harness::new();
    for registered in registry::ALL.iter().filter(|r| r.in_controller_manager || r.name == "scheduler") {
        h.add_boxed((registered.make)(&Settings::default()));
    }
    for node in ["node-1", "node-2"] {
        h.add(Kubelet::new(NodeConfig::new(node)));
    }
    h.settle().expect("nodes register");
    for (kind, yaml) in OBJECTS {
        let object = Object::from_yaml(*kind, yaml).expect("a valid object");
        h.submit(themelios_api::Op::Create(object)).expect("created");
    }
    h.expect_goals(false);
    h.run_for(seconds).expect("no property violated");
    h
}

/// The model checker's view of the same cluster: its initial state is `cluster(seconds)`.
fn model_of(seconds: i64) -> themelios_check::model::ClusterModel {
    let scenario = Scenario::of_harness(&format!("step-protocol-at-{seconds}s"), move || cluster(seconds));
    scenario.model(Consistency::LINEARIZABLE)
}

/// What the live runtime decides for every actor of `cluster(seconds)`, from informer caches holding its
/// objects.
fn runtime_decisions(seconds: i64) -> BTreeMap<String, Step> {
    let (state, now, actors) = cluster(seconds).into_parts();
    let caches = Caches::new();
    for kind in Kind::ALL {
        caches.replace(*kind, state.objects().of_kind(*kind).values().map(|s| s.object().clone()).collect());
    }
    let snapshot = caches.snapshot();
    actors
        .into_iter()
        .map(|(controller, mut local)| {
            let step = decide_on(controller.as_ref(), &snapshot, now, local.as_mut());
            (controller.name(), step)
        })
        .collect()
}

#[test]
fn the_harness_the_model_checker_and_the_runtime_decide_alike_for_every_controller() {
    let mut timers_seen = (0, 0);
    for seconds in [0, 3, 12, 40, 70, 130] {
        let harness = cluster(seconds);
        let now: Time = harness.now();
        let in_harness: BTreeMap<String, Step> = harness.preview().into_iter().collect();
        let in_runtime = runtime_decisions(seconds);
        assert_eq!(in_harness, in_runtime, "at t={seconds}s, harness (left) and runtime (right) differ");

        let model = model_of(seconds);
        assert_eq!(model.init.now, now);
        let mut deadlines = Deadlines::default();
        for (i, controller) in model.controllers.iter().enumerate() {
            let name = controller.name();
            let step = &in_harness[&name];
            let decided = model.decision(&model.init, i);
            assert_eq!(
                decided,
                (step.op.is_some(), step.wake_at, step.heartbeat_at),
                "at t={seconds}s, {name}: the model checker (left) and the harness (right) differ"
            );
            assert_eq!(next_run(step), step.wake_at.into_iter().chain(step.heartbeat_at).min());
            deadlines.add(step);
            timers_seen.0 += usize::from(step.wake_at.is_some());
            timers_seen.1 += usize::from(step.heartbeat_at.is_some());
        }
        assert_eq!(model.controllers.len(), in_harness.len(), "every actor is in the model");
        let tick = model.successors(&model.init).into_iter().find_map(|(action, _)| match action {
            Action::Tick(at) => Some(at),
            _ => None,
        });
        let idle = in_harness.values().all(|s| s.op.is_none());
        let expected = if idle { deadlines.next_time() } else { None };
        assert_eq!(tick, expected, "at t={seconds}s, the model moves time to (left), the protocol says (right)");
    }
    // The input exercised both kinds of timer, or the comparison above proves little.
    assert!(timers_seen.0 >= 6 && timers_seen.1 >= 4, "wake-ups and heartbeats seen: {timers_seen:?}");
}
