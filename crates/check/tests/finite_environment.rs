//! A finite environment makes a finite state space, even where a component would retry for ever: a Job's
//! pod that fails in place (restartPolicy OnFailure) on every run — its container restarts count against
//! the Job's backoff limit, as upstream documents, so the Job fails and stops the pod; and caches that may
//! lag only until time next moves (`Staleness::BelowTimers`) — a controller's timers then never fire on a
//! stale read, which otherwise may repeat without end.

use themelios_check::consistency::{Consistency, Staleness};
use themelios_check::explore::Bounds;
use themelios_check::model::{Action, ClusterModel, State};
use themelios_check::{check_with, file, scenarios, Status};

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

fn lagging_informers(staleness: Staleness) -> ClusterModel {
    let scenario = scenarios::by_name("ReplicaSet-TestSpecReplicasChange").expect("built in");
    let mut model = scenario.model(Consistency::named("lagging-informers").expect("a named model"));
    model.staleness = staleness;
    // The restart makes surplus pods here (a restarted controller lists a pod cache without its last
    // create: upstream_bugs.rs covers that); these tests are about how far the space reaches.
    model.properties.retain(|p| !p.name.starts_with("replicaset: a create never takes"));
    model
}

/// Up to `limit` states reachable from the start, breadth first.
fn reachable(model: &ClusterModel, limit: usize) -> Vec<State> {
    let mut seen = std::collections::HashSet::new();
    let mut queue = std::collections::VecDeque::from([model.init.clone()]);
    let mut states = Vec::new();
    while states.len() < limit {
        let Some(state) = queue.pop_front() else { break };
        if !seen.insert(model.summaries.fingerprint(&state)) {
            continue;
        }
        queue.extend(model.successors(&state).into_iter().map(|(_, next)| next));
        states.push(state);
    }
    states
}

fn ticks_while_a_cache_is_behind(model: &ClusterModel) -> usize {
    let behind =
        |state: &State| state.actors.iter().any(|a| a.cache.as_ref().is_some_and(|c| !c.is_current(&state.store)));
    let ticking = |state: &State| model.successors(state).iter().any(|(a, _)| matches!(a, Action::Tick(_)));
    reachable(model, 5_000).iter().filter(|s| behind(s) && ticking(s)).count()
}

#[test]
fn time_waits_for_caches_only_when_staleness_is_below_timers() {
    assert_eq!(ticks_while_a_cache_is_behind(&lagging_informers(Staleness::BelowTimers)), 0);
    assert!(ticks_while_a_cache_is_behind(&lagging_informers(Staleness::Unbounded)) > 0);
}

#[test]
fn a_replica_set_on_lagging_informers_ends_when_staleness_is_below_timers() {
    // With unbounded staleness the controller may create a pod each time its expectations expire while
    // its pod cache still misses the last one, for ever; below timers, the space is finite.
    let bounds = || Bounds { max_states: Some(200_000), ..Default::default() };
    let bounded = check_with(&lagging_informers(Staleness::BelowTimers), 2, bounds(), |_| {});
    assert!(bounded.complete, "{} states and still going", bounded.unique_states);
    assert!(!bounded.violated(), "{:?}", bounded.violation());
    let unbounded = check_with(&lagging_informers(Staleness::Unbounded), 2, bounds(), |_| {});
    assert!(
        !unbounded.complete,
        "unbounded staleness ends too ({} states): this shows nothing",
        unbounded.unique_states
    );
}
