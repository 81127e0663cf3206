//! What upstream's server does to an object on its way in besides defaulting: the mutating admission
//! plugins enabled by default (ServiceAccount, Priority, StorageObjectInUseProtection)
//! and the registries' create and update preparation (a DaemonSet's template generation, a volume's phase
//! time). Each is what kube-apiserver 1.33 does with its default plugins, as the differential API tests
//! against it check.
//!
//! Left out, on purpose: the ServiceAccount plugin's refusal of a pod whose ServiceAccount does not exist
//! (the model checker's scenarios would all need the service account controller to run first), and
//! TaintNodesByCondition's `not-ready` taint on new nodes (every scenario with nodes would need the node
//! lifecycle controller before any pod could be scheduled). Both are listed in docs/upstream-fidelity.md.

use crate::identity::generated_suffix;
use crate::kind::Object;
use crate::time::Time;
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, DownwardAPIProjection, DownwardAPIVolumeFile, KeyToPath, ObjectFieldSelector, PodSpec,
    ProjectedVolumeSource, ServiceAccountTokenProjection, Volume, VolumeMount, VolumeProjection,
};

/// Where the ServiceAccount plugin mounts a pod's API credentials.
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The token volume's name before its generated suffix.
pub const TOKEN_VOLUME_PREFIX: &str = "kube-api-access-";
/// The label NamespaceAutoLabel keeps equal to a namespace's name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The annotation a DaemonSet's template generation is kept in.
pub const DAEMONSET_TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

/// Mutations of a create, at `now`, by the write that will get `revision`.
pub fn on_create(object: &mut Object, now: Time, revision: u64) {
    storage_protection(object);
    match object {
        Object::Pod(pod) => {
            let spec = pod.spec.get_or_insert_with(Default::default);
            service_account(spec, revision);
            priority(spec);
        }
        Object::DaemonSet(ds) => {
            ds.metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(DAEMONSET_TEMPLATE_GENERATION.into(), "1".into());
        }
        Object::PersistentVolume(pv) => {
            pv.status.get_or_insert_with(Default::default).last_phase_transition_time = Some(now.to_k8s());
        }
        _ => {}
    }
}

/// Mutations of an update of the main resource (`old` is the stored object).
pub fn on_update(new: &mut Object, old: &Object) {
    match (new, old) {
        (Object::Pod(pod), Object::Pod(was)) => {
            // Priority keeps what it set on create.
            let (spec, old_spec) = (pod.spec.get_or_insert_with(Default::default), was.spec.as_ref());
            if spec.priority.is_none() {
                spec.priority = old_spec.and_then(|s| s.priority);
            }
            if spec.preemption_policy.is_none() {
                spec.preemption_policy = old_spec.and_then(|s| s.preemption_policy.clone());
            }
        }
        (Object::DaemonSet(ds), Object::DaemonSet(was)) => {
            // The template generation is the server's: it moves when the template changes.
            let generation = |d: &k8s_openapi::api::apps::v1::DaemonSet| {
                d.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(DAEMONSET_TEMPLATE_GENERATION))
                    .and_then(|g| g.parse::<i64>().ok())
            };
            let template = |d: &k8s_openapi::api::apps::v1::DaemonSet| d.spec.as_ref().map(|s| s.template.clone());
            let old = generation(was).unwrap_or(1);
            let value = if template(ds) == template(was) { old } else { old + 1 };
            ds.metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(DAEMONSET_TEMPLATE_GENERATION.into(), value.to_string());
        }
        _ => {}
    }
}

/// StorageObjectInUseProtection: claims and volumes get the finalizer that keeps them while in use.
fn storage_protection(object: &mut Object) {
    let (meta, finalizer) = match object {
        Object::PersistentVolumeClaim(c) => (&mut c.metadata, "kubernetes.io/pvc-protection"),
        Object::PersistentVolume(v) => (&mut v.metadata, "kubernetes.io/pv-protection"),
        _ => return,
    };
    let finalizers = meta.finalizers.get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|f| f == finalizer) {
        finalizers.push(finalizer.into());
    }
}

/// Priority: a pod without a priority class gets priority 0 and preempts lower priorities.
fn priority(spec: &mut PodSpec) {
    if spec.priority_class_name.as_deref().is_none_or(str::is_empty) {
        spec.priority.get_or_insert(0);
    }
    spec.preemption_policy.get_or_insert_with(|| "PreemptLowerPriority".into());
}

/// ServiceAccount: the pod runs as `default` unless it names another, and unless it opts out, every
/// container mounts a projected volume with a token, the cluster's CA bundle and the namespace. The
/// volume's name ends in five generated characters, here derived from the write's revision (upstream's are
/// random).
fn service_account(spec: &mut PodSpec, revision: u64) {
    let account = spec
        .service_account_name
        .clone()
        .or_else(|| spec.service_account.clone())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "default".into());
    spec.service_account_name = Some(account.clone());
    spec.service_account = Some(account);
    if spec.automount_service_account_token == Some(false) {
        return;
    }
    let mounted = |c: &k8s_openapi::api::core::v1::Container| {
        c.volume_mounts.iter().flatten().any(|m| m.mount_path == TOKEN_MOUNT_PATH)
    };
    if spec.containers.iter().chain(spec.init_containers.iter().flatten()).all(mounted) {
        return;
    }
    let name = format!("{TOKEN_VOLUME_PREFIX}{}", generated_suffix(revision));
    let mount = VolumeMount {
        name: name.clone(),
        mount_path: TOKEN_MOUNT_PATH.into(),
        read_only: Some(true),
        ..Default::default()
    };
    for c in spec.init_containers.iter_mut().flatten().chain(spec.containers.iter_mut()) {
        if !mounted(c) {
            c.volume_mounts.get_or_insert_with(Vec::new).push(mount.clone());
        }
    }
    spec.volumes.get_or_insert_with(Vec::new).push(Volume {
        name,
        projected: Some(ProjectedVolumeSource {
            default_mode: Some(0o644),
            sources: Some(vec![
                VolumeProjection {
                    service_account_token: Some(ServiceAccountTokenProjection {
                        expiration_seconds: Some(3607),
                        path: "token".into(),
                        audience: None,
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    config_map: Some(ConfigMapProjection {
                        name: "kube-root-ca.crt".into(),
                        items: Some(vec![KeyToPath { key: "ca.crt".into(), path: "ca.crt".into(), mode: None }]),
                        optional: None,
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    downward_api: Some(DownwardAPIProjection {
                        items: Some(vec![DownwardAPIVolumeFile {
                            path: "namespace".into(),
                            field_ref: Some(ObjectFieldSelector {
                                api_version: Some("v1".into()),
                                field_path: "metadata.namespace".into(),
                            }),
                            ..Default::default()
                        }]),
                    }),
                    ..Default::default()
                },
            ]),
        }),
        ..Default::default()
    });
}
