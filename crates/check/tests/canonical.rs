//! Canonical fingerprints: states equal up to an order-preserving renaming of revisions (and so of uids
//! and generated names), or up to what the controllers cannot tell about time, share a fingerprint;
//! states that differ otherwise do not.

use themelios_api::{Change, Kind, Object, ObjectName, StateRead, StoredObject, Time, Write};
use themelios_check::canonical::fingerprint;
use themelios_check::consistency::Consistency;
use themelios_check::model::{Action, ClusterModel, State};
use themelios_check::scenarios;
use themelios_controllers::framework::TimeUse;

fn model() -> ClusterModel {
    let scenario = scenarios::by_name("ReplicaSet-TestSpecReplicasChange").expect("a built-in scenario");
    scenario.with_instances(Consistency::LINEARIZABLE, 1)
}

/// The same state two revisions later: an object created and deleted leaves nothing but the bump.
fn bumped(state: &State) -> State {
    let mut later = state.clone();
    let filler = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "filler", "namespace": "default"}});
    later.store.seed(Object::from_json(Kind::ConfigMap, filler).expect("a config map"));
    let seeded = later.store.get(Kind::ConfigMap, &ObjectName::new("default", "filler")).expect("seeded");
    let removal = Change {
        revision: later.store.revision() + 1,
        writes: vec![Write::Remove(seeded.clone())],
        response: StoredObject::new(seeded.object().clone()),
    };
    later.store.commit(&removal).expect("the removal is for the next revision");
    later.lagging = later.store.clone();
    later
}

/// Takes the first controller step enabled (or, when none is, the first user operation), `steps` times.
fn walk(model: &ClusterModel, state: State, steps: usize) -> Vec<State> {
    walk_else(model, state, steps, |a| matches!(a, Action::User(_)))
}

/// Takes the first controller step enabled (or, when none is, the first action `otherwise` picks), `steps`
/// times.
fn walk_else(model: &ClusterModel, mut state: State, steps: usize, otherwise: fn(&Action) -> bool) -> Vec<State> {
    let mut path = vec![state.clone()];
    for _ in 0..steps {
        let successors = model.successors(&state);
        let step = successors.iter().position(|(a, _)| matches!(a, Action::Step(_)));
        let other = successors.iter().position(|(a, _)| otherwise(a));
        let Some((_, next)) = step.or(other).map(|at| successors[at].clone()) else {
            break;
        };
        path.push(next.clone());
        state = next;
    }
    path
}

#[test]
fn states_equal_up_to_renaming_of_revisions_share_a_fingerprint() {
    let model = model();
    let early = walk(&model, model.init.clone(), 6);
    let late = walk(&model, bumped(&model.init), 6);
    assert_eq!(early.len(), late.len(), "the same steps are enabled along both walks");
    assert!(early.len() > 3, "the walk went somewhere: {} states", early.len());
    let mut renamed_pods = 0;
    for (a, b) in early.iter().zip(&late) {
        assert_eq!(fingerprint(a, model.time_use()), fingerprint(b, model.time_use()));
        assert_eq!(model.summaries.fingerprint(a), fingerprint(a, model.time_use()));
        assert_ne!(a.store.revision(), b.store.revision());
        let names = |s: &State| s.store.objects().of_kind(Kind::Pod).iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        if !names(a).is_empty() && names(a) != names(b) {
            renamed_pods += 1;
        }
    }
    // Pods take generated names from the revision they are created at: the walks differ in them.
    assert!(renamed_pods > 0, "no state along the walks had pods with different generated names");
}

#[test]
fn states_that_differ_beyond_renaming_have_different_fingerprints() {
    let model = model();
    let path = walk(&model, model.init.clone(), 6);
    let mut fingerprints: Vec<u64> = path.iter().map(|s| fingerprint(s, model.time_use())).collect();
    fingerprints.sort_unstable();
    fingerprints.dedup();
    assert_eq!(fingerprints.len(), path.len(), "every step of the walk changed the state");
}

