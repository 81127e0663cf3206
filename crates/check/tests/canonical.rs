//! Canonical fingerprints: states equal up to an order-preserving renaming of revisions (and so of uids
//! and generated names) share a fingerprint; states that differ otherwise do not.

use themelios_api::{Change, Kind, Object, ObjectName, StateRead, StoredObject, Write};
use themelios_check::canonical::fingerprint;
use themelios_check::consistency::Consistency;
use themelios_check::model::{Action, ClusterModel, State};
use themelios_check::scenarios;

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
fn walk(model: &ClusterModel, mut state: State, steps: usize) -> Vec<State> {
    let mut path = vec![state.clone()];
    for _ in 0..steps {
        let successors = model.successors(&state);
        let step = successors.iter().position(|(a, _)| matches!(a, Action::Step(_)));
        let user = successors.iter().position(|(a, _)| matches!(a, Action::User(_)));
        let Some((_, next)) = step.or(user).map(|at| successors[at].clone()) else {
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
