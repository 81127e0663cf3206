//! Stable identities: ordinals, pod names, the pods and claims a StatefulSet makes for an ordinal.

use crate::common::owner;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use themelios_api::Kind;

/// Pod label: the pod's own name.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// Pod label: the pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// Pod label: the ControllerRevision the pod was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// The set's name.
pub fn set_name(set: &StatefulSet) -> &str {
    set.metadata.name.as_deref().unwrap_or("")
}

/// `spec.ordinals.start` (default 0).
pub fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.ordinals.as_ref()).and_then(|o| o.start).unwrap_or(0)
}

/// `spec.replicas` (default 1).
pub fn replicas(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// The ordinals that should have pods: `[start, start + replicas)`.
pub fn ordinals(set: &StatefulSet) -> std::ops::Range<i32> {
    let start = start_ordinal(set);
    start..start + replicas(set)
}

/// The name of the pod with this ordinal.
pub fn pod_name(set: &StatefulSet, ordinal: i32) -> String {
    format!("{}-{ordinal}", set_name(set))
}

/// The ordinal a pod name stands for in this set, if it is one of the set's names.
pub fn ordinal_of(set: &StatefulSet, pod_name: &str) -> Option<i32> {
    let suffix = pod_name.strip_prefix(set_name(set))?.strip_prefix('-')?;
    if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_digit()) || (suffix.len() > 1 && suffix.starts_with('0'))
    {
        return None;
    }
    suffix.parse().ok()
}

/// The name of the claim for `template` and `ordinal`: `<template>-<set>-<ordinal>`.
pub fn claim_name(set: &StatefulSet, template: &PersistentVolumeClaim, ordinal: i32) -> String {
    format!("{}-{}-{ordinal}", template.metadata.name.as_deref().unwrap_or(""), set_name(set))
}

/// The claims the pod with `ordinal` uses, as they would be created.
pub fn claims_for(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let selector_labels = set.spec.as_ref().and_then(|s| s.selector.match_labels.clone()).unwrap_or_default();
    let namespace = set.metadata.namespace.clone();
    set.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.clone())
        .unwrap_or_default()
        .iter()
        .map(|template| {
            let mut labels = template.metadata.labels.clone().unwrap_or_default();
            labels.extend(selector_labels.clone());
            PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim_name(set, template, ordinal)),
                    namespace: namespace.clone(),
                    labels: Some(labels),
                    annotations: template.metadata.annotations.clone(),
                    ..Default::default()
                },
                spec: template.spec.clone(),
                status: None,
            }
        })
        .collect()
}

/// The pod for `ordinal`, from `template` (the template of `revision`), labelled with its identity.
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, ordinal: i32, revision: &str) -> Pod {
    let name = pod_name(set, ordinal);
    let tmeta = template.metadata.clone().unwrap_or_default();
    let mut labels = tmeta.labels.unwrap_or_default();
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    labels.insert(REVISION_LABEL.into(), revision.into());
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.hostname = Some(name.clone());
    spec.subdomain = set.spec.as_ref().and_then(|s| s.service_name.clone()).filter(|s| !s.is_empty());
    let claims = set.spec.as_ref().and_then(|s| s.volume_claim_templates.clone()).unwrap_or_default();
    if !claims.is_empty() {
        let volumes = spec.volumes.get_or_insert_with(Vec::new);
        for template in &claims {
            let volume_name = template.metadata.name.clone().unwrap_or_default();
            volumes.retain(|v| v.name != volume_name);
            volumes.push(Volume {
                name: volume_name,
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim_name(set, template, ordinal),
                    read_only: None,
                }),
                ..Default::default()
            });
        }
    }
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: set.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![owner::controller_ref(Kind::StatefulSet, &set.metadata)]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// Whether the pod carries the identity of its ordinal (labels, hostname, subdomain); `None` if it does,
/// else the pod with its identity restored.
pub fn restore_identity(set: &StatefulSet, pod: &Pod, ordinal: i32) -> Option<Pod> {
    let name = pod_name(set, ordinal);
    let mut fixed = pod.clone();
    let labels = fixed.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    (fixed != *pod).then_some(fixed)
}

/// The revision a pod was made from.
pub fn revision_of(pod: &Pod) -> Option<&str> {
    pod.metadata.labels.as_ref()?.get(REVISION_LABEL).map(String::as_str)
}
