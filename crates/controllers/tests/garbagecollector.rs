//! The garbage-collector integration tests of upstream `test/integration/garbagecollector/`, with
//! ReplicationControllers and ConfigMaps as owners and pods as dependents; only the collector runs.

use k8s_openapi::api::core::v1::{ConfigMap, Pod, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use themelios_api::{DeleteOptions, Kind, ObjectRef, Op, Propagation};
use themelios_controllers::fixtures::{meta, pod};
use themelios_controllers::garbagecollector::{self, GarbageCollector};
use themelios_controllers::harness::Harness;

const NS: &str = "default";

fn harness() -> Harness {
    let mut h = Harness::new();
    h.add(GarbageCollector);
    h.check(garbagecollector::properties());
    h
}

fn rc(h: &mut Harness, name: &str) -> OwnerReference {
    let created = h.create(ReplicationController { metadata: meta(NS, name, &[]), ..Default::default() }).unwrap();
    reference("v1", "ReplicationController", name, created.metadata.uid.as_deref().unwrap())
}

fn config_map(h: &mut Harness, name: &str) -> OwnerReference {
    let created = h.create(ConfigMap { metadata: meta(NS, name, &[]), ..Default::default() }).unwrap();
    reference("v1", "ConfigMap", name, created.metadata.uid.as_deref().unwrap())
}

fn reference(api_version: &str, kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        controller: None,
        block_owner_deletion: None,
    }
}

fn dependent(h: &mut Harness, name: &str, owners: Vec<OwnerReference>) {
    let mut p = pod(NS, name, &[]);
    p.metadata.owner_references = Some(owners);
    h.create(p).unwrap();
}

fn delete(h: &mut Harness, kind: Kind, name: &str, propagation: Option<Propagation>) {
    let options = DeleteOptions { propagation, ..Default::default() };
    h.submit(Op::Delete { target: ObjectRef::new(kind, NS, name), options }).unwrap();
}

fn exists(h: &Harness, name: &str) -> bool {
    h.get::<Pod>(NS, name).is_some()
}

#[test]
fn test_cascading_deletion() {
    let mut h = harness();
    let owner = rc(&mut h, "owner");
    let other = rc(&mut h, "other");
    dependent(&mut h, "sole", vec![owner.clone()]);
    dependent(&mut h, "shared", vec![owner, other]);
    h.create(pod(NS, "independent", &[])).unwrap();
    delete(&mut h, Kind::ReplicationController, "owner", Some(Propagation::Background));
    h.settle().unwrap();
    assert!(!exists(&h, "sole"), "a sole-owned dependent is collected");
    assert!(exists(&h, "shared"), "a dependent with another live owner survives");
    assert!(exists(&h, "independent"), "an object without owners is untouched");
    let refs = h.get::<Pod>(NS, "shared").unwrap().metadata.owner_references.unwrap();
    assert_eq!(refs.len(), 1, "the dangling reference is dropped");
    // The owner's absence was confirmed with a live read before anything was deleted.
    let log = h.log();
    let read =
        log.iter().position(|e| e.actor == "garbage-collector" && e.request.starts_with("get ReplicationController"));
    let deleted =
        log.iter().position(|e| e.actor == "garbage-collector" && e.request.starts_with("delete Pod default/sole"));
    assert!(read.is_some() && read < deleted, "live read first");
}

#[test]
fn test_create_with_non_existent_owner() {
    let mut h = harness();
    dependent(&mut h, "pod", vec![reference("v1", "ReplicationController", "ghost", "no-such-uid")]);
    h.settle().unwrap();
    assert!(!exists(&h, "pod"));
}

#[test]
fn test_stressing_cascading_deletion() {
    let mut h = harness();
    // (how the owner is deleted, whether its pods should survive)
    let modes: [(&str, Option<Propagation>, bool, bool); 5] = [
        ("nil", None, false, true),
        ("orphan-finalizer", None, true, true),
        ("orphan", Some(Propagation::Orphan), false, true),
        ("background", Some(Propagation::Background), false, false),
        ("foreground", Some(Propagation::Foreground), false, false),
    ];
    for (group, (label, propagation, orphan_finalizer, _)) in modes.iter().cycle().take(10).enumerate() {
        let name = format!("rc-{group}-{label}");
        let owner = rc(&mut h, &name);
        if *orphan_finalizer {
            h.modify::<ReplicationController>(NS, &name, |r| r.metadata.finalizers = Some(vec!["orphan".into()]))
                .unwrap();
        }
        for i in 0..5 {
            let mut r = owner.clone();
            r.block_owner_deletion = Some(true);
            dependent(&mut h, &format!("{name}-pod-{i}"), vec![r]);
        }
        delete(&mut h, Kind::ReplicationController, &name, *propagation);
    }
    h.settle().unwrap();
    for (group, (label, _, _, survive)) in modes.iter().cycle().take(10).enumerate() {
        let name = format!("rc-{group}-{label}");
        for i in 0..5 {
            assert_eq!(exists(&h, &format!("{name}-pod-{i}")), *survive, "{name}");
        }
        assert!(h.get::<ReplicationController>(NS, &name).is_none(), "{name} is gone");
    }
}

#[test]
fn test_orphaning() {
    let mut h = harness();
    let owner = rc(&mut h, "owner");
    for i in 0..3 {
        dependent(&mut h, &format!("pod-{i}"), vec![owner.clone()]);
    }
    delete(&mut h, Kind::ReplicationController, "owner", Some(Propagation::Orphan));
    h.settle().unwrap();
    assert!(h.get::<ReplicationController>(NS, "owner").is_none());
    for i in 0..3 {
        let p = h.get::<Pod>(NS, &format!("pod-{i}")).expect("orphans survive");
        assert!(p.metadata.owner_references.is_none(), "and lose the reference");
    }
}

