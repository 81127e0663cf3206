//! ControllerRevisions shared by the StatefulSet and DaemonSet controllers: snapshots of a pod template,
//! named `<owner>-<hash>`, numbered in order. The data is `{"spec":{"template":{…,"$patch":"replace"}}}`,
//! the shape upstream stores and `kubectl rollout history` reads, spelled as upstream's Go encodes it:
//! keys sorted, the template as the server stores it, and `creationTimestamp: null` in its metadata (Go
//! writes an unset time of a value struct as null). The hash is upstream's over those bytes, so a
//! StatefulSet's revisions get upstream's names. (Upstream's DaemonSet hashes the template's Go value
//! instead, which cannot be reproduced here: its revisions are named by the same hash of the data.)

use super::hash::revision_hash;
use super::owner;
use crate::framework::ClusterView;
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use themelios_api::Kind;

/// The revision data for a template.
pub fn data_for(template: &PodTemplateSpec) -> serde_json::Value {
    let mut template = themelios_api::json::to_value(template);
    if let Some(map) = template.as_object_mut() {
        let metadata = map.entry("metadata").or_insert_with(|| serde_json::json!({}));
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.entry("creationTimestamp").or_insert(serde_json::Value::Null);
        }
        map.insert("$patch".into(), "replace".into());
    }
    serde_json::json!({ "spec": { "template": template } })
}

/// The pod template a revision records.
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = revision.data.as_ref()?.0.get("spec")?.get("template")?.clone();
    if let Some(map) = template.as_object_mut() {
        map.remove("$patch");
    }
    serde_json::from_value(template).ok()
}

/// The revisions controlled by `owner`, lowest revision number first.
pub fn owned<'a>(view: &ClusterView<'a>, owner: &ObjectMeta) -> Vec<&'a ControllerRevision> {
    let uid = owner.uid.clone().unwrap_or_default();
    let namespace = owner.namespace.clone().unwrap_or_default();
    let mut revisions: Vec<&ControllerRevision> =
        view.list_in::<ControllerRevision>(&namespace).filter(|r| owner::is_controlled_by(&r.metadata, &uid)).collect();
    revisions.sort_by_key(|r| (r.revision, r.metadata.name.clone()));
    revisions
}

/// The hash of revision data under a collision count.
pub fn hash_of(data: &serde_json::Value, collision_count: Option<i32>) -> String {
    // A `Value` serialises its maps with sorted keys, as Go's encoding of a map does.
    revision_hash(&themelios_api::json::to_vec(data), collision_count)
}

/// The revision name for data under a collision count: `<owner>-<hash>`.
pub fn name_for(owner_name: &str, data: &serde_json::Value, collision_count: Option<i32>) -> String {
    let prefix: String = owner_name.chars().take(223).collect();
    format!("{prefix}-{}", hash_of(data, collision_count))
}

/// A new revision object controlled by `owner` (of `kind`), labelled like its template plus the hash.
pub fn new_revision(
    kind: Kind,
    owner: &ObjectMeta,
    template: &PodTemplateSpec,
    number: i64,
    collision_count: Option<i32>,
) -> ControllerRevision {
    let data = data_for(template);
    let mut labels = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
    labels.insert("controller-revision-hash".into(), hash_of(&data, collision_count));
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name_for(owner.name.as_deref().unwrap_or(""), &data, collision_count)),
            namespace: owner.namespace.clone(),
            labels: Some(labels),
            owner_references: Some(vec![owner::controller_ref(kind, owner)]),
            ..Default::default()
        },
        data: Some(RawExtension(data)),
        revision: number,
    }
}
