//! Storage-object-in-use protection: a claim a scheduled pod uses outlives its deletion until the pod goes;
//! a bound volume likewise.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, PersistentVolumeStatus, Pod};
use themelios_api::{Kind, ObjectRef, Op};
use themelios_controllers::fixtures::pod_using_claim;
use themelios_controllers::harness::Harness;
use themelios_controllers::volumeprotection::{self, PvProtectionController, PvcProtectionController, PVC_FINALIZER};

const NS: &str = "default";

fn claim(name: &str) -> PersistentVolumeClaim {
    let mut c = PersistentVolumeClaim::default();
    c.metadata.name = Some(name.into());
    c.metadata.namespace = Some(NS.into());
    c
}

#[test]
fn a_claim_in_use_stays_until_its_pod_is_gone() {
    let mut h = Harness::new();
    h.add(PvcProtectionController);
    h.check(volumeprotection::properties());
    let created = h.create(claim("data")).unwrap();
    assert_eq!(created.metadata.finalizers, Some(vec![PVC_FINALIZER.to_string()]), "admission adds the finalizer");
    h.create(pod_using_claim(NS, "user", "node-1", "data")).unwrap();
    h.submit(Op::delete(ObjectRef::new(Kind::PersistentVolumeClaim, NS, "data"))).unwrap();
    h.settle().unwrap();
    let kept = h.get::<PersistentVolumeClaim>(NS, "data").expect("kept while the pod uses it");
    assert!(kept.metadata.deletion_timestamp.is_some());
    // The pod goes (at once: no kubelet here), and so does the claim.
    h.submit(Op::Delete {
        target: ObjectRef::new(Kind::Pod, NS, "user"),
        options: themelios_api::DeleteOptions { grace_period_seconds: Some(0), ..Default::default() },
    })
    .unwrap();
    h.settle().unwrap();
    assert!(h.get::<Pod>(NS, "user").is_none());
    assert!(h.get::<PersistentVolumeClaim>(NS, "data").is_none(), "released once unused");
}

#[test]
fn a_bound_volume_stays_until_released() {
    let mut h = Harness::new();
    h.add(PvProtectionController);
    let mut volume = PersistentVolume::default();
    volume.metadata.name = Some("vol".into());
    h.create(volume).unwrap();
    h.modify_status::<PersistentVolume>("", "vol", |v| {
        v.status = Some(PersistentVolumeStatus { phase: Some("Bound".into()), ..Default::default() })
    })
    .unwrap();
    h.submit(Op::delete(ObjectRef::new(Kind::PersistentVolume, "", "vol"))).unwrap();
    h.settle().unwrap();
    assert!(h.get::<PersistentVolume>("", "vol").is_some_and(|v| v.metadata.deletion_timestamp.is_some()));
    h.modify_status::<PersistentVolume>("", "vol", |v| {
        v.status = Some(PersistentVolumeStatus { phase: Some("Released".into()), ..Default::default() })
    })
    .unwrap();
    h.settle().unwrap();
    assert!(h.get::<PersistentVolume>("", "vol").is_none());
}