#[test]
fn test_solid_owner_does_not_block_waiting_owner() {
    let mut h = harness();
    let mut waiting = rc(&mut h, "a");
    waiting.block_owner_deletion = Some(true);
    let solid = rc(&mut h, "b");
    dependent(&mut h, "pod", vec![waiting, solid.clone()]);
    delete(&mut h, Kind::ReplicationController, "a", Some(Propagation::Foreground));
    h.settle().unwrap();
    assert!(h.get::<ReplicationController>(NS, "a").is_none());
    let refs = h.get::<Pod>(NS, "pod").expect("survives").metadata.owner_references.unwrap();
    assert_eq!(refs, vec![solid]);
}

#[test]
fn test_non_blocking_owner_ref_does_not_block() {
    let mut h = harness();
    let owner = rc(&mut h, "owner");
    for i in 0..2 {
        dependent(&mut h, &format!("pod-{i}"), vec![owner.clone()]);
        h.modify::<Pod>(NS, &format!("pod-{i}"), |p| p.metadata.finalizers = Some(vec!["example.com/hold".into()]))
            .unwrap();
    }
    delete(&mut h, Kind::ReplicationController, "owner", Some(Propagation::Foreground));
    h.expect_goals(false);
    h.settle().unwrap();
    assert!(h.get::<ReplicationController>(NS, "owner").is_none(), "non-blocking refs do not hold the owner");
}

#[test]
fn test_blocking_owner_ref_does_block() {
    let mut h = harness();
    let mut owner = rc(&mut h, "owner");
    owner.block_owner_deletion = Some(true);
    dependent(&mut h, "pod", vec![owner]);
    h.modify::<Pod>(NS, "pod", |p| p.metadata.finalizers = Some(vec!["example.com/hold".into()])).unwrap();
    delete(&mut h, Kind::ReplicationController, "owner", Some(Propagation::Foreground));
    h.expect_goals(false);
    h.run_for(15).unwrap();
    assert!(h.get::<ReplicationController>(NS, "owner").is_some(), "the owner waits");
    assert!(h.get::<Pod>(NS, "pod").unwrap().metadata.deletion_timestamp.is_some(), "the dependent is being deleted");
    h.modify::<Pod>(NS, "pod", |p| p.metadata.finalizers = None).unwrap();
    h.expect_goals(true);
    h.settle().unwrap();
    assert!(h.get::<ReplicationController>(NS, "owner").is_none());
}

#[test]
fn test_double_deletion_with_finalizer() {
    let mut h = harness();
    config_map(&mut h, "owner");
    h.modify::<ConfigMap>(NS, "owner", |c| c.metadata.finalizers = Some(vec!["example.com/custom".into()])).unwrap();
    for _ in 0..2 {
        delete(&mut h, Kind::ConfigMap, "owner", Some(Propagation::Foreground));
        h.settle().unwrap();
        let finalizers = h.get::<ConfigMap>(NS, "owner").unwrap().metadata.finalizers.unwrap();
        assert_eq!(finalizers, vec!["example.com/custom".to_string()], "foregroundDeletion removed, custom kept");
    }
    h.modify::<ConfigMap>(NS, "owner", |c| c.metadata.finalizers = None).unwrap();
    assert!(h.get::<ConfigMap>(NS, "owner").is_none());
}

#[test]
fn test_cross_namespace_references() {
    let mut h = harness();
    let ns = k8s_openapi::api::core::v1::Namespace { metadata: meta("", "other", &[]), ..Default::default() };
    h.create(ns).unwrap();
    let elsewhere = h.create(ConfigMap { metadata: meta("other", "owner", &[]), ..Default::default() }).unwrap();
    let here = config_map(&mut h, "local-owner");
    // A reference whose uid matches an object in another namespace is treated as absent.
    dependent(&mut h, "cross", vec![reference("v1", "ConfigMap", "owner", elsewhere.metadata.uid.as_deref().unwrap())]);
    dependent(&mut h, "valid", vec![here]);
    h.settle().unwrap();
    assert!(!exists(&h, "cross"));
    assert!(exists(&h, "valid"));
}

#[test]
fn a_live_owner_keeps_its_dependent() {
    let mut h = harness();
    let owner = config_map(&mut h, "owner");
    dependent(&mut h, "pod", vec![owner]);
    h.settle().unwrap();
    assert!(exists(&h, "pod"));
    assert!(h.log().iter().all(|e| !(e.actor == "garbage-collector" && e.request.starts_with("delete"))));
}

/// Upstream's collector ignores Events: one whose owner is gone stays until it expires.
#[test]
fn events_are_not_collected() {
    let mut h = harness();
    let owner = rc(&mut h, "owner");
    let mut event = k8s_openapi::api::core::v1::Event { metadata: meta(NS, "owner.1", &[]), ..Default::default() };
    event.metadata.owner_references = Some(vec![owner.clone()]);
    h.create(event).unwrap();
    dependent(&mut h, "pod", vec![owner]);
    delete(&mut h, Kind::ReplicationController, "owner", Some(Propagation::Background));
    h.settle().unwrap();
    assert!(!exists(&h, "pod"), "the pod of the deleted owner is collected");
    assert!(h.get::<k8s_openapi::api::core::v1::Event>(NS, "owner.1").is_some(), "the event is left alone");
}
