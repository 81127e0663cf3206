//! The StatefulSet integration tests of upstream `test/integration/statefulset/statefulset_test.go`, and
//! ordering tests in the spirit of the e2e test "Scaling should happen in predictable order and halt if
//! any stateful pod is unhealthy", on the harness with the StatefulSet properties checked after every step.

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimSpec, Pod, VolumeResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use themelios_api::{pod as podutil, Kind, ObjectRef, Op, Time};
use themelios_controllers::fixtures::{self, labels, PodReadier};
use themelios_controllers::harness::{ActorId, Harness, SplitMix64};
use themelios_controllers::statefulset::{self, StatefulSetController, POD_INDEX_LABEL, REVISION_LABEL};

const NS: &str = "default";
const APP: &[(&str, &str)] = &[("app", "db")];

fn harness(readier: bool) -> (Harness, Option<ActorId>) {
    let mut h = Harness::new();
    h.add(StatefulSetController);
    let readier = readier.then(|| h.add(PodReadier::default()));
    h.check(statefulset::properties());
    (h, readier)
}

fn sts(h: &Harness) -> StatefulSet {
    h.get::<StatefulSet>(NS, "sts").expect("statefulset")
}

fn pod_names(h: &Harness) -> Vec<String> {
    let mut names: Vec<String> = h.list::<Pod>().into_iter().map(|p| p.metadata.name.unwrap()).collect();
    names.sort();
    names
}

fn image_of(h: &Harness, pod: &str) -> String {
    h.get::<Pod>(NS, pod).unwrap().spec.unwrap().containers[0].image.clone().unwrap()
}

fn scale(h: &mut Harness, replicas: i32) {
    h.submit(Op::Scale { target: ObjectRef::new(Kind::StatefulSet, NS, "sts"), replicas, resource_version: None })
        .unwrap();
}

fn set_image(h: &mut Harness, image: &str) {
    h.modify::<StatefulSet>(NS, "sts", |s| {
        s.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0].image = Some(image.into());
    })
    .unwrap();
}

