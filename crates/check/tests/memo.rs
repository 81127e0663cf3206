//! What the checker keeps to go fast — memoised steps and per-part fingerprint summaries — must not change
//! what it finds: from every state, a model whose memo and summaries are warm from an exploration leads to
//! exactly the states a fresh model leads to, with the same fingerprints as fingerprinting afresh.

use std::collections::HashSet;
use themelios_check::canonical::fingerprint;
use themelios_check::consistency::Consistency;
use themelios_check::model::{ClusterModel, State};
use themelios_check::scenario::Scenario;
use themelios_check::scenarios;

/// Explores `levels` BFS levels (at most `per_level` states each) with `warm`, checking every state's
/// successors against a fresh model built by `fresh`. Returns how many states were compared.
fn compare(warm: &ClusterModel, fresh: impl Fn() -> ClusterModel, levels: usize, per_level: usize) -> usize {
    let mut level: Vec<State> = vec![warm.init.clone()];
    let mut seen = HashSet::new();
    let mut compared = 0;
    for _ in 0..levels {
        let mut next = Vec::new();
        for state in level.iter().take(per_level) {
            let warm_successors = warm.successors(state);
            let fresh_successors = fresh().successors(state);
            assert_eq!(warm_successors.len(), fresh_successors.len());
            for ((warm_action, warm_next), (fresh_action, fresh_next)) in warm_successors.iter().zip(&fresh_successors)
            {
                assert_eq!(warm_action, fresh_action);
                assert!(warm_next == fresh_next, "after {warm_action:?} the memoised step leads elsewhere");
                let kept = warm.summaries.fingerprint(warm_next);
                assert_eq!(kept, fingerprint(fresh_next, warm.time_use()), "after {warm_action:?}");
                compared += 1;
                if seen.insert(kept) {
                    next.push(warm_next.clone());
                }
            }
        }
        level = next;
    }
    compared
}

fn scenario(name: &str) -> Scenario {
    scenarios::by_name(name).unwrap_or_else(|| panic!("built-in scenario {name}"))
}

fn named(model: &str) -> Consistency {
    Consistency::named(model).expect("a named model")
}

#[test]
fn memoised_steps_lead_where_fresh_steps_lead_under_linearizable_reads() {
    let rolling = scenario("Deployment-TestDeploymentRollingUpdate");
    let warm = rolling.with_instances(named("linearizable"), 2);
    let compared = compare(&warm, || rolling.with_instances(named("linearizable"), 2), 12, 40);
    assert!(compared > 500, "only {compared} transitions compared");
    // The memo is worth keeping only if steps repeat: far fewer distinct steps than states compared.
    assert!(warm.steps.len() < compared, "{} distinct steps for {compared} transitions", warm.steps.len());
}

#[test]
fn memoised_steps_lead_where_fresh_steps_lead_with_lagging_caches() {
    // Caches that lag bring maps other than the latest into states, and names only they carry.
    for model in ["lagging-informers", "optimistic", "read-your-writes"] {
        let replicas = scenario("ReplicaSet-TestSpecReplicasChange");
        let warm = replicas.with_instances(named(model), 2);
        let compared = compare(&warm, || replicas.with_instances(named(model), 2), 10, 30);
        assert!(compared > 200, "{model}: only {compared} transitions compared");
    }
}

#[test]
fn memoised_steps_lead_where_fresh_steps_lead_for_kubelets_and_restarts() {
    // Model-wide properties (what kubelets run) are checked outside the memo, on every state.
    let stale = scenarios::issue_59848();
    let assign =
        |actor: &str| if actor == "kubelet/node-1" { named("resettable-session") } else { named("linearizable") };
    let warm = stale.hybrid(assign);
    let compared = compare(&warm, || stale.hybrid(assign), 14, 40);
    assert!(compared > 300, "only {compared} transitions compared");
}

#[test]
fn steps_that_start_afresh_when_full_still_lead_where_fresh_steps_lead() {
    let rolling = scenario("Deployment-TestDeploymentRollingUpdate");
    let mut warm = rolling.with_instances(named("linearizable"), 2);
    warm.steps = themelios_check::memo::Steps::keeping(16);
    let compared = compare(&warm, || rolling.with_instances(named("linearizable"), 2), 12, 40);
    assert!(compared > 500, "only {compared} transitions compared");
    assert!(warm.steps.len() <= 16 + 1, "{} steps kept", warm.steps.len());
}

#[test]
fn a_model_whose_exploration_caches_were_released_explores_the_same_states() {
    // `check` releases the memo, the summaries and the shared copies before deciding liveness; the
    // counterexample replay after it, and any later check of the same model, must find the same states.
    let replicas = scenario("ReplicaSet-TestSpecReplicasChange");
    let model = replicas.with_instances(named("lagging-informers"), 2);
    let bounds = themelios_check::explore::Bounds { max_states: Some(20_000), ..Default::default() };
    let explore = |model: &ClusterModel| {
        let exploration = themelios_check::explore::explore(model, 2, bounds.clone(), |_| {});
        let fingerprints: Vec<u64> =
            (0..exploration.graph.len() as u32).map(|id| exploration.graph.fingerprint(id)).collect();
        (exploration.states, fingerprints)
    };
    let first = explore(&model);
    assert!(!model.steps.is_empty() && model.interner.sizes()[0] > 0, "the exploration kept nothing");
    model.release_exploration_caches();
    assert_eq!(model.steps.len(), 0, "steps are still held");
    assert_eq!(model.interner.sizes(), [0; 6], "shared copies are still held");
    let again = explore(&model);
    assert!(first.1.len() >= 20_000, "only {} states", first.1.len());
    assert_eq!(first, again, "the second exploration found other states");
    let fresh = explore(&replicas.with_instances(named("lagging-informers"), 2));
    assert_eq!(first, fresh);
}
