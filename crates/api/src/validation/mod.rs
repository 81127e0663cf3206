//! Validation of objects on create and update, with upstream's field paths and wording.

pub use crate::names;
mod config;
mod pod;
pub mod rbac;
mod workloads;

use crate::error::FieldError;
use crate::kind::{Kind, Object};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub use config::MAX_DATA_BYTES;
pub use pod::validate_pod_spec;

/// Every problem with `object` as it would be stored.
pub fn validate(object: &Object) -> Vec<FieldError> {
    let mut errors = validate_meta(object.kind(), object.meta());
    match object {
        Object::Pod(p) => match &p.spec {
            Some(spec) => errors.extend(validate_pod_spec(spec, "spec")),
            None => errors.push(FieldError::required("spec", "")),
        },
        Object::ReplicaSet(rs) => errors.extend(workloads::replica_set(rs)),
        Object::Deployment(d) => errors.extend(workloads::deployment(d)),
        Object::StatefulSet(s) => errors.extend(workloads::stateful_set(s)),
        Object::DaemonSet(d) => errors.extend(workloads::daemon_set(d)),
        Object::Job(j) => errors.extend(workloads::job(j)),
        Object::CronJob(c) => errors.extend(workloads::cron_job(c)),
        Object::ConfigMap(c) => errors.extend(config::config_map(c)),
        Object::Secret(s) => errors.extend(config::secret(s)),
        Object::Role(r) => errors.extend(rbac::rules(r.rules.as_deref().unwrap_or_default(), true)),
        Object::ClusterRole(r) => errors.extend(rbac::rules(r.rules.as_deref().unwrap_or_default(), false)),
        Object::RoleBinding(b) => {
            errors.extend(rbac::binding(&b.role_ref, b.subjects.as_deref().unwrap_or_default(), true))
        }
        Object::ClusterRoleBinding(b) => {
            errors.extend(rbac::binding(&b.role_ref, b.subjects.as_deref().unwrap_or_default(), false))
        }
        _ => {}
    }
    errors
}

/// What an update may not change, beyond what [`validate`] checks of the new object.
pub fn validate_update(new: &Object, old: &Object, status_only: bool) -> Vec<FieldError> {
    if status_only {
        return match (new, old) {
            (Object::Pod(n), Object::Pod(o)) => pod::validate_status_update(n, o),
            _ => Vec::new(),
        };
    }
    match (new, old) {
        (Object::Pod(n), Object::Pod(o)) => pod::validate_spec_update(n, o),
        (Object::ReplicaSet(n), Object::ReplicaSet(o)) => {
            workloads::selector_immutable(n.spec.as_ref().map(|s| &s.selector), o.spec.as_ref().map(|s| &s.selector))
        }
        (Object::Deployment(n), Object::Deployment(o)) => {
            workloads::selector_immutable(n.spec.as_ref().map(|s| &s.selector), o.spec.as_ref().map(|s| &s.selector))
        }
        (Object::StatefulSet(n), Object::StatefulSet(o)) => workloads::stateful_set_update(n, o),
        (Object::Job(n), Object::Job(o)) => workloads::job_update(n, o),
        (Object::RoleBinding(n), Object::RoleBinding(o)) => rbac::role_ref_unchanged(&n.role_ref, &o.role_ref),
        (Object::ClusterRoleBinding(n), Object::ClusterRoleBinding(o)) => {
            rbac::role_ref_unchanged(&n.role_ref, &o.role_ref)
        }
        (Object::DaemonSet(n), Object::DaemonSet(o)) => {
            workloads::selector_immutable(n.spec.as_ref().map(|s| &s.selector), o.spec.as_ref().map(|s| &s.selector))
        }
        _ => Vec::new(),
    }
}

fn validate_meta(kind: Kind, meta: &ObjectMeta) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = meta.name.as_deref().unwrap_or("");
    let name_check = match kind {
        Kind::Namespace => names::dns1123_label(name),
        Kind::Service => names::dns1035_label(name),
        // RBAC names only have to be one segment of a URL path (`system:aggregate-to-view`).
        Kind::Role | Kind::ClusterRole | Kind::RoleBinding | Kind::ClusterRoleBinding => rbac::path_segment(name),
        _ => names::dns1123_subdomain(name),
    };
    if name.is_empty() {
        errors.push(FieldError::required("metadata.name", "name or generateName is required"));
    } else if let Some(why) = name_check {
        errors.push(FieldError::invalid("metadata.name", name, why));
    }
    if kind.namespaced() {
        let namespace = meta.namespace.as_deref().unwrap_or("");
        if namespace.is_empty() {
            errors.push(FieldError::required("metadata.namespace", ""));
        } else if let Some(why) = names::dns1123_label(namespace) {
            errors.push(FieldError::invalid("metadata.namespace", namespace, why));
        }
    }
    for (key, value) in meta.labels.iter().flatten() {
        if let Some(why) = names::validate_label_key(key) {
            errors.push(FieldError::invalid("metadata.labels", key, why));
        }
        if let Some(why) = names::validate_label_value(value) {
            errors.push(FieldError::invalid("metadata.labels", value, why));
        }
    }
    for key in meta.annotations.iter().flatten().map(|(k, _)| k) {
        if let Some(why) = names::validate_label_key(&key.to_ascii_lowercase()) {
            errors.push(FieldError::invalid("metadata.annotations", key, why));
        }
    }
    let annotation_bytes: usize = meta.annotations.iter().flatten().map(|(k, v)| k.len() + v.len()).sum();
    if annotation_bytes > 256 * 1024 {
        errors.push(FieldError::too_long("metadata.annotations", 256 * 1024));
    }
    for (i, r) in meta.owner_references.iter().flatten().enumerate() {
        if r.uid.is_empty() {
            errors.push(FieldError::invalid(format!("metadata.ownerReferences[{i}].uid"), "", "uid must not be empty"));
        }
        if r.name.is_empty() {
            errors.push(FieldError::invalid(
                format!("metadata.ownerReferences[{i}].name"),
                "",
                "name must not be empty",
            ));
        }
    }
    let controllers = meta.owner_references.iter().flatten().filter(|r| r.controller == Some(true)).count();
    if controllers > 1 {
        errors.push(FieldError::invalid(
            "metadata.ownerReferences",
            controllers,
            "Only one reference can have Controller set to true",
        ));
    }
    errors
}