/// The order in which the controller created (or deleted) pods, from the log.
fn pod_writes(h: &Harness, verb: &str) -> Vec<String> {
    h.log()
        .iter()
        .filter(|e| e.actor == "statefulset-controller" && e.request.starts_with(&format!("{verb} Pod ")))
        .map(|e| e.request.rsplit('/').next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn test_spec_replicas_change() {
    let (mut h, _) = harness(false);
    h.create(fixtures::stateful_set(NS, "sts", 2, APP, true)).unwrap();
    h.settle().unwrap();
    for replicas in [3, 0, 2] {
        scale(&mut h, replicas);
        h.settle().unwrap();
        assert_eq!(sts(&h).status.unwrap().replicas, replicas);
        assert_eq!(h.list::<Pod>().len(), replicas as usize);
    }
    let before = sts(&h).metadata.generation.unwrap();
    h.modify::<StatefulSet>(NS, "sts", |s| {
        s.spec.as_mut().unwrap().template.metadata.as_mut().unwrap().annotations =
            Some(labels(&[("test", "annotation")]));
    })
    .unwrap();
    h.settle().unwrap();
    assert!(sts(&h).status.unwrap().observed_generation.unwrap() > before);
}

#[test]
fn test_deleting_and_terminating_pods() {
    let (mut h, _) = harness(false);
    h.create(fixtures::stateful_set(NS, "sts", 3, APP, true)).unwrap();
    h.settle().unwrap();
    let uid = |h: &Harness, name: &str| h.get::<Pod>(NS, name).and_then(|p| p.metadata.uid);
    let (deleting, failed, succeeded) =
        (uid(&h, "sts-0").unwrap(), uid(&h, "sts-1").unwrap(), uid(&h, "sts-2").unwrap());
    h.modify::<Pod>(NS, "sts-0", |p| p.metadata.finalizers = Some(vec!["fake.example.com/blockDeletion".into()]))
        .unwrap();
    h.submit(Op::delete(ObjectRef::new(Kind::Pod, NS, "sts-0"))).unwrap();
    h.modify_status::<Pod>(NS, "sts-1", |p| p.status.as_mut().unwrap().phase = Some("Failed".into())).unwrap();
    h.modify_status::<Pod>(NS, "sts-2", |p| p.status.as_mut().unwrap().phase = Some("Succeeded".into())).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    h.expect_goals(true);
    let pods = h.list::<Pod>();
    assert_eq!(pods.len(), 3);
    assert_eq!(
        uid(&h, "sts-0"),
        Some(deleting.clone()),
        "the deleting pod survives and is not replaced while it exists"
    );
    assert_ne!(uid(&h, "sts-1"), Some(failed), "the failed pod is replaced under its identity");
    assert_ne!(uid(&h, "sts-2"), Some(succeeded), "the succeeded pod is replaced under its identity");
    assert!(pods.iter().all(|p| !podutil::is_terminal(p)));
    h.modify::<Pod>(NS, "sts-0", |p| p.metadata.finalizers = None).unwrap();
    h.settle().unwrap();
    assert_eq!(h.list::<Pod>().len(), 3);
    assert_ne!(uid(&h, "sts-0"), Some(deleting), "replaced once the old object is gone");
}

#[test]
fn test_stateful_set_available() {
    let (mut h, _) = harness(false);
    let mut set = fixtures::stateful_set(NS, "sts", 4, APP, true);
    set.spec.as_mut().unwrap().min_ready_seconds = Some(3600);
    h.create(set).unwrap();
    h.settle().unwrap();
    h.advance(3 * 3600);
    let now = h.now();
    h.modify_status::<Pod>(NS, "sts-0", |p| {
        fixtures::make_ready(p, now);
        p.status.as_mut().unwrap().conditions.as_mut().unwrap().iter_mut().for_each(|c| c.status = "False".into());
    })
    .unwrap();
    h.modify_status::<Pod>(NS, "sts-1", |p| fixtures::make_ready(p, now)).unwrap();
    for name in ["sts-2", "sts-3"] {
        h.modify_status::<Pod>(NS, name, |p| fixtures::make_ready(p, now.plus_seconds(-7200))).unwrap();
    }
    h.settle().unwrap();
    let status = sts(&h).status.unwrap();
    assert_eq!((status.replicas, status.ready_replicas, status.available_replicas), (4, Some(3), Some(2)));
}

#[test]
fn test_stateful_set_status_with_pod_fail() {
    let (mut h, _) = harness(false);
    // An admission plugin rejects pod creates beyond two pods.
    h.admit(|op, state| {
        let pods = themelios_api::StateRead::list(state, Kind::Pod, None).len();
        (matches!(op, Op::Create(o) if o.kind() == Kind::Pod) && pods >= 2)
            .then(|| themelios_api::ApiError::forbidden(Kind::Pod, "", "too many pods"))
    });
    h.create(fixtures::stateful_set(NS, "sts", 4, APP, true)).unwrap();
    h.expect_goals(false);
    h.run_for(60).unwrap();
    assert_eq!(sts(&h).status.unwrap().replicas, 2, "status is written although creates fail");
}

fn claim_template() -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta { name: Some("data".into()), ..Default::default() },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some([("storage".to_string(), Quantity("1Gi".into()))].into()),
                limits: None,
            }),
            ..Default::default()
        }),
        status: None,
    }
}

#[test]
fn test_autodelete_owner_refs() {
    for (when_deleted, when_scaled) in
        [("Retain", "Retain"), ("Retain", "Delete"), ("Delete", "Retain"), ("Delete", "Delete")]
    {
        let (mut h, _) = harness(false);
        let mut set = fixtures::stateful_set(NS, "sts", 3, APP, true);
        let spec = set.spec.as_mut().unwrap();
        spec.volume_claim_templates = Some(vec![claim_template()]);
        spec.persistent_volume_claim_retention_policy =
            Some(k8s_openapi::api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some(when_deleted.into()),
                when_scaled: Some(when_scaled.into()),
            });
        h.create(set).unwrap();
        h.settle().unwrap();
        let refs_of = |h: &Harness, ordinal: i32, kind: &str| {
            h.get::<PersistentVolumeClaim>(NS, &format!("data-sts-{ordinal}"))
                .expect("claim made before its pod")
                .metadata
                .owner_references
                .unwrap_or_default()
                .iter()
                .any(|r| r.kind == kind)
        };
        let case = format!("{when_deleted}/{when_scaled}");
        for ordinal in 0..3 {
            assert_eq!(refs_of(&h, ordinal, "StatefulSet"), when_deleted == "Delete", "{case}");
            assert!(!refs_of(&h, ordinal, "Pod"), "{case}");
        }
        let volume = h.get::<Pod>(NS, "sts-1").unwrap().spec.unwrap().volumes.unwrap();
        assert!(volume
            .iter()
            .any(|v| v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name == "data-sts-1")));
        scale(&mut h, 1);
        // Condemned pods take a moment to go; the claims' references are set before they are deleted.
        h.run_until(|h| h.list::<Pod>().len() == 1).unwrap();
        for ordinal in 0..3 {
            assert_eq!(refs_of(&h, ordinal, "StatefulSet"), when_deleted == "Delete", "{case}");
            assert_eq!(refs_of(&h, ordinal, "Pod"), ordinal > 0 && when_scaled == "Delete", "{case} ordinal {ordinal}");
        }
    }
}

