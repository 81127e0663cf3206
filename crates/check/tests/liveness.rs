//! Eventual reconciliation is checked on the state graph: controllers that fight for ever are a livelock,
//! found as a cycle even though every state on it is safe; the same fight that one side gives up ends.
//! A fight over a spec bumps the object's generation on every write: that must close into a cycle too.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::ConfigMap;
use std::collections::BTreeMap;
use themelios_api::{Op, Resource};
use themelios_check::consistency::Consistency;
use themelios_check::explore::Bounds;
use themelios_check::scenario::Scenario;
use themelios_check::{check, check_with, Status, LIVENESS};
use themelios_controllers::fixtures;
use themelios_controllers::framework::{ClusterView, Controller, Timers};
use themelios_controllers::harness::Harness;
use themelios_controllers::replicaset::{self, ReplicaSetController};

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
    fn step(&self, view: &ClusterView, writes: &mut u8, _timers: &mut Timers) -> Option<Op> {
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
    Scenario::of_harness("two controllers fight over a ConfigMap", move || {
        let mut h = Harness::new();
        h.add(Insister { name: "a", patience: None });
        h.add(Insister { name: "b", patience });
        let cm = ConfigMap {
            metadata: themelios_controllers::fixtures::meta("default", "contested", &[]),
            ..Default::default()
        };
        h.create(cm).expect("a valid ConfigMap");
        h
    })
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

/// An autoscaler that wants the ReplicaSet `web` to have `replicas` replicas, for ever.
struct Autoscaler {
    replicas: i32,
}

impl Controller for Autoscaler {
    type Local = ();
    fn name(&self) -> String {
        format!("autoscaler-{}", self.replicas)
    }
    fn step(&self, view: &ClusterView, _: &mut (), _timers: &mut Timers) -> Option<Op> {
        let rs = view.get::<ReplicaSet>("default", "web")?;
        let mut scaled = rs.clone();
        let spec = scaled.spec.as_mut()?;
        if spec.replicas == Some(self.replicas) {
            return None;
        }
        spec.replicas = Some(self.replicas);
        Some(Op::Update(scaled.into_object()))
    }
}

#[test]
fn autoscalers_fighting_over_a_spec_are_a_livelock_though_each_write_bumps_the_generation() {
    // Every scale is a spec change: the generation goes up by one, and the ReplicaSet controller copies
    // it into status.observedGeneration. With generations hashed as numbers each round is a new state and
    // BFS never ends; ranked within the ReplicaSet, the rounds close into a cycle.
    let scenario = Scenario {
        name: "two autoscalers fight over a ReplicaSet".into(),
        setup: Box::new(|| {
            let mut h = Harness::new();
            h.add(ReplicaSetController);
            h.add(Autoscaler { replicas: 1 });
            h.add(Autoscaler { replicas: 2 });
            h.create(fixtures::replica_set("default", "web", 1, &[("app", "web")])).expect("a valid ReplicaSet");
            h
        }),
        properties: Box::new(replicaset::properties),
        ..fight(None)
    };
    let bounds = Bounds { max_states: Some(20_000), ..Default::default() };
    let report = check_with(&scenario.model(Consistency::LINEARIZABLE), 1, bounds, |_| {});
    assert!(report.complete, "{} states and still going", report.unique_states);
    assert!(report.unique_states < 100, "ranking folds the rounds into a few states: {}", report.unique_states);
    let liveness = report.verdicts.iter().find(|v| v.property == LIVENESS).expect("liveness is reported");
    let Status::Violated { steps, cycle_from: Some(cycle_from), .. } = &liveness.status else {
        panic!("expected a livelock: {liveness:?}");
    };
    let cycle: Vec<&str> = steps[*cycle_from..].iter().map(|s| s.account.actor.as_str()).collect();
    assert!(cycle.contains(&"autoscaler-1") && cycle.contains(&"autoscaler-2"), "{cycle:?}");
    let changed = |field: &str| {
        steps[*cycle_from..].iter().flat_map(|s| &s.changes).flat_map(|c| &c.diff).any(|line| line.contains(field))
    };
    assert!(changed("  generation: ") && changed("observedGeneration: "), "the cycle moves both: {steps:#?}");
}
