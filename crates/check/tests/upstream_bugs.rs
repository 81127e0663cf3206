//! Upstream bugs of kubernetes-behaviour.md §3 reproduced by their real mechanism: each built-in
//! scenario is violated under the consistency model that lets the bug happen, with the counterexample's
//! steps the ones the upstream issue describes, and holds under the fix upstream adopted.

use themelios_check::consistency::{Consistency, Staleness};
use themelios_check::{check, scenarios, Report};

/// The built-in scenario `name` with its faults taken out.
fn without_faults(name: &str) -> themelios_check::scenario::Scenario {
    let (path, text) = scenarios::FILES.iter().find(|(p, _)| p.contains(name)).expect("built in");
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("faults:") && !l.starts_with("  restarts:")).collect();
    themelios_check::file::parse(path, &kept.join("\n")).expect("still a valid scenario")
}

fn named(model: &str) -> Consistency {
    Consistency::named(model).expect("a named model")
}

/// The scenario under `model` for the actors it names (the others linearizable).
fn run(scenario: &str, model: &str) -> Report {
    let scenario = scenarios::by_name(scenario).expect("built in");
    check(scenario.under(named(model), 1), 2)
}

fn violated_by(report: &Report, property: &str) -> Vec<String> {
    let (why, steps) = report.violation().unwrap_or_else(|| panic!("expected a violation of {property}"));
    assert!(why.starts_with(property), "{why}");
    steps
}

fn position(steps: &[String], what: &str) -> usize {
    steps.iter().position(|s| s.contains(what)).unwrap_or_else(|| panic!("no step {what:?} in {steps:#?}"))
}

#[test]
fn daemonset_54096_a_restart_that_lists_from_a_lagging_cache_creates_a_second_daemon_pod() {
    let name = "DaemonSet-duplicate-pod-54096";
    let report = run(name, "resettable-session");
    let steps = violated_by(&report, "daemonset: at most one daemon pod per node outside a surge window");
    // The node registers, the controller creates its pod, crashes, lists from the lagging cache, and
    // creates a second pod: the sequence.
    let node = position(&steps, "create Node node-1");
    let first = position(&steps, "create Pod default/agent-");
    let restart = position(&steps, "daemonset-controller: crashes and restarts -> lists from the lagging cache");
    let second = steps.iter().rposition(|s| s.contains("create Pod default/agent-")).expect("a second create");
    assert!(node < first && first < restart && restart < second, "{steps:#?}");
    for fixed in ["linearizable", "read-your-writes+consistent-list"] {
        let report = run(name, fixed);
        assert!(report.complete && !report.violated(), "{fixed}: {:?}", report.violation());
    }
}

#[test]
fn daemonset_expectations_keep_a_running_controller_from_a_second_pod() {
    // Without the restart, a lagging pod cache alone does not double the pod: the controller expects its
    // create (upstream's expectations). This is where our controller used to differ from upstream.
    let report = check(without_faults("DaemonSet-duplicate-pod-54096").under(named("lagging-informers"), 1), 2);
    assert!(report.complete && !report.violated(), "{:?}", report.violation());
}

#[test]
fn replicaset_129795_expectations_expire_while_the_pod_watch_lags_and_a_surplus_pod_is_created() {
    let name = "ReplicaSet-surplus-pods-129795";
    let report = run(name, "lagging-informers");
    let steps = violated_by(&report, "replicaset: a create never takes a ReplicaSet's active pods above spec.replicas");
    let first = position(&steps, "create Pod default/web-");
    let expiry = position(&steps, "clock: time passes to t=300s");
    let second = steps.iter().rposition(|s| s.contains("create Pod default/web-")).expect("a second create");
    assert!(first < expiry && expiry < second, "{steps:#?}");
    assert!(!steps[first..second].iter().any(|s| s.contains("its cache of pods catches up")), "{steps:#?}");
    // Fixed by reading its own writes (KEP-5647); and a watch that lags less than the expectations'
    // lifetime never lets it happen.
    let fixed = run(name, "read-your-writes");
    assert!(fixed.complete && !fixed.violated(), "{:?}", fixed.violation());
    let mut bounded = scenarios::by_name(name).expect("built in").under(named("lagging-informers"), 1);
    bounded.staleness = Staleness::BelowTimers;
    let report = check(bounded, 2);
    assert!(report.complete && !report.violated(), "{:?}", report.violation());
}

#[test]
fn job_105200_a_pod_cache_behind_the_job_status_counts_a_pod_twice() {
    let name = "Job-double-count-105200";
    let report = run(name, "lagging-informers");
    let steps = violated_by(&report, "job: succeeded and failed count each finished pod once");
    let counted = steps.iter().rposition(|s| s.contains("update status Job default/job")).expect("status writes");
    let restart = position(&steps, "job-controller: crashes and restarts");
    let job_cache =
        steps.iter().rposition(|s| s.contains("its cache of jobs catches up")).expect("the Job cache moves");
    assert!(restart < job_cache && job_cache < steps.len(), "{steps:#?}");
    assert!(counted < steps.len(), "{steps:#?}");
    let fixed = run(name, "read-your-writes+consistent-list");
    assert!(fixed.complete && !fixed.violated(), "{:?}", fixed.violation());
    // Upstream's finalizer-removal expectations: without the restart the lagging pod cache does no harm.
    let report = check(without_faults(name).under(named("lagging-informers"), 1), 2);
    assert!(report.complete && !report.violated(), "{:?}", report.violation());
}

#[test]
fn cronjob_forbid_starts_a_second_job_when_its_caches_miss_the_first_and_its_own_status_write() {
    // Time-driven, yet finite: times (Job names' scheduled minutes too) are hashed modulo the schedule's
    // period, so every model's run ends.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/time-driven/CronJob-forbid-stale-status.yaml");
    let scenario = themelios_check::file::load(std::path::Path::new(path)).expect("a valid scenario");
    let report = check(scenario.model(named("lagging-informers")), 2);
    assert!(report.complete, "the space ends");
    let steps = violated_by(&report, "cronjob: Forbid never runs two Jobs of one CronJob at once");
    assert_eq!(steps.len(), 28, "{steps:#?}");
    let first = position(&steps, "create Job default/report-");
    let status = position(&steps, "update status CronJob default/report -> ok");
    let second = steps
        .iter()
        .rposition(|s| s.contains("create Job default/report-") && s.contains("-> ok"))
        .expect("a second Job");
    assert!(first < status && status < second, "{steps:#?}");
    // Neither cache caught up in between: the controller saw neither its Job nor its status write.
    assert!(!steps[first..second].iter().any(|s| s.contains("catches up")), "{steps:#?}");
    // Reading its own writes (KEP-5647) prevents it, over the whole space; so does a linearizable store.
    for fixed in ["read-your-writes", "linearizable"] {
        let report = check(scenario.model(named(fixed)), 2);
        assert!(report.complete && !report.violated(), "{fixed}: {:?}", report.violation());
    }
}
