//! The StatefulSet's ControllerRevisions (the shared machinery is [`crate::common::revision`]).

use crate::common::revision;
use crate::framework::ClusterView;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::Pod;

pub use revision::template_of;

/// The revision data for a set's current template.
pub fn data_for(set: &StatefulSet) -> serde_json::Value {
    revision::data_for(&set.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default())
}

/// The set's revisions, lowest revision number first.
pub fn owned<'a>(view: &ClusterView<'a>, set: &StatefulSet) -> Vec<&'a ControllerRevision> {
    revision::owned(view, &set.metadata)
}

/// The revision name for the set's template under a collision count.
pub fn name_for(set: &StatefulSet, data: &serde_json::Value, collision_count: Option<i32>) -> String {
    revision::name_for(set.metadata.name.as_deref().unwrap_or(""), data, collision_count)
}

/// A new revision object for the set's template.
pub fn new_revision(set: &StatefulSet, number: i64, collision_count: Option<i32>) -> ControllerRevision {
    let template = set.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    revision::new_revision(themelios_api::Kind::StatefulSet, &set.metadata, &template, number, collision_count)
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