#[test]
fn test_deleting_pod_for_rolling_update_partition() {
    let (mut h, _) = harness(true);
    let mut set = fixtures::stateful_set(NS, "sts", 2, APP, true);
    set.spec.as_mut().unwrap().update_strategy = Some(k8s_openapi::api::apps::v1::StatefulSetUpdateStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(k8s_openapi::api::apps::v1::RollingUpdateStatefulSetStrategy {
            partition: Some(1),
            max_unavailable: None,
        }),
    });
    h.create(set).unwrap();
    h.settle().unwrap();
    h.modify::<Pod>(NS, "sts-0", |p| p.metadata.finalizers = Some(vec!["fake.example.com/blockDeletion".into()]))
        .unwrap();
    set_image(&mut h, "new-image");
    h.settle().unwrap();
    assert_eq!(image_of(&h, "sts-1"), "new-image");
    assert_eq!(image_of(&h, "sts-0"), "nginx:1.27");
    let status = sts(&h).status.unwrap();
    assert_eq!(status.updated_replicas, Some(1), "replicas - partition");
    // pod-0 fails and is deleted, held by its finalizer; once released it comes back at the OLD revision.
    h.modify_status::<Pod>(NS, "sts-0", |p| p.status.as_mut().unwrap().phase = Some("Failed".into())).unwrap();
    h.submit(Op::delete(ObjectRef::new(Kind::Pod, NS, "sts-0"))).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    h.expect_goals(true);
    assert_eq!(sts(&h).status.unwrap().ready_replicas, Some(1));
    h.modify::<Pod>(NS, "sts-0", |p| p.metadata.finalizers = None).unwrap();
    h.settle().unwrap();
    assert_eq!(image_of(&h, "sts-0"), "nginx:1.27", "below the partition: recreated at the current revision");
    assert_eq!(sts(&h).status.unwrap().ready_replicas, Some(2));
}

#[test]
fn test_stateful_set_start_ordinal() {
    let (mut h, _) = harness(false);
    let mut set = fixtures::stateful_set(NS, "sts", 3, APP, true);
    set.spec.as_mut().unwrap().ordinals = Some(k8s_openapi::api::apps::v1::StatefulSetOrdinals { start: Some(2) });
    h.create(set).unwrap();
    h.settle().unwrap();
    assert_eq!(pod_names(&h), vec!["sts-2", "sts-3", "sts-4"]);
    for (name, index) in [("sts-2", "2"), ("sts-3", "3"), ("sts-4", "4")] {
        let p = h.get::<Pod>(NS, name).unwrap();
        assert_eq!(p.metadata.labels.as_ref().unwrap()[POD_INDEX_LABEL], index);
        assert_eq!(p.spec.as_ref().unwrap().hostname.as_deref(), Some(name));
        assert_eq!(p.spec.as_ref().unwrap().subdomain.as_deref(), Some("sts-svc"));
    }
    scale(&mut h, 1);
    h.settle().unwrap();
    assert_eq!(pod_names(&h), vec!["sts-2"], "scaling down keeps the lowest ordinal");
}

