//! ControllerRevisions: snapshots of a StatefulSet's pod template, named by hash, numbered in order.
//!
//! A revision's data is `{"spec":{"template":{…,"$patch":"replace"}}}`, the shape upstream stores and
//! `kubectl rollout history` reads.

use super::identity::set_name;
use crate::common::hash::short_hash;
use crate::common::owner;
use crate::framework::ClusterView;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use themelios_api::Kind;

/// The revision data for a set's current template.
pub fn data_for(set: &StatefulSet) -> serde_json::Value {
    let template = set.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let mut template = serde_json::to_value(template).unwrap_or_default();
    if let Some(map) = template.as_object_mut() {
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

/// The set's revisions, lowest revision number first.
pub fn owned<'a>(view: &ClusterView<'a>, set: &StatefulSet) -> Vec<&'a ControllerRevision> {
    let uid = set.metadata.uid.clone().unwrap_or_default();
    let namespace = set.metadata.namespace.clone().unwrap_or_default();
    let mut revisions: Vec<&ControllerRevision> =
        view.list_in::<ControllerRevision>(&namespace).filter(|r| owner::is_controlled_by(&r.metadata, &uid)).collect();
    revisions.sort_by_key(|r| (r.revision, r.metadata.name.clone()));
    revisions
}

/// The revision name for the set's template under a collision count.
pub fn name_for(set: &StatefulSet, data: &serde_json::Value, collision_count: Option<i32>) -> String {
    let prefix: String = set_name(set).chars().take(223).collect();
    format!("{prefix}-{}", short_hash(&serde_json::to_vec(data).unwrap_or_default(), collision_count))
}

/// A new revision object for the set's template.
pub fn new_revision(
    set: &StatefulSet,
    data: serde_json::Value,
    number: i64,
    collision_count: Option<i32>,
) -> ControllerRevision {
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name_for(set, &data, collision_count)),
            namespace: set.metadata.namespace.clone(),
            labels: set.spec.as_ref().and_then(|s| s.template.metadata.as_ref()).and_then(|m| m.labels.clone()),
            owner_references: Some(vec![owner::controller_ref(Kind::StatefulSet, &set.metadata)]),
            ..Default::default()
        },
        data: Some(RawExtension(data)),
        revision: number,
    }
}

/// Old revisions beyond revisionHistoryLimit that no pod uses and that are neither current nor update,
/// oldest first.
pub fn surplus<'a>(
    set: &StatefulSet,
    revisions: &[&'a ControllerRevision],
    pods: &[&Pod],
    current: &str,
    update: &str,
) -> Vec<&'a ControllerRevision> {
    let limit = set.spec.as_ref().and_then(|s| s.revision_history_limit).unwrap_or(10).max(0) as usize;
    let in_use = |name: &str| {
        name == current || name == update || pods.iter().any(|p| super::identity::revision_of(p) == Some(name))
    };
    let history: Vec<&ControllerRevision> =
        revisions.iter().copied().filter(|r| !in_use(r.metadata.name.as_deref().unwrap_or(""))).collect();
    let excess = history.len().saturating_sub(limit);
    history.into_iter().take(excess).collect()
}

/// The name of the set's revision for its current template, if it exists yet.
pub fn update_revision_name(view: &ClusterView, set: &StatefulSet) -> Option<String> {
    let data = data_for(set);
    owned(view, set)
        .into_iter()
        .rev()
        .find(|r| r.data.as_ref().map(|d| &d.0) == Some(&data))
        .and_then(|r| r.metadata.name.clone())
}
