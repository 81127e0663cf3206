//! Revisions of a Deployment: the pod-template hash that names its ReplicaSets, template equality that
//! ignores that hash, the revision annotations, and the surge and unavailability fenceposts.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The label (and selector term) that ties a ReplicaSet and its pods to one template.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// The revision number of a ReplicaSet (and of its Deployment's current one).
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Earlier revision numbers a ReplicaSet had, comma-separated (after rollbacks).
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's `spec.replicas` when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// `spec.replicas + maxSurge` when the ReplicaSet was last scaled (the base of proportional scaling).
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// kubectl's record of the last applied configuration; never copied to ReplicaSets.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Annotations of the Deployment that are not copied to its ReplicaSets.
fn skip_copy(key: &str) -> bool {
    matches!(key, LAST_APPLIED | REVISION | REVISION_HISTORY | DESIRED_REPLICAS | MAX_REPLICAS)
        || key == "deprecated.deployment.rollback.to"
}

/// A stable hash of a pod template and the collision count ([`crate::common::hash::short_hash`] of the
/// template's JSON).
///
/// ```
/// use themelios_controllers::deployment::template_hash;
/// let t = Default::default();
/// assert_eq!(template_hash(&t, None), template_hash(&t, None));
/// assert_ne!(template_hash(&t, None), template_hash(&t, Some(1)));
/// ```
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    crate::common::hash::short_hash(&themelios_api::json::to_vec(template), collision_count)
}

/// Whether two templates are equal apart from the pod-template-hash label (absent metadata counts as
/// empty, as in upstream's semantic equality). Specs and labels are compared in place: this runs on every
/// ReplicaSet at every step, and cloning two pod templates to drop one label was a sixth of the model
/// checker's time.
pub fn equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    a.spec == b.spec && metadata_equal_ignoring_hash(a.metadata.as_ref(), b.metadata.as_ref())
}

fn metadata_equal_ignoring_hash(a: Option<&ObjectMeta>, b: Option<&ObjectMeta>) -> bool {
    let empty = ObjectMeta::default();
    let (a, b) = (a.unwrap_or(&empty), b.unwrap_or(&empty));
    fn labels(m: &ObjectMeta) -> impl Iterator<Item = (&String, &String)> {
        m.labels.iter().flatten().filter(|(k, _)| k.as_str() != POD_TEMPLATE_HASH)
    }
    // The rest is compared on copies without labels, which only templates equal so far get to.
    labels(a).eq(labels(b)) && ObjectMeta { labels: None, ..a.clone() } == ObjectMeta { labels: None, ..b.clone() }
}

/// The revision number a ReplicaSet carries (0 if none).
pub fn revision_of(rs: &ReplicaSet) -> i64 {
    annotation(rs, REVISION).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// An annotation of a ReplicaSet.
pub fn annotation<'a>(rs: &'a ReplicaSet, key: &str) -> Option<&'a str> {
    rs.metadata.annotations.as_ref()?.get(key).map(String::as_str)
}

/// An integer annotation of a ReplicaSet.
pub fn int_annotation(rs: &ReplicaSet, key: &str) -> Option<i32> {
    annotation(rs, key)?.parse().ok()
}

/// Copies the Deployment's annotations (except the skipped ones) onto `annotations`; returns whether any
/// changed.
pub fn copy_deployment_annotations(d: &Deployment, annotations: &mut BTreeMap<String, String>) -> bool {
    let mut changed = false;
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if skip_copy(k) || annotations.get(k) == Some(v) {
            continue;
        }
        annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// Sets the revision of the new ReplicaSet to `revision` if it is behind, recording the old number in
/// the revision history; returns whether anything changed.
pub fn set_revision(annotations: &mut BTreeMap<String, String>, revision: i64) -> bool {
    let old: i64 = annotations.get(REVISION).and_then(|v| v.parse().ok()).unwrap_or(0);
    if old >= revision {
        return false;
    }
    if old > 0 {
        let history = annotations.entry(REVISION_HISTORY.to_string()).or_default();
        if !history.is_empty() {
            history.push(',');
        }
        history.push_str(&old.to_string());
    }
    annotations.insert(REVISION.to_string(), revision.to_string());
    true
}

/// Whether the Deployment uses the RollingUpdate strategy.
pub fn is_rolling(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.type_.as_deref()).unwrap_or("RollingUpdate")
        == "RollingUpdate"
}

/// `spec.replicas` (default 1).
pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// Resolves an int-or-percent against `total`, rounding percentages up or down.
pub fn resolve(value: Option<&IntOrString>, total: i32, round_up: bool) -> i32 {
    match value {
        None => 0,
        Some(IntOrString::Int(i)) => *i,
        Some(IntOrString::String(s)) => {
            let percent: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            let scaled = i64::from(total) * percent;
            (if round_up { (scaled + 99) / 100 } else { scaled / 100 }) as i32
        }
    }
}

/// `(maxSurge, maxUnavailable)` as absolute numbers: surge rounds up, unavailable down, and if both come
/// out zero, unavailable is 1.
pub fn fenceposts(d: &Deployment) -> (i32, i32) {
    let total = replicas(d);
    let ru = d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.rolling_update.as_ref());
    let surge = resolve(ru.and_then(|r| r.max_surge.as_ref()), total, true);
    let unavailable = resolve(ru.and_then(|r| r.max_unavailable.as_ref()), total, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// maxSurge as a number (0 for Recreate).
pub fn max_surge(d: &Deployment) -> i32 {
    if is_rolling(d) {
        fenceposts(d).0
    } else {
        0
    }
}

/// maxUnavailable as a number, at most `spec.replicas` (0 for Recreate or zero replicas).
pub fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling(d) || replicas(d) == 0 {
        return 0;
    }
    fenceposts(d).1.min(replicas(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    fn template(labels: &[(&str, &str)], image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container { name: "app".into(), image: Some(image.into()), ..Default::default() }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn templates_equal_apart_from_the_hash_label() {
        let plain = template(&[("app", "web")], "nginx:1");
        let hashed = template(&[("app", "web"), (POD_TEMPLATE_HASH, "abc")], "nginx:1");
        let rehashed = template(&[(POD_TEMPLATE_HASH, "def"), ("app", "web")], "nginx:1");
        assert!(equal_ignoring_hash(&plain, &hashed));
        assert!(equal_ignoring_hash(&hashed, &rehashed));
        assert!(!equal_ignoring_hash(&plain, &template(&[("app", "web")], "nginx:2")));
        assert!(!equal_ignoring_hash(&hashed, &template(&[("app", "api"), (POD_TEMPLATE_HASH, "abc")], "nginx:1")));
        assert!(!equal_ignoring_hash(&plain, &template(&[("app", "web"), ("tier", "a")], "nginx:1")));
    }

    #[test]
    fn absent_metadata_is_empty_metadata() {
        let only_hash = PodTemplateSpec { metadata: None, ..template(&[], "nginx:1") };
        assert!(equal_ignoring_hash(&only_hash, &template(&[(POD_TEMPLATE_HASH, "abc")], "nginx:1")));
        let mut annotated = template(&[], "nginx:1");
        if let Some(meta) = annotated.metadata.as_mut() {
            meta.annotations = Some([("a".to_string(), "b".to_string())].into());
        }
        assert!(!equal_ignoring_hash(&only_hash, &annotated));
    }
}