#[test]
fn ordered_ready_scales_in_order_and_halts_on_an_unhealthy_pod() {
    let (mut h, readier) = harness(true);
    h.create(fixtures::stateful_set(NS, "sts", 0, APP, false)).unwrap();
    h.settle().unwrap();
    scale(&mut h, 3);
    h.settle().unwrap();
    assert_eq!(pod_writes(&h, "create"), vec!["sts-0", "sts-1", "sts-2"]);

    // Make pod-1 unready; scaling up to 5 must halt until it is Ready again.
    h.stop(readier.unwrap());
    h.modify_status::<Pod>(NS, "sts-1", |p| {
        p.status.as_mut().unwrap().conditions.as_mut().unwrap().iter_mut().for_each(|c| c.status = "False".into());
    })
    .unwrap();
    scale(&mut h, 5);
    h.expect_goals(false);
    h.settle().unwrap();
    h.expect_goals(true);
    assert_eq!(pod_names(&h), vec!["sts-0", "sts-1", "sts-2"], "no scale operation while pod-1 is unhealthy");
    h.restart(readier.unwrap());
    h.settle().unwrap();
    assert_eq!(pod_names(&h), vec!["sts-0", "sts-1", "sts-2", "sts-3", "sts-4"]);

    // Scale to zero: the highest ordinal first, each only after its successor is gone.
    scale(&mut h, 0);
    h.settle().unwrap();
    assert_eq!(pod_writes(&h, "delete"), vec!["sts-4", "sts-3", "sts-2", "sts-1", "sts-0"]);
    assert!(h.list::<Pod>().is_empty());
}

#[test]
fn rolling_update_goes_from_the_highest_ordinal_down_and_on_delete_waits() {
    let (mut h, _) = harness(true);
    h.create(fixtures::stateful_set(NS, "sts", 3, APP, false)).unwrap();
    h.settle().unwrap();
    set_image(&mut h, "v2");
    h.settle().unwrap();
    assert_eq!(pod_writes(&h, "delete"), vec!["sts-2", "sts-1", "sts-0"]);
    assert!(["sts-0", "sts-1", "sts-2"].iter().all(|p| image_of(&h, p) == "v2"));
    let status = sts(&h).status.unwrap();
    assert_eq!(status.current_revision, status.update_revision, "the rollout completed");

    h.modify::<StatefulSet>(NS, "sts", |s| {
        s.spec.as_mut().unwrap().update_strategy = Some(k8s_openapi::api::apps::v1::StatefulSetUpdateStrategy {
            type_: Some("OnDelete".into()),
            rolling_update: None,
        });
    })
    .unwrap();
    set_image(&mut h, "v3");
    h.settle().unwrap();
    assert!(["sts-0", "sts-1", "sts-2"].iter().all(|p| image_of(&h, p) == "v2"), "OnDelete replaces nothing");
    h.submit(Op::delete(ObjectRef::new(Kind::Pod, NS, "sts-1"))).unwrap();
    h.settle().unwrap();
    assert_eq!(image_of(&h, "sts-1"), "v3", "a deleted pod comes back at the update revision");
    assert_eq!(image_of(&h, "sts-0"), "v2");
}

#[test]
fn max_unavailable_replaces_several_pods_at_once() {
    let (mut h, _) = harness(true);
    // Under OrderedReady the controller waits on every unready pod before it gets to the update, so
    // several pods at once are only seen with Parallel.
    let mut set = fixtures::stateful_set(NS, "sts", 4, APP, true);
    set.spec.as_mut().unwrap().update_strategy = Some(k8s_openapi::api::apps::v1::StatefulSetUpdateStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(k8s_openapi::api::apps::v1::RollingUpdateStatefulSetStrategy {
            partition: None,
            max_unavailable: Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(2)),
        }),
    });
    h.create(set).unwrap();
    h.settle().unwrap();
    h.stop(ActorId::from_index(1));
    set_image(&mut h, "v2");
    h.expect_goals(false);
    h.settle().unwrap();
    h.expect_goals(true);
    // With pods not becoming ready, exactly two are replaced: the two highest ordinals.
    assert_eq!(pod_writes(&h, "delete"), vec!["sts-3", "sts-2"]);
}

