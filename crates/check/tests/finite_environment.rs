//! A finite environment makes a finite state space, even where a component would retry for ever: here a
//! Job's pod that fails in place (restartPolicy OnFailure) on every run. Its container restarts count
//! against the Job's backoff limit, as upstream documents, so the Job fails and stops the pod; without
//! that count the restart count grows without end and so does the space.

use themelios_check::consistency::Consistency;
use themelios_check::explore::Bounds;
use themelios_check::{check_with, file, Status};

const CRASH_LOOP: &str = r#"
name: Job-crash-loop
description: A Job whose pod exits 1 on every run and restarts in place.
controllers: [job, scheduler]
nodes: [node-1]
objects:
  - apiVersion: batch/v1
    kind: Job
    metadata: {name: job, namespace: default}
    spec:
      completions: 1
      backoffLimit: 2
      template:
        metadata: {annotations: {themelios.dev/exit-code: "1"}}
        spec:
          restartPolicy: OnFailure
          containers: [{name: app, image: "busybox:1.36"}]
"#;

#[test]
fn a_pod_failing_in_place_for_ever_ends_at_the_jobs_backoff_limit() {
    let scenario = file::parse("crash-loop.yaml", CRASH_LOOP).expect("a valid scenario");
    let bounds = Bounds { max_states: Some(10_000), ..Default::default() };
    let report = check_with(&scenario.model(Consistency::LINEARIZABLE), 1, bounds, |_| {});
    assert!(report.complete, "{} states and still going", report.unique_states);
    assert!(!report.violated(), "{:?}", report.violation());
    let goal = report.verdicts.iter().find(|v| v.property.starts_with("job: every Job ends")).expect("the Job goal");
    assert_eq!(goal.status, Status::Holds, "the Job ends (Failed: BackoffLimitExceeded)");
}
