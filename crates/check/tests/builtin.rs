//! Every built-in scenario holds under linearizable reads; the small ones also with two instances of each
//! controller (a duplicate controller-manager).

use themelios_check::consistency::Consistency;
use themelios_check::{check, scenarios};

fn linearizable() -> Consistency {
    Consistency::named("linearizable").expect("a named model")
}

#[test]
fn every_built_in_scenario_holds_under_linearizable_reads() {
    for scenario in scenarios::builtin() {
        let report = check(scenario.model(linearizable()), 2);
        assert!(report.violation.is_none(), "{}: {:?}", scenario.name, report.violation);
        assert!(report.unique_states > 1, "{}: explored", scenario.name);
    }
}

#[test]
fn small_scenarios_hold_with_two_instances_of_each_controller() {
    for name in [
        "Job-TestNonParallelJob",
        "Job-TestParallelJob",
        "ReplicaSet-TestSpecReplicasChange",
        "ReplicaSet-TestOverlappingRSs",
        "StatefulSet-TestSpecReplicasChange",
    ] {
        let scenario = scenarios::by_name(name).expect("built in");
        let one = check(scenario.model(linearizable()), 2);
        let two = check(scenario.with_instances(linearizable(), 2), 2);
        assert!(two.violation.is_none(), "{name}: {:?}", two.violation);
        assert!(two.unique_states > one.unique_states, "{name}: a second instance adds interleavings");
    }
}

#[test]
fn a_scenario_whose_goal_cannot_be_reached_is_reported() {
    // A controller-less Job never finishes: the goal check at quiescence must catch it.
    let scenario = scenarios::by_name("Job-TestParallelJob").expect("built in");
    let mut model = scenario.model(linearizable());
    model.controllers.clear();
    model.consistency.clear();
    model.init.actors.clear();
    let report = check(model, 1);
    let (why, _) = report.violation.expect("the Job never completes");
    assert!(why.starts_with("job: every Job ends Complete or Failed"), "{why}");
}
