//! Property-based tests of the API semantics and parsers.

use proptest::prelude::*;
use serde_json::json;
use themelios_api::quantity::parse_milli;
use themelios_api::selector::LabelSelector;
use themelios_api::{apply, ApiState, ApplyContext, Kind, Object, ObjectName, ObjectRef, Op, StateRead, Time};

/// One user action on a small set of ReplicaSets.
#[derive(Clone, Debug)]
enum Action {
    Create(u8),
    Scale(u8, i32),
    Label(u8, u8),
    Annotate(u8, u8),
    Image(u8, u8),
    Status(u8, i32),
    Delete(u8),
    StaleUpdate(u8),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (0..3u8).prop_map(Action::Create),
        (0..3u8, -1..5i32).prop_map(|(i, r)| Action::Scale(i, r)),
        (0..3u8, 0..3u8).prop_map(|(i, v)| Action::Label(i, v)),
        (0..3u8, 0..3u8).prop_map(|(i, v)| Action::Annotate(i, v)),
        (0..3u8, 0..3u8).prop_map(|(i, v)| Action::Image(i, v)),
        (0..3u8, 0..5i32).prop_map(|(i, v)| Action::Status(i, v)),
        (0..3u8).prop_map(Action::Delete),
        (0..3u8).prop_map(Action::StaleUpdate),
    ]
}

fn rs(i: u8) -> Object {
    Object::from_json(
        Kind::ReplicaSet,
        json!({"metadata": {"name": format!("rs-{i}"), "namespace": "default"},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "a"}},
                        "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "img:0"}]}}}}),
    )
    .unwrap()
}

fn current(state: &ApiState, i: u8) -> Option<k8s_openapi::api::apps::v1::ReplicaSet> {
    state.get(Kind::ReplicaSet, &ObjectName::new("default", format!("rs-{i}"))).and_then(|s| s.typed().cloned())
}

fn to_op(state: &ApiState, a: &Action) -> Option<Op> {
    let with = |i: u8, f: &dyn Fn(&mut k8s_openapi::api::apps::v1::ReplicaSet)| {
        current(state, i).map(|mut r| {
            f(&mut r);
            Op::Update(Object::ReplicaSet(Box::new(r)))
        })
    };
    match *a {
        Action::Create(i) => Some(Op::Create(rs(i))),
        Action::Scale(i, n) => with(i, &|r| r.spec.as_mut().unwrap().replicas = Some(n)),
        Action::Label(i, v) => with(i, &|r| r.metadata.labels = Some([("v".to_string(), v.to_string())].into())),
        Action::Annotate(i, v) => {
            with(i, &|r| r.metadata.annotations = Some([("note".to_string(), v.to_string())].into()))
        }
        Action::Image(i, v) => with(i, &|r| {
            r.spec.as_mut().unwrap().template.as_mut().unwrap().spec.as_mut().unwrap().containers[0].image =
                Some(format!("img:{v}"))
        }),
        Action::Status(i, n) => current(state, i).map(|mut r| {
            r.status = Some(k8s_openapi::api::apps::v1::ReplicaSetStatus { replicas: n, ..Default::default() });
            Op::UpdateStatus(Object::ReplicaSet(Box::new(r)))
        }),
        Action::Delete(i) => Some(Op::delete(ObjectRef::new(Kind::ReplicaSet, "default", format!("rs-{i}")))),
        Action::StaleUpdate(i) => current(state, i).map(|mut r| {
            r.metadata.resource_version = Some("1".into());
            r.spec.as_mut().unwrap().replicas = Some(9);
            Op::Update(Object::ReplicaSet(Box::new(r)))
        }),
    }
}

fn fresh() -> ApiState {
    let mut state = ApiState::default();
    let ns = Object::from_json(Kind::Namespace, json!({"metadata": {"name": "default"}})).unwrap();
    let change = apply(&state, &Op::Create(ns), &ApplyContext { now: Time::EPOCH }).unwrap();
    state.commit(&change).unwrap();
    state
}

