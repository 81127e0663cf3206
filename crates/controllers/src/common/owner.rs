//! Owner references: who controls an object, and the adopt/release writes of upstream's ControllerRefManager.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use themelios_api::Kind;

/// The controller reference of an object, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references.iter().flatten().find(|r| r.controller == Some(true))
}

/// Whether `meta` is controlled by the object with `uid`.
pub fn is_controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    controller_of(meta).is_some_and(|r| r.uid == uid)
}

/// A controller reference to `owner` of `kind`, blocking the owner's foreground deletion.
pub fn controller_ref(kind: Kind, owner: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: kind.api_version().to_string(),
        kind: kind.name().to_string(),
        name: owner.name.clone().unwrap_or_default(),
        uid: owner.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The metadata after adopting: an existing non-controller reference to the owner becomes the controller
/// reference; otherwise one is appended.
pub fn adopted(meta: &ObjectMeta, kind: Kind, owner: &ObjectMeta) -> ObjectMeta {
    let mut meta = meta.clone();
    let reference = controller_ref(kind, owner);
    let refs = meta.owner_references.get_or_insert_with(Vec::new);
    match refs.iter_mut().find(|r| r.uid == reference.uid) {
        Some(existing) => *existing = reference,
        None => refs.push(reference),
    }
    meta
}

/// The metadata after releasing: the reference to the owner is removed.
pub fn released(meta: &ObjectMeta, owner_uid: &str) -> ObjectMeta {
    let mut meta = meta.clone();
    if let Some(refs) = meta.owner_references.as_mut() {
        refs.retain(|r| r.uid != owner_uid);
        if refs.is_empty() {
            meta.owner_references = None;
        }
    }
    meta
}

/// What a controller should do about one candidate object, given its selector match (upstream's
/// ClaimObject).
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Ours and matching: keep it.
    Owned,
    /// Ours but no longer matching: release it.
    Release,
    /// An orphan that matches: adopt it.
    Adopt,
    /// Not ours to touch.
    Ignore,
}

/// Decides the claim on an object with metadata `meta` by an owner with `owner_uid`.
pub fn claim(meta: &ObjectMeta, owner_uid: &str, owner_deleting: bool, matches: bool) -> Claim {
    match controller_of(meta) {
        Some(r) if r.uid == owner_uid => {
            if matches {
                Claim::Owned
            } else if owner_deleting {
                Claim::Ignore
            } else {
                Claim::Release
            }
        }
        Some(_) => Claim::Ignore,
        None if matches && !owner_deleting && meta.deletion_timestamp.is_none() => Claim::Adopt,
        None => Claim::Ignore,
    }
}
