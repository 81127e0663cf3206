//! The environment's operations a scenario file may list: what a user (or the world) may do at any point,
//! each at most once, while it still applies.

use crate::model::UserOp;
use serde::Deserialize;
use themelios_api::{Kind, Object, ObjectRef, Op, StateRead, Time};
use themelios_controllers::fixtures;

/// The object an operation is about.
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Its kind, e.g. `Deployment`.
    pub kind: String,
    /// Its namespace (`default` unless given).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Its name.
    pub name: String,
}

fn default_namespace() -> String {
    "default".into()
}

/// One operation of a scenario file's `user` list.
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum UserSpec {
    /// Delete an object.
    Delete(Target),
    /// Scale a ReplicaSet, Deployment or StatefulSet.
    Scale {
        /// The workload.
        #[serde(flatten)]
        target: Target,
        /// The new replica count.
        replicas: i32,
    },
    /// Set the first container's image of a workload's pod template.
    SetImage {
        /// The workload.
        #[serde(flatten)]
        target: Target,
        /// The new image.
        image: String,
    },
    /// Pause a Deployment's rollout.
    Pause(Target),
    /// Resume a paused Deployment.
    Resume(Target),
    /// Suspend a Job or CronJob.
    Suspend(Target),
    /// A running pod the object owns stops being ready (`ready: false`) or becomes ready again.
    PodReady {
        /// The owner (a StatefulSet, ReplicaSet, …).
        #[serde(flatten)]
        target: Target,
        /// Ready or not.
        ready: bool,
    },
    /// Create an object mid-run: any manifest the scenario's `objects` could hold.
    Create(serde_json::Value),
    /// A running pod the object owns exits with a code (0 succeeds, anything else fails).
    PodExits {
        /// The owner (a Job, ReplicaSet, …).
        #[serde(flatten)]
        target: Target,
        /// The container's exit code.
        #[serde(rename = "exitCode")]
        exit_code: i32,
    },
}

impl UserSpec {
    /// The object the operation is about (none for a create, whose manifest names it).
    pub fn target(&self) -> Option<&Target> {
        match self {
            UserSpec::Delete(t) | UserSpec::Pause(t) | UserSpec::Resume(t) | UserSpec::Suspend(t) => Some(t),
            UserSpec::Scale { target, .. }
            | UserSpec::SetImage { target, .. }
            | UserSpec::PodExits { target, .. }
            | UserSpec::PodReady { target, .. } => Some(target),
            UserSpec::Create(_) => None,
        }
    }
}

/// The create of `object` mid-run: enabled while no object of its name exists (always, for a generated
/// name).
pub fn create_op(object: Object) -> UserOp {
    let meta = object.meta();
    let named = meta.name.clone().filter(|n| !n.is_empty());
    let namespace = meta.namespace.clone().unwrap_or_default();
    let shown = match &named {
        Some(name) if namespace.is_empty() => name.clone(),
        Some(name) => format!("{namespace}/{name}"),
        None => format!("{namespace}/{}*", meta.generate_name.clone().unwrap_or_default()),
    };
    let kind = object.kind();
    UserOp {
        name: format!("create {} {shown}", kind.name()),
        request: Box::new(move |store, _now| {
            if let Some(name) = &named {
                if store.get(kind, &themelios_api::ObjectName::new(namespace.as_str(), name.clone())).is_some() {
                    return None;
                }
            }
            Some(Op::Create(object.clone()))
        }),
    }
}

