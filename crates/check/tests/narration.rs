//! A counterexample is narrated by the transition it shows: in every reachable state, the narrated
//! transition leads exactly where the checker's own does, and what it says the response was is what the
//! datastore shows afterwards.

use themelios_api::StateRead;
use themelios_check::model::{Action, ClusterModel};
use themelios_check::{consistency::Consistency, file, scenarios};

/// A Job scenario whose controller may meet an injected conflict and timeout, and restart.
const FAULTY_JOB: &str = r#"
name: Job-with-faults
controllers: [job, scheduler]
nodes: [node-1]
objects:
  - apiVersion: batch/v1
    kind: Job
    metadata: {name: job, namespace: default}
    spec:
      completions: 1
      template:
        spec:
          restartPolicy: Never
          containers: [{name: app, image: "busybox:1.36"}]
user:
  - podExits: {kind: Job, name: job, exitCode: 0}
faults:
  restarts: {job-controller: 1}
  conflicts: {job-controller: 1}
  timeouts: {job-controller: 1}
"#;

/// Walks up to `limit` states breadth-first and checks every transition's narration.
fn check_narration(model: &ClusterModel, limit: usize) -> [usize; 4] {
    let mut seen = std::collections::HashSet::new();
    let mut queue = std::collections::VecDeque::from([model.init.clone()]);
    // Steps that wrote, steps that wrote nothing or failed, faults, other actions.
    let mut counted = [0; 4];
    while let Some(state) = queue.pop_front() {
        if seen.len() >= limit || !seen.insert(model.summaries.fingerprint(&state)) {
            continue;
        }
        for (action, next) in model.successors(&state) {
            let (narrated, account) = model.narrated(&state, action.clone()).expect("an enabled action narrates");
            assert_eq!(narrated, next, "the narrated {action:?} leads elsewhere: {account}");
            match action {
                Action::Step(_) | Action::StepLagging(_) => {
                    assert!(account.read.is_some(), "{account}");
                    match account.outcome.strip_prefix("ok, rv ") {
                        Some(revision) => {
                            assert_eq!(revision.parse::<u64>().ok(), Some(next.store.revision()), "{account}");
                            counted[0] += 1;
                        }
                        None => {
                            assert_eq!(next.store.revision(), state.store.revision(), "{account}");
                            counted[1] += 1;
                        }
                    }
                }
                Action::Fault(..) => {
                    let wrote = next.store.revision() != state.store.revision();
                    assert_eq!(account.outcome.contains("but written at rv"), wrote, "{account}");
                    counted[2] += 1;
                }
                _ => counted[3] += 1,
            }
            queue.push_back(next);
        }
    }
    counted
}

#[test]
fn every_transition_is_narrated_as_it_happens() {
    let faulty = file::parse("faulty-job.yaml", FAULTY_JOB).expect("a valid scenario");
    let counted = check_narration(&faulty.model(Consistency::LINEARIZABLE), 3_000);
    assert!(counted[0] > 0 && counted[2] > 0 && counted[3] > 0, "writes, faults and the rest were met: {counted:?}");
    let stale = scenarios::issue_59848();
    let counted = check_narration(&stale.default_model(1), 3_000);
    assert!(counted[0] > 0 && counted[3] > 0, "{counted:?}");
}
