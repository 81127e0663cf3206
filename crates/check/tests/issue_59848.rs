//! Kubernetes issue 59848 in the model: a kubelet that restarts and lists from a lagging API server cache
//! runs a deleted StatefulSet pod again while its replacement runs on another node. The restarting kubelet
//! reads under the model named; the other actors are linearizable.

use themelios_check::consistency::{Consistency, Staleness};
use themelios_check::{check, scenarios, Report};

fn run(model: &str) -> Report {
    run_with(model, Staleness::Unbounded)
}

fn run_with(model: &str, staleness: Staleness) -> Report {
    let consistency = Consistency::named(model).expect("a named model");
    let linear = Consistency::named("linearizable").expect("a named model");
    let mut model =
        scenarios::issue_59848().hybrid(|actor| if actor == "kubelet/node-1" { consistency } else { linear });
    model.staleness = staleness;
    check(model, 2)
}

#[test]
fn violated_when_a_restarted_kubelet_lists_from_a_lagging_cache() {
    let report = run("resettable-session");
    let (why, steps) = report.violation().expect("two pods with one identity run");
    assert!(
        why.starts_with("statefulset: at most one running pod per identity across nodes: default/db-0 runs twice"),
        "{why}"
    );
    assert!(why.contains("kubelet/node-1") && why.contains("kubelet/node-2"), "{why}");
    assert!(
        steps.iter().any(|s| s.contains("kubelet/node-1: crashes and restarts -> lists from the lagging cache")),
        "{steps:#?}"
    );
    assert!(steps.iter().any(|s| s.contains("bind default/db-0 to node node-2")), "{steps:#?}");
}

#[test]
fn holds_under_linearizable_reads() {
    let report = run("linearizable");
    assert!(report.violation().is_none(), "{:?}", report.violation());
    assert!(report.unique_states > 50, "the space was explored: {} states", report.unique_states);
}

#[test]
fn holds_with_read_your_writes_and_consistent_list() {
    let report = run("read-your-writes+consistent-list");
    assert!(report.violation().is_none(), "{:?}", report.violation());
}

#[test]
fn violated_under_the_other_stale_models() {
    for model in ["lagging-informers", "causal", "optimistic"] {
        let report = run(model);
        let (why, _) = report.violation().unwrap_or_else(|| panic!("{model}: expected a violation"));
        assert!(why.contains("default/db-0 runs twice"), "{model}: {why}");
    }
}

#[test]
fn comes_out_the_same_when_caches_are_stale_only_until_time_moves() {
    // The stale list needs no timer to fire while the cache lags: bounding staleness below every timer
    // changes no verdict.
    for model in ["resettable-session", "lagging-informers", "causal", "optimistic"] {
        let report = run_with(model, Staleness::BelowTimers);
        let (why, _) = report.violation().unwrap_or_else(|| panic!("{model}: expected a violation"));
        assert!(why.contains("default/db-0 runs twice"), "{model}: {why}");
    }
    for model in ["linearizable", "read-your-writes+consistent-list"] {
        let report = run_with(model, Staleness::BelowTimers);
        assert!(report.complete && report.violation().is_none(), "{model}: {:?}", report.violation());
    }
}