proptest! {
    /// Every write gets a revision above every earlier one, objects carry the revision of their last write,
    /// and a failed or no-op request writes nothing.
    #[test]
    fn resource_version_strictly_increases(actions in prop::collection::vec(action(), 1..40)) {
        let mut state = fresh();
        let ctx = ApplyContext { now: Time::EPOCH };
        for a in &actions {
            let Some(op) = to_op(&state, a) else { continue };
            let before = state.revision();
            match apply(&state, &op, &ctx) {
                Ok(change) => {
                    state.commit(&change).unwrap();
                    if change.writes.is_empty() {
                        prop_assert_eq!(state.revision(), before);
                    } else {
                        prop_assert_eq!(state.revision(), before + 1);
                        prop_assert_eq!(change.response.revision(), before + 1);
                    }
                }
                Err(_) => prop_assert_eq!(state.revision(), before),
            }
            for stored in state.list(Kind::ReplicaSet, None) {
                prop_assert!(stored.revision() <= state.revision());
            }
        }
    }

    /// metadata.generation moves by one exactly when the spec changes; metadata and status leave it alone.
    #[test]
    fn generation_changes_exactly_when_spec_changes(actions in prop::collection::vec(action(), 1..40)) {
        let mut state = fresh();
        let ctx = ApplyContext { now: Time::EPOCH };
        for a in &actions {
            let Some(op) = to_op(&state, a) else { continue };
            let target = op.target();
            let before = state.get(Kind::ReplicaSet, &target.name).and_then(|s| s.typed::<k8s_openapi::api::apps::v1::ReplicaSet>().cloned());
            let Ok(change) = apply(&state, &op, &ctx) else { continue };
            state.commit(&change).unwrap();
            let (Some(before), Some(after)) = (before, state.get(Kind::ReplicaSet, &target.name).and_then(|s| s.typed::<k8s_openapi::api::apps::v1::ReplicaSet>().cloned())) else { continue };
            if after.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let spec_changed = before.spec != after.spec;
            let bump = after.metadata.generation.unwrap() - before.metadata.generation.unwrap();
            prop_assert_eq!(bump, i64::from(spec_changed), "{:?}", a);
        }
    }

    /// The label selector parser never panics, and what it prints it parses back to the same selector.
    #[test]
    fn label_selector_parser_is_total_and_round_trips(input in "\\PC{0,40}") {
        if let Ok(selector) = LabelSelector::parse(&input) {
            let printed = selector.to_string();
            let reparsed = LabelSelector::parse(&printed).unwrap();
            prop_assert_eq!(reparsed.to_string(), printed);
        }
    }

    /// Generated selectors survive printing and parsing.
    #[test]
    fn generated_selectors_round_trip(parts in prop::collection::vec(("[a-z]{1,5}", "[a-z0-9]{0,4}", 0..5u8), 1..5)) {
        let text: Vec<String> = parts.iter().map(|(k, v, op)| match op {
            0 => format!("{k}={}", if v.is_empty() { "x" } else { v }),
            1 => format!("{k}!={}", if v.is_empty() { "x" } else { v }),
            2 => format!("{k} in (a,{})", if v.is_empty() { "x" } else { v }),
            3 => format!("!{k}"),
            _ => k.clone(),
        }).collect();
        let selector = LabelSelector::parse(&text.join(",")).unwrap();
        prop_assert_eq!(LabelSelector::parse(&selector.to_string()).unwrap(), selector);
    }

    /// Quantity parsing never panics on any input.
    #[test]
    fn quantity_parser_is_total(input in "\\PC{0,20}") {
        let _ = parse_milli(&input);
    }
}

#[test]
fn quantities_parse_as_upstream() {
    assert_eq!(parse_milli("250m"), Ok(250));
    assert_eq!(parse_milli("2"), Ok(2000));
    assert_eq!(parse_milli("1Gi"), Ok(1_073_741_824_000));
    assert_eq!(parse_milli("129e6"), Ok(129_000_000_000));
    assert_eq!(parse_milli("0.1"), Ok(100));
    for bad in ["", "m", "1.2.3", "1Zi", "abc", "1e99"] {
        assert!(parse_milli(bad).is_err(), "{bad}");
    }
}

proptest! {
    /// Whatever a client sends as names, labels, replicas and images, apply() answers with a result:
    /// never a panic, and a rejection writes nothing.
    #[test]
    fn apply_never_panics_on_arbitrary_input(
        name in "\\PC{0,70}",
        namespace in prop_oneof![Just("default".to_string()), "\\PC{0,20}"],
        label_key in "\\PC{0,70}",
        label_value in "\\PC{0,70}",
        replicas in any::<i32>(),
        image in "\\PC{0,10}",
        cpu in "\\PC{0,8}",
    ) {
        let mut state = fresh();
        let object = Object::from_json(Kind::ReplicaSet, json!({
            "metadata": {"name": name, "namespace": namespace, "labels": {label_key: label_value}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "a"}},
                     "template": {"metadata": {"labels": {"app": "a"}},
                                  "spec": {"containers": [{"name": "c", "image": image, "resources": {"requests": {"cpu": cpu}}}]}}}
        })).unwrap();
        let before = state.revision();
        match apply(&state, &Op::Create(object.clone()), &ApplyContext { now: Time::EPOCH }) {
            Ok(change) => {
                state.commit(&change).unwrap();
                // An accepted object can be updated with itself and deleted without a panic either.
                let stored = change.response.object().clone();
                let _ = apply(&state, &Op::Update(stored.clone()), &ApplyContext { now: Time::EPOCH });
                let _ = apply(&state, &Op::delete(ObjectRef::of(&stored)), &ApplyContext { now: Time::EPOCH });
            }
            Err(err) => {
                prop_assert_eq!(state.revision(), before);
                prop_assert!(matches!(err.code(), 400 | 404 | 409 | 422), "{}", err);
            }
        }
    }
}