/// Every RFC 3339 timestamp in a JSON value, `seconds` later.
fn shift_times(value: &mut serde_json::Value, seconds: i64) {
    match value {
        serde_json::Value::String(text) => {
            if let Ok(at) = text.parse::<k8s_openapi::jiff::Timestamp>() {
                *text = Time(at.as_second()).plus_seconds(seconds).to_string();
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| shift_times(v, seconds)),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(|v| shift_times(v, seconds)),
        _ => {}
    }
}

/// The state with every actor's memory fresh, as after a restart: memory is opaque, so only states whose
/// memory holds no time can be shifted by [`shifted`].
fn forgetful(model: &ClusterModel, state: &State) -> State {
    let mut fresh = state.clone();
    for (actor, controller) in model.controllers.iter().enumerate() {
        fresh.actor_mut(actor).local = std::sync::Arc::from(controller.fresh_local());
    }
    fresh
}

/// The same state with every time in its objects and `now` moved `seconds` later (its objects are
/// rewritten in one write, which bumps the store's revision: that ranks the same). Only for states
/// whose controllers' memory holds no time.
fn shifted(state: &State, seconds: i64) -> State {
    let mut later = state.clone();
    let mut writes = Vec::new();
    for kind in Kind::ALL {
        for (_, stored) in state.store.objects().of_kind(*kind) {
            let mut json = serde_json::to_value(stored.object()).expect("serialisable");
            shift_times(&mut json, seconds);
            let object = Object::from_json(*kind, json).expect("the same object, later");
            writes.push(Write::Put(StoredObject::new(object)));
        }
    }
    let response = writes[0].object().clone();
    later.store.commit(&Change { revision: state.store.revision() + 1, writes, response }).expect("the next revision");
    later.lagging = later.store.clone();
    later.now = state.now.plus_seconds(seconds);
    later
}

/// `state` with a ConfigMap holding `data` (its values may be timestamps or durations).
fn with_config_map(state: &State, data: serde_json::Value) -> State {
    let mut with = state.clone();
    let json = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "times", "namespace": "default"}, "data": data});
    with.store.seed(Object::from_json(Kind::ConfigMap, json).expect("a config map"));
    with.lagging = with.store.clone();
    with
}

#[test]
fn states_that_differ_only_by_a_shift_of_every_time_share_a_fingerprint() {
    let model = model();
    assert!(matches!(model.time_use(), TimeUse::Relative { .. }), "{:?}", model.time_use());
    let start = forgetful(&model, &model.init);
    let early = walk(&model, start.clone(), 8);
    let late = walk(&model, shifted(&start, 4_000), 8);
    assert_eq!(early.len(), late.len(), "the same steps are enabled along both walks");
    let times = |s: &State| {
        let maps = Kind::ALL.iter().map(|k| s.store.objects().of_kind(*k));
        maps.flat_map(|m| m.iter()).map(|(_, o)| o.shape().times.len()).sum::<usize>()
    };
    assert!(early.iter().any(|s| times(s) > 2), "the walk stamped some times");
    for (a, b) in early.iter().zip(&late) {
        assert_eq!(b.now.seconds_since(a.now), 4_000);
        assert_eq!(fingerprint(a, model.time_use()), fingerprint(b, model.time_use()));
        assert_eq!(model.summaries.fingerprint(a), model.summaries.fingerprint(b));
        assert_ne!(fingerprint(a, TimeUse::Absolute), fingerprint(b, TimeUse::Absolute));
    }
}

#[test]
fn times_past_the_horizon_are_told_apart_only_by_their_order() {
    let model = model();
    let TimeUse::Relative { longest_seconds: horizon } = model.time_use() else { panic!("relative time") };
    let state = walk(&model, model.init.clone(), 4).pop().expect("a state");
    let ago = |seconds: i64| serde_json::Value::String(state.now.plus_seconds(-seconds).to_string());
    let print = |data: serde_json::Value| fingerprint(&with_config_map(&state, data), model.time_use());
    let two = |a: i64, b: i64| print(serde_json::json!({"a": ago(a), "b": ago(b)}));
    // Both past the horizon, in the same order: one state, however far back.
    assert_eq!(two(horizon + 10, horizon + 20), two(horizon + 500, horizon + 90_000));
    // In the other order, or equal: different.
    assert_ne!(two(horizon + 10, horizon + 20), two(horizon + 20, horizon + 10));
    assert_ne!(two(horizon + 10, horizon + 20), two(horizon + 10, horizon + 10));
    // Within the horizon every second counts, and so does crossing it.
    assert_ne!(two(horizon - 10, horizon + 20), two(horizon - 11, horizon + 20));
    assert_ne!(two(horizon, horizon + 20), two(horizon + 1, horizon + 20));
    // A duration an object names stretches the horizon.
    let stretched = |a: i64| print(serde_json::json!({"a": ago(a), "waitSeconds": (horizon + 1_000).to_string()}));
    assert_ne!(stretched(horizon + 10), stretched(horizon + 500));
    assert_eq!(stretched(horizon + 1_010), stretched(horizon + 9_000));
}