/// The operation, for a target of `kind` (a create is made by [`create_op`]).
pub fn user_op(kind: Kind, spec: &UserSpec) -> UserOp {
    let Some(t) = spec.target().cloned() else { unreachable!("a create is made from its manifest, by create_op") };
    let namespace = if kind.namespaced() { t.namespace.clone() } else { String::new() };
    let target = ObjectRef::new(kind, namespace.clone(), t.name.clone());
    let shown = if namespace.is_empty() { t.name.clone() } else { format!("{namespace}/{}", t.name) };
    let edit = |name: String, change: fn(&mut Object) -> Option<()>| {
        let target = target.clone();
        UserOp {
            name,
            request: Box::new(move |store, _now| {
                let mut object = store.get(target.kind, &target.name)?.object().clone();
                change(&mut object)?;
                Some(Op::Update(object))
            }),
        }
    };
    match spec.clone() {
        UserSpec::Delete(_) => UserOp {
            name: format!("delete {} {shown}", kind.name()),
            request: Box::new(move |store, _now| {
                store.get(kind, &target.name)?;
                Some(Op::delete(target.clone()))
            }),
        },
        UserSpec::Scale { replicas, .. } => UserOp {
            name: format!("scale {} {shown} to {replicas}", kind.name()),
            request: Box::new(move |store, _now| {
                store.get(kind, &target.name)?;
                Some(Op::Scale { target: target.clone(), replicas, resource_version: None })
            }),
        },
        UserSpec::SetImage { image, .. } => UserOp {
            name: format!("set image of {} {shown} to {image}", kind.name()),
            request: Box::new(move |store, _now| {
                let mut object = store.get(kind, &target.name)?.object().clone();
                let template = match &mut object {
                    Object::Deployment(d) => &mut d.spec.as_mut()?.template,
                    Object::StatefulSet(s) => &mut s.spec.as_mut()?.template,
                    Object::DaemonSet(d) => &mut d.spec.as_mut()?.template,
                    Object::ReplicaSet(r) => r.spec.as_mut()?.template.as_mut()?,
                    _ => return None,
                };
                template.spec.as_mut()?.containers.first_mut()?.image = Some(image.clone());
                Some(Op::Update(object))
            }),
        },
        UserSpec::Pause(_) => edit(format!("pause {} {shown}", kind.name()), |o| set_paused(o, true)),
        UserSpec::Resume(_) => edit(format!("resume {} {shown}", kind.name()), |o| set_paused(o, false)),
        UserSpec::Suspend(_) => edit(format!("suspend {} {shown}", kind.name()), |o| {
            match o {
                Object::Job(j) => j.spec.as_mut()?.suspend = Some(true),
                Object::CronJob(c) => c.spec.as_mut()?.suspend = Some(true),
                _ => return None,
            }
            Some(())
        }),
        UserSpec::Create(_) => unreachable!("a create is made from its manifest, by create_op"),
        UserSpec::PodReady { ready, .. } => UserOp {
            name: format!(
                "a running pod of {} {shown} becomes {}",
                kind.name(),
                if ready { "ready" } else { "unready" }
            ),
            request: Box::new(move |store, now| {
                let mut changed = pod_owned_by(store, &target, |p| {
                    themelios_api::pod::phase(p) == "Running"
                        && themelios_api::pod::is_ready(p) != ready
                        && !themelios_api::pod::is_deleting(p)
                })?;
                fixtures::set_ready(&mut changed, ready, now);
                Some(Op::UpdateStatus(themelios_api::Resource::into_object(changed)))
            }),
        },
        UserSpec::PodExits { exit_code, .. } => UserOp {
            name: format!("a pod of {} {shown} exits {exit_code}", kind.name()),
            request: Box::new(move |store, _now| {
                let mut finished = pod_owned_by(store, &target, themelios_api::pod::is_active)?;
                fixtures::finish(&mut finished, exit_code, Time::EPOCH);
                Some(Op::UpdateStatus(themelios_api::Resource::into_object(finished)))
            }),
        },
    }
}

/// The first pod `owner` owns (by kind and name) that `pick` accepts.
fn pod_owned_by(
    store: &themelios_api::ApiState,
    owner: &ObjectRef,
    pick: impl Fn(&k8s_openapi::api::core::v1::Pod) -> bool,
) -> Option<k8s_openapi::api::core::v1::Pod> {
    let pods = store.list(Kind::Pod, Some(&owner.name.namespace));
    pods.iter()
        .filter_map(|p| p.typed::<k8s_openapi::api::core::v1::Pod>())
        .find(|p| {
            pick(p)
                && p.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|r| r.kind == owner.kind.name() && r.name == owner.name.name)
        })
        .cloned()
}

fn set_paused(object: &mut Object, paused: bool) -> Option<()> {
    match object {
        Object::Deployment(d) => d.spec.as_mut()?.paused = Some(paused),
        _ => return None,
    }
    Some(())
}
