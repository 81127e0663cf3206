//! Eventual reconciliation is checked on the state graph: controllers that fight for ever are a livelock,
//! found as a cycle even though every state on it is safe; the same fight that one side gives up ends.

use k8s_openapi::api::core::v1::ConfigMap;
use std::collections::BTreeMap;
use themelios_api::{Op, Resource};
use themelios_check::consistency::Consistency;
use themelios_check::scenario::Scenario;
use themelios_check::{check, Status, LIVENESS};
use themelios_controllers::framework::{ClusterView, Controller};
use themelios_controllers::harness::Harness;

/// Wants the ConfigMap's `owner` key to say its name; gives up after `patience` writes (never if `None`).
struct Insister {
    name: &'static str,
    patience: Option<u8>,
}

impl Controller for Insister {
    type Local = u8;
    fn name(&self) -> String {
        format!("insister-{}", self.name)
    }
    fn step(&self, view: &ClusterView, writes: &mut u8) -> Option<Op> {
        if self.patience.is_some_and(|p| *writes >= p) {
            return None;
        }
        let cm = view.get::<ConfigMap>("default", "contested")?;
        let data = cm.data.clone().unwrap_or_default();
        if data.get("owner").map(String::as_str) == Some(self.name) {
            return None;
        }
        let mut mine = cm.clone();
        mine.data = Some(BTreeMap::from([("owner".to_string(), self.name.to_string())]));
        // Only a controller that gives up counts: a counter that grows for ever would make every state new.
        if self.patience.is_some() {
            *writes += 1;
        }
        Some(Op::Update(mine.into_object()))
    }
}

fn fight(patience: Option<u8>) -> Scenario {
    Scenario {
        name: "two controllers fight over a ConfigMap".into(),
        setup: Box::new(move || {
            let mut h = Harness::new();
            h.add(Insister { name: "a", patience: None });
            h.add(Insister { name: "b", patience });
            let cm = ConfigMap {
                metadata: themelios_controllers::fixtures::meta("default", "contested", &[]),
                ..Default::default()
            };
            h.create(cm).expect("a valid ConfigMap");
            h
        }),
        user_ops: Vec::new(),
        restarts: Vec::new(),
        conflicts: Vec::new(),
        timeouts: Vec::new(),
        properties: Box::new(Vec::new),
        model_checks: Vec::new(),
        consistency: Consistency::LINEARIZABLE,
        applies_to: None,
        file: None,
    }
}

#[test]
fn controllers_fighting_for_ever_are_a_livelock() {
    let report = check(fight(None).model(Consistency::LINEARIZABLE), 1);
    assert!(report.complete, "the fight's state space is finite up to revision renaming");
    let liveness = report.verdicts.iter().find(|v| v.property == LIVENESS).expect("liveness is reported");
    let Status::Violated { steps, cycle_from, .. } = &liveness.status else {
        panic!("expected a livelock: {liveness:?}");
    };
    let cycle_from = cycle_from.expect("a livelock shows where its cycle starts");
    let cycle: Vec<&str> = steps[cycle_from..].iter().map(|s| s.account.actor.as_str()).collect();
    assert!(cycle.contains(&"insister-a") && cycle.contains(&"insister-b"), "{steps:#?}");
    let writes = steps.iter().filter(|s| s.account.actor.starts_with("insister"));
    assert!(writes.clone().all(|s| s.account.outcome.starts_with("ok, rv")), "every write succeeds: {steps:#?}");
    assert!(report.unique_states < 20, "renaming folds the fight into a few states: {}", report.unique_states);
}

#[test]
fn a_fight_that_one_side_gives_up_reconciles() {
    let report = check(fight(Some(2)).model(Consistency::LINEARIZABLE), 1);
    assert!(report.complete);
    assert!(!report.violated(), "{:#?}", report.verdicts);
    let liveness = report.verdicts.iter().find(|v| v.property == LIVENESS).expect("liveness is reported");
    assert_eq!(liveness.status, Status::Holds);
}

#[test]
fn a_stale_cache_is_not_a_livelock_when_catching_up_is_fair() {
    // Under lagging informers b may keep reading an old ConfigMap and failing with Conflict; that loop is
    // unfair (its cache's catch-up is always enabled and never taken), so only the real fight is reported.
    let lagging = Consistency::named("lagging-informers").expect("named");
    let report = check(fight(Some(2)).model(lagging), 1);
    assert!(report.complete);
    let liveness = report.verdicts.iter().find(|v| v.property == LIVENESS).expect("liveness is reported");
    assert_eq!(liveness.status, Status::Holds, "{:#?}", report.verdicts);
}