/// `state` with its ReplicaSet's generation and observedGeneration rewritten (in one write, which bumps
/// the store's revision: that ranks the same).
fn with_generations(state: &State, generation: i64, observed: i64) -> State {
    let mut later = state.clone();
    let name = ObjectName::new("default", "web");
    let stored = state.store.get(Kind::ReplicaSet, &name).expect("the scenario's ReplicaSet");
    let mut json = serde_json::to_value(stored.object()).expect("serialisable");
    json["metadata"]["generation"] = generation.into();
    json["status"]["observedGeneration"] = observed.into();
    let object = StoredObject::new(Object::from_json(Kind::ReplicaSet, json).expect("the same ReplicaSet"));
    let change =
        Change { revision: state.store.revision() + 1, writes: vec![Write::Put(object.clone())], response: object };
    later.store.commit(&change).expect("the next revision");
    later.lagging = later.store.clone();
    later
}

#[test]
fn generations_are_told_apart_only_by_their_order_within_the_object() {
    let model = model();
    let state = walk(&model, model.init.clone(), 4).pop().expect("a state");
    let print =
        |generation: i64, observed: i64| fingerprint(&with_generations(&state, generation, observed), model.time_use());
    // Behind by one or by ten, at 5 or at 900: the controllers compare them only by order.
    assert_eq!(print(5, 4), print(900, 890));
    assert_eq!(print(7, 7), print(2, 2));
    // Observed or not: different.
    assert_ne!(print(5, 4), print(5, 5));
    assert_ne!(print(5, 5), print(5, 6));
}

/// A CronJob scenario on `schedule` (Forbid, no Job controller: its first Job runs for ever).
fn cron_model(schedule: &str) -> ClusterModel {
    let text = format!(
        "name: cron\ncontrollers: [cronjob]\nobjects:\n  - apiVersion: batch/v1\n    kind: CronJob\n    \
         metadata: {{name: report, namespace: default}}\n    spec:\n      schedule: \"{schedule}\"\n      \
         concurrencyPolicy: Forbid\n      jobTemplate:\n        spec:\n          template:\n            spec:\n              \
         restartPolicy: Never\n              containers: [{{name: app, image: \"busybox:1.36\"}}]\n"
    );
    let scenario = themelios_check::file::parse("cron.yaml", &text).expect("a valid scenario");
    scenario.with_instances(Consistency::LINEARIZABLE, 1)
}

#[test]
fn cron_job_states_a_whole_period_apart_share_a_fingerprint_job_names_included() {
    let model = cron_model("*/1 * * * *");
    assert!(matches!(model.time_use(), TimeUse::Calendar { .. }), "{:?}", model.time_use());
    let start = forgetful(&model, &model.init);
    let walk = |shift: i64| walk_else(&model, shifted(&start, shift), 6, |a| matches!(a, Action::Tick(_)));
    let (early, late, off_phase) = (walk(0), walk(120), walk(30));
    let jobs = |s: &State| s.store.objects().of_kind(Kind::Job).iter().map(|(n, _)| n.name.clone()).collect::<Vec<_>>();
    assert!(early.iter().any(|s| !jobs(s).is_empty()), "the walk started a Job");
    let mut renamed = 0;
    for (i, (a, b)) in early.iter().zip(&late).enumerate() {
        assert_eq!(b.now.seconds_since(a.now), 120);
        assert_eq!(fingerprint(a, model.time_use()), fingerprint(b, model.time_use()), "step {i}");
        assert_eq!(model.summaries.fingerprint(a), model.summaries.fingerprint(b));
        renamed += usize::from(!jobs(a).is_empty() && jobs(a) != jobs(b));
    }
    assert!(renamed > 0, "the Jobs of the two walks carry different scheduled minutes in their names");
    // Half a period off, the schedule comes at another distance from `now`: other states.
    assert_ne!(fingerprint(&early[0], model.time_use()), fingerprint(&off_phase[0], model.time_use()));
}

#[test]
fn a_schedule_that_does_not_repeat_within_a_day_keeps_times_absolute() {
    let model = cron_model("0 9 * * 1");
    let start = forgetful(&model, &model.init);
    let day_later = shifted(&start, 86_400);
    assert_ne!(fingerprint(&start, model.time_use()), fingerprint(&day_later, model.time_use()));
    let hourly = cron_model("0 * * * *");
    let start = forgetful(&hourly, &hourly.init);
    assert_eq!(fingerprint(&start, hourly.time_use()), fingerprint(&shifted(&start, 3_600), hourly.time_use()));
    assert_ne!(fingerprint(&start, hourly.time_use()), fingerprint(&shifted(&start, 1_800), hourly.time_use()));
}
