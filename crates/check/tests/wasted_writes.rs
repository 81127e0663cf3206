//! The model checker reports a controller that sends an update that changes nothing, on the first such
//! write, as the harness does: against a real API server such a controller never stops writing.

use k8s_openapi::api::core::v1::ConfigMap;
use std::collections::BTreeMap;
use themelios_api::{Op, Resource};
use themelios_check::consistency::Consistency;
use themelios_check::scenario::Scenario;
use themelios_check::{check, Status};
use themelios_controllers::framework::{ClusterView, Controller, Timers, NO_WASTED_WRITES};
use themelios_controllers::harness::Harness;

/// Wants the ConfigMap's `state` key to say `done`; a careless one writes its copy back even when it does.
struct Recorder {
    careless: bool,
}

impl Controller for Recorder {
    type Local = ();
    fn name(&self) -> String {
        "recorder".into()
    }
    fn step(&self, view: &ClusterView, _: &mut (), _timers: &mut Timers) -> Option<Op> {
        let cm = view.get::<ConfigMap>("default", "progress")?;
        let done = cm.data.as_ref().and_then(|d| d.get("state")).is_some_and(|s| s == "done");
        if done && !self.careless {
            return None;
        }
        let mut recorded = cm.clone();
        recorded.data = Some(BTreeMap::from([("state".to_string(), "done".to_string())]));
        Some(Op::Update(recorded.into_object()))
    }
}

fn scenario(careless: bool) -> Scenario {
    Scenario::of_harness("a controller records its progress", move || {
        let mut h = Harness::new();
        h.add(Recorder { careless });
        let cm = ConfigMap {
            metadata: themelios_controllers::fixtures::meta("default", "progress", &[]),
            ..Default::default()
        };
        h.create(cm).expect("a valid ConfigMap");
        h
    })
}

#[test]
fn an_update_that_changes_nothing_is_a_violation_at_its_first_occurrence() {
    let report = check(scenario(true).model(Consistency::LINEARIZABLE), 1);
    let verdict = report.verdicts.iter().find(|v| v.property == NO_WASTED_WRITES).expect("the property is reported");
    let Status::Violated { steps, .. } = &verdict.status else { panic!("no violation: {verdict:?}") };
    // The first write records progress; the second writes the same again.
    let writes: Vec<&str> = steps.iter().map(|s| s.account.actor.as_str()).filter(|a| *a == "recorder").collect();
    assert_eq!(writes.len(), 2, "{steps:#?}");
}

#[test]
fn a_controller_that_stops_when_done_holds() {
    let report = check(scenario(false).model(Consistency::LINEARIZABLE), 1);
    assert!(report.complete);
    assert!(!report.violated(), "{:#?}", report.verdicts);
}