#[test]
fn revisions_are_reused_on_rollback_and_truncated_to_the_history_limit() {
    let (mut h, _) = harness(true);
    let mut set = fixtures::stateful_set(NS, "sts", 1, APP, false);
    set.spec.as_mut().unwrap().revision_history_limit = Some(1);
    h.create(set).unwrap();
    h.settle().unwrap();
    let first = sts(&h).status.unwrap().update_revision.unwrap();
    set_image(&mut h, "v2");
    h.settle().unwrap();
    set_image(&mut h, "nginx:1.27");
    h.settle().unwrap();
    let status = sts(&h).status.unwrap();
    assert_eq!(status.update_revision.as_deref(), Some(first.as_str()), "the old revision is reused");
    let revision = h.get::<ControllerRevision>(NS, &first).unwrap().revision;
    assert_eq!(revision, 3, "and renumbered past the newest");
    for v in 4..=6 {
        set_image(&mut h, &format!("v{v}"));
        h.settle().unwrap();
    }
    let revisions = h.list::<ControllerRevision>();
    assert_eq!(
        revisions.len(),
        2,
        "the live revision and one of history: {:?}",
        revisions.iter().map(|r| &r.metadata.name).collect::<Vec<_>>()
    );
    let pod_revision = h.get::<Pod>(NS, "sts-0").unwrap().metadata.labels.unwrap()[REVISION_LABEL].clone();
    assert!(revisions.iter().any(|r| r.metadata.name.as_deref() == Some(pod_revision.as_str())));
}

#[test]
fn a_revision_name_collision_bumps_the_collision_count() {
    let (mut h, _) = harness(true);
    h.create(fixtures::stateful_set(NS, "sts", 1, APP, false)).unwrap();
    h.settle().unwrap();
    let name = sts(&h).status.unwrap().update_revision.unwrap();
    // Someone rewrites the revision's data behind the controller's back: its name now holds another template.
    h.modify::<ControllerRevision>(NS, &name, |r| {
        r.data = Some(k8s_openapi::apimachinery::pkg::runtime::RawExtension(serde_json::json!({"spec": {}})))
    })
    .unwrap();
    h.settle().unwrap();
    let status = sts(&h).status.unwrap();
    assert_eq!(status.collision_count, Some(1));
    assert_ne!(status.update_revision.as_deref(), Some(name.as_str()));
}

#[test]
fn scaling_updates_and_deletions_hold_every_property_in_every_seeded_order() {
    for seed in 0..100u64 {
        let mut rng = SplitMix64::new(seed);
        let mut h = Harness::new().seeded(seed);
        h.add(StatefulSetController);
        h.add(PodReadier::default());
        h.check(statefulset::properties());
        let parallel = seed % 3 == 0;
        let mut set = fixtures::stateful_set(NS, "sts", 2, APP, parallel);
        if seed % 4 == 1 {
            set.spec.as_mut().unwrap().update_strategy = Some(k8s_openapi::api::apps::v1::StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(k8s_openapi::api::apps::v1::RollingUpdateStatefulSetStrategy {
                    partition: Some(1),
                    max_unavailable: None,
                }),
            });
        }
        h.create(set).unwrap();
        for round in 0..6 {
            match rng.next_u64() % 4 {
                0 => scale(&mut h, (rng.next_u64() % 5) as i32),
                1 => set_image(&mut h, &format!("v{round}")),
                2 => {
                    let pods = pod_names(&h);
                    if !pods.is_empty() {
                        let victim = &pods[(rng.next_u64() % pods.len() as u64) as usize];
                        let _ = h.submit(Op::delete(ObjectRef::new(Kind::Pod, NS, victim)));
                    }
                }
                _ => {
                    let pods = pod_names(&h);
                    if let Some(victim) = pods.first() {
                        let _ = h.modify_status::<Pod>(NS, victim, |p| {
                            p.status.get_or_insert_with(Default::default).phase = Some("Failed".into())
                        });
                    }
                }
            }
            let steps = h.log().len();
            let budget = (rng.next_u64() % 12) as usize;
            h.run_until(|h| h.log().len() >= steps + budget).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
        h.run_to_quiescence().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let replicas = sts(&h).spec.unwrap().replicas.unwrap();
        assert_eq!(h.list::<Pod>().iter().filter(|p| podutil::is_active(p)).count(), replicas as usize, "seed {seed}");
        let _ = Time::EPOCH;
    }
}
