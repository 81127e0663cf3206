//! Scenario files: a file checks like a built-in scenario, and a malformed one is reported with its file,
//! line and field.

use themelios_check::consistency::Consistency;
use themelios_check::{check, file};

#[test]
fn the_example_file_holds_under_linearizable_and_two_instances() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/ReplicaSet-TestSpecReplicasChange.yaml");
    let scenario = file::load(&path).expect("the example parses");
    assert_eq!(scenario.name, "ReplicaSet-TestSpecReplicasChange");
    let linearizable = Consistency::named("linearizable").expect("named");
    let report = check(scenario.model(linearizable), 2);
    assert!(report.violation().is_none(), "{:?}", report.violation());
    assert!(report.unique_states > 50, "{}", report.unique_states);
    // Two instances create surplus pods (a finding: see builtin.rs); every other property holds.
    let mut duplicated = scenario.with_instances(linearizable, 2);
    duplicated.properties.retain(|p| !p.name.starts_with("replicaset: a create never takes"));
    let report = check(duplicated, 2);
    assert!(report.violation().is_none(), "{:?}", report.violation());
}

fn error(text: &str) -> String {
    match file::parse("bad.yaml", text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_files_name_file_line_and_field() {
    let unknown_controller = "name: x\ncontrollers:\n  - replicaset\n  - replicaset-controller\n";
    assert!(
        error(unknown_controller)
            .starts_with("bad.yaml:4: controllers[1]: unknown controller \"replicaset-controller\""),
        "{}",
        error(unknown_controller)
    );

    let unknown_kind = "name: x\ncontrollers: [replicaset]\nobjects:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: a, namespace: default}\n  - apiVersion: apps/v1\n    kind: Deploymnet\n";
    assert!(
        error(unknown_kind).starts_with("bad.yaml:7: objects[1].kind: unknown kind \"Deploymnet\""),
        "{}",
        error(unknown_kind)
    );

    let bad_field = "name: x\ncontrollers: [replicaset]\nuser:\n  - scale: {kind: ReplicaSet, name: web, replica: 3}\n";
    let e = error(bad_field);
    assert!(e.starts_with("bad.yaml:4: user[0].scale: missing field `replicas`"), "{e}");

    let missing = "controllers: [replicaset]\n";
    assert!(error(missing).contains("missing field `name`"), "{}", error(missing));

    let typo_at_top = "name: x\ncontrolers: [replicaset]\n";
    let e = error(typo_at_top);
    assert!(e.starts_with("bad.yaml:2:") && e.contains("unknown field `controlers`"), "{e}");

    let rejected = "name: x\ncontrollers: [replicaset]\nobjects:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: ok, namespace: default}\n  - apiVersion: apps/v1\n    kind: ReplicaSet\n    metadata: {name: web, namespace: default}\n    spec:\n      replicas: -1\n      selector: {matchLabels: {app: web}}\n      template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: x}]}}\n";
    let e = error(rejected);
    assert!(
        e.starts_with("bad.yaml:7: objects[1].spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
        "{e}"
    );

    let unknown_property = "name: x\ncontrollers: [replicaset]\nproperties:\n  - \"replicaset: never sleeps\"\n";
    let e = error(unknown_property);
    assert!(e.starts_with("bad.yaml:4: properties[0]: no property \"replicaset: never sleeps\""), "{e}");

    let unknown_model = "name: x\ncontrollers: [replicaset]\nconsistency:\n  model: eventual\n";
    let e = error(unknown_model);
    assert!(e.starts_with("bad.yaml:4: consistency.model: unknown consistency model \"eventual\""), "{e}");

    let unknown_staleness =
        "name: x\ncontrollers: [replicaset]\nconsistency:\n  model: causal\n  staleness: sometimes\n";
    let e = error(unknown_staleness);
    assert!(e.starts_with("bad.yaml:5: consistency.staleness: unknown staleness \"sometimes\""), "{e}");

    let many_ops: String =
        (0..65).map(|i| format!("  - scale: {{kind: ReplicaSet, name: web, replicas: {i}}}\n")).collect();
    let e = error(&format!("name: x\ncontrollers: [replicaset]\nuser:\n{many_ops}"));
    assert!(e.starts_with("bad.yaml:68: user[64]: a scenario lists at most 64 user operations"), "{e}");

    let bad_object = "name: x\ncontrollers: [replicaset]\nobjects:\n  - apiVersion: apps/v1\n    kind: ReplicaSet\n    spec: {replicas: three}\n";
    let e = error(bad_object);
    assert!(e.starts_with("bad.yaml:4: objects[0]:") && e.contains("invalid type"), "{e}");
}

#[test]
fn injected_conflicts_and_timeouts_are_explored_and_survived() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/ReplicaSet-TestSpecReplicasChange.yaml"),
    )
    .expect("the built-in file");
    let plain = file::parse("plain.yaml", &text).expect("parses");
    let faulty = text.replace(
        "faults:\n  restarts: {replicaset-controller: 1}",
        "faults:\n  restarts: {replicaset-controller: 1}\n  conflicts: {replicaset-controller: 1}\n  timeouts: {replicaset-controller: 1}",
    );
    assert_ne!(faulty, text, "the faults were added");
    let faulty = file::parse("faulty.yaml", &faulty).expect("parses");
    let linearizable = Consistency::LINEARIZABLE;
    let (plain, faulty) = (check(plain.model(linearizable), 2), check(faulty.model(linearizable), 2));
    assert!(!faulty.violated(), "{:?}", faulty.violation());
    assert!(faulty.complete);
    assert!(faulty.unique_states > plain.unique_states, "{} vs {}", faulty.unique_states, plain.unique_states);
}

/// A DaemonSet on every node, as a scenario's `objects`.
const AGENT_DAEMONSET: &str = "objects:
  - apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: agent, namespace: default}
    spec:
      selector: {matchLabels: {app: agent}}
      template:
        metadata: {labels: {app: agent}}
        spec: {containers: [{name: agent, image: \"agent:1\"}]}
";

/// `user: - create: {manifest}` creates any object mid-run, once (while no object of its name exists).
#[test]
fn an_object_can_be_created_mid_run() {
    let text = format!(
        "name: node-joins\ncontrollers: [daemonset]\n{AGENT_DAEMONSET}{}",
        r#"user:
  - create:
      apiVersion: v1
      kind: Node
      metadata: {name: node-9}
"#
    );
    use stateright::Model;
    let scenario = file::parse("joins.yaml", &text).expect("a valid scenario");
    let model = scenario.model(Consistency::named("linearizable").expect("named"));
    let init = model.init_states().remove(0);
    let successors = model.successors(&init);
    let joined = successors
        .iter()
        .find(|(a, _)| model.describe(&init, a).contains("user: create Node node-9"))
        .map(|(_, s)| s.clone())
        .expect("the create is enabled at the start");
    let again = model.successors(&joined);
    assert!(!again.iter().any(|(a, _)| model.describe(&joined, a).contains("create Node")), "only once");
    // The DaemonSet controller now has a pod to create for the new node.
    assert!(again.iter().any(|(a, _)| model.describe(&joined, a).contains("create Pod default/agent-")));
    let report = check(model, 2);
    assert!(report.complete && !report.violated(), "{:?}", report.violation());

    let bad = text.replace("kind: Node\n      metadata: {name: node-9}", "kind: Node\n      metadata: {name: Node_9}");
    let why = error(&bad);
    assert!(why.starts_with("bad.yaml:13: user[0].create.metadata.name: "), "{why}");
}

/// `podReady` makes a running pod unready (a failing readiness probe) or ready again — what kubernetes
/// #41889 needs: the StatefulSet's scale-up is seen before pod 0 becoming unready, and pod 1 is created
/// while its predecessor is not Ready.
#[test]
fn a_running_pod_can_become_unready_and_ready_again() {
    let text = r#"
name: statefulset-41889
controllers: [statefulset, pod-readier]
objects:
  - apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: db, namespace: default}
    spec:
      replicas: 1
      serviceName: db
      selector: {matchLabels: {app: db}}
      template:
        metadata: {labels: {app: db}}
        spec: {containers: [{name: app, image: "db:1"}]}
user:
  - podReady: {kind: StatefulSet, name: db, ready: false}
  - scale: {kind: StatefulSet, name: db, replicas: 2}
  - podReady: {kind: StatefulSet, name: db, ready: true}
"#;
    let scenario = file::parse("41889.yaml", text).expect("a valid scenario");
    let report = check(scenario.model(Consistency::named("linearizable").expect("named")), 2);
    assert!(report.complete && !report.violated(), "{:?}", report.violation());
    // The lagging space is large; the shortest violation is four steps deep.
    let bounds = themelios_check::explore::Bounds { max_states: Some(20_000), ..Default::default() };
    let lagging = scenario.model(Consistency::named("lagging-informers").expect("named"));
    let report = themelios_check::check_with(&lagging, 2, bounds, |_| {});
    let (why, steps) = report.violation().expect("pod 1 created while pod 0 is unready");
    assert_eq!(steps.len(), 4, "{steps:#?}");
    assert!(
        why.starts_with("statefulset: OrderedReady creates a pod only when every predecessor is Running and Ready"),
        "{why}"
    );
    let unready = steps
        .iter()
        .position(|s| s.contains("a running pod of StatefulSet default/db becomes unready"))
        .expect("{steps:#?}");
    let created = steps.iter().rposition(|s| s.contains("create Pod default/db-1")).expect("pod 1 created");
    assert!(unready < created, "{steps:#?}");
}

/// `joining: [node]` starts a node's kubelet mid-run (the node joins the cluster), and `faults.stops`
/// stops an actor for good (a kubelet: its node stops heartbeating); a stopped actor takes no step.
#[test]
fn nodes_join_and_stop_mid_run() {
    use stateright::Model;
    let text = format!(
        "name: nodes-come-and-go\ncontrollers: [daemonset]\nnodes: [node-1]\njoining: [node-2]\n{AGENT_DAEMONSET}{}",
        "faults:\n  stops: {kubelet/node-1: 1}\n"
    );
    let scenario = file::parse("nodes.yaml", &text).expect("a valid scenario");
    let model = scenario.model(Consistency::named("linearizable").expect("named"));
    let init = model.init_states().remove(0);
    let described = |state: &themelios_check::model::State| -> Vec<(String, themelios_check::model::State)> {
        model.successors(state).into_iter().map(|(a, s)| (model.describe(state, &a), s)).collect()
    };
    let first = described(&init);
    assert!(!first.iter().any(|(d, _)| d.starts_with("kubelet/node-2 @")), "node-2 takes no step before it joins");
    let (_, joined) = first
        .iter()
        .find(|(d, _)| d.starts_with("kubelet/node-2: starts: its node joins the cluster"))
        .expect("node-2 may join");
    assert!(described(joined).iter().any(|(d, _)| d.contains("kubelet/node-2 @") && d.contains("create Node node-2")));
    let (_, stopped) = first
        .iter()
        .find(|(d, _)| d.starts_with("kubelet/node-1: stops for good: its node stops heartbeating"))
        .expect("node-1 may stop");
    assert!(!described(stopped).iter().any(|(d, _)| d.starts_with("kubelet/node-1")), "a stopped kubelet does nothing");
    let report = check(model, 2);
    assert!(report.complete && !report.violated(), "{:?}", report.violation());

    let both = text.replace("joining: [node-2]", "joining: [node-1]");
    assert!(error(&both).contains("joining[0]: node \"node-1\" is listed in `nodes` too"), "{}", error(&both));
}

/// States are hashed modulo the period of the CronJobs' schedules, so one created mid-run must repeat
/// within a day: a weekly one is refused with its place in the file; an hourly one is accepted.
#[test]
fn a_cron_job_created_mid_run_must_repeat_within_a_day() {
    let scenario = |schedule: &str| {
        format!(
            "name: cron-later\ncontrollers: [cronjob]\nuser:\n  - create:\n      apiVersion: batch/v1\n      \
             kind: CronJob\n      metadata: {{name: weekly, namespace: default}}\n      spec:\n        \
             schedule: \"{schedule}\"\n        jobTemplate:\n          spec:\n            template:\n              \
             spec:\n                restartPolicy: Never\n                containers: [{{name: app, image: busybox}}]\n"
        )
    };
    let why = error(&scenario("0 9 * * 1"));
    assert!(
        why.starts_with("bad.yaml:4: user[0].create.spec.schedule: a CronJob created mid-run must repeat"),
        "{why}"
    );
    assert!(file::parse("ok.yaml", &scenario("0 * * * *")).is_ok());
}
