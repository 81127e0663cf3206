//! Every built-in scenario holds under linearizable reads, with one and with two instances of each
//! controller (a duplicate controller-manager).

use themelios_check::canonical::Summaries;
use themelios_check::consistency::Consistency;
use themelios_check::{check, scenarios};
use themelios_controllers::framework::TimeUse;

fn linearizable() -> Consistency {
    Consistency::named("linearizable").expect("a named model")
}

#[test]
fn every_built_in_scenario_holds_under_linearizable_reads() {
    for scenario in scenarios::builtin() {
        let report = check(scenario.model(linearizable()), 2);
        assert!(report.violation().is_none(), "{}: {:?}", scenario.name, report.violation());
        assert!(report.unique_states > 1, "{}: explored", scenario.name);
    }
}

#[test]
fn every_built_in_scenario_holds_with_two_instances_of_each_controller() {
    // A duplicate controller-manager: every safety property, every goal at quiescence, and no livelock,
    // over the whole (finite) state space.
    // Surplus pods are the exception: two ReplicaSet controllers that each see a pod missing each create
    // it (`a_duplicate_controller_manager_creates_surplus_pods`).
    for scenario in scenarios::builtin() {
        let name = &scenario.name;
        let one = check(scenario.model(linearizable()), 2);
        let mut duplicated = scenario.with_instances(linearizable(), 2);
        duplicated.properties.retain(|p| p.name != SURPLUS);
        let two = check(duplicated, 2);
        assert!(two.complete, "{name}: explored to the end");
        assert!(!two.violated(), "{name}: {:?}", two.violation());
        // Two instances of a controller with no memory that matters reach the same states by more paths.
        assert!(two.states > one.states, "{name}: a second instance adds transitions");
        assert!(two.unique_states >= one.unique_states, "{name}: and loses no state");
    }
}

const SURPLUS: &str = "replicaset: a create never takes a ReplicaSet's active pods above spec.replicas";

/// A finding, not a failure of the model: a duplicate controller-manager (two ReplicaSet controllers both
/// acting, as after a failed leader election) creates more pods than a ReplicaSet asks for, even with
/// every read linearizable — each sees the pods the other has not created yet as missing. They are
/// deleted again once both see them (the goal still holds).
#[test]
fn a_duplicate_controller_manager_creates_surplus_pods() {
    let scenario = scenarios::by_name("Deployment-TestNewDeployment").expect("built in");
    let report = check(scenario.with_instances(linearizable(), 2), 2);
    let (why, steps) = report.violation().expect("surplus pods");
    assert!(why.starts_with(SURPLUS), "{why}");
    assert!(steps.iter().any(|s| s.starts_with("replicaset-controller#2")), "{steps:#?}");
    assert!(!check(scenario.model(linearizable()), 2).violated(), "one instance holds");
}

#[test]
fn a_scenario_whose_goal_cannot_be_reached_is_reported() {
    // A controller-less Job never finishes: the goal check at quiescence must catch it.
    let scenario = scenarios::by_name("Job-TestParallelJob").expect("built in");
    let mut model = scenario.model(linearizable());
    model.controllers.clear();
    model.consistency.clear();
    model.init.actors = std::sync::Arc::from(Vec::new());
    let report = check(model, 1);
    let (why, _) = report.violation().expect("the Job never completes");
    assert!(why.starts_with("job: every Job ends Complete or Failed"), "{why}");
}

#[test]
fn a_controller_retrying_against_a_stale_cache_does_not_make_the_space_endless() {
    // Under these models the StatefulSet controller retries a status update that conflicts with its
    // stale cache, again and again at one instant. Its backoff must stop counting failures once the
    // count no longer changes a retry time, or every retry is a new state and BFS never ends (it passed
    // depth 20,000 before the count was capped).
    let scenario = scenarios::by_name("StatefulSet-TestSpecReplicasChange").expect("built in");
    for model in ["read-your-writes", "read-your-writes+consistent-list", "causal"] {
        let bounds = themelios_check::explore::Bounds { max_states: Some(100_000), ..Default::default() };
        let consistency = Consistency::named(model).expect("a named model");
        let report = themelios_check::check_with(&scenario.model(consistency), 2, bounds, |_| {});
        assert!(report.complete, "{model}: {} states and still going", report.unique_states);
        assert!(!report.violated(), "{model}: {:?}", report.violation());
        assert!(report.depth < 100, "{model}: depth {}", report.depth);
    }
}

#[test]
fn a_controller_backing_off_forever_against_a_stale_cache_does_not_make_time_endless() {
    // Under causal reads the Deployment controller can keep acting on a stale cache, back off and retry
    // while time moves on to each retry: every round stamps later times, and with times hashed as they
    // are each round is a new state. Hashed relative to now, with times past the horizon kept only in
    // order, the rounds close into a loop and BFS ends.
    let scenario = scenarios::by_name("Deployment-TestPausedDeployment").expect("built in");
    let consistency = Consistency::named("causal").expect("a named model");
    let bounds = || themelios_check::explore::Bounds { max_states: Some(200_000), ..Default::default() };
    let model = scenario.model(consistency);
    assert!(matches!(model.time_use(), TimeUse::Relative { .. }), "{:?}", model.time_use());
    let report = themelios_check::check_with(&model, 2, bounds(), |_| {});
    assert!(report.complete, "{} states and still going", report.unique_states);
    assert!(!report.violated(), "{:?}", report.violation());
    let mut absolute = scenario.model(consistency);
    absolute.summaries = Summaries::new(TimeUse::Absolute);
    let report = themelios_check::check_with(&absolute, 2, bounds(), |_| {});
    assert!(
        !report.complete,
        "with absolute times it ends too ({} states): this test shows nothing",
        report.unique_states
    );
}
