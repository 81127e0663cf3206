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
    /// The object the operation is about.
    pub fn target(&self) -> &Target {
        match self {
            UserSpec::Delete(t) | UserSpec::Pause(t) | UserSpec::Resume(t) | UserSpec::Suspend(t) => t,
            UserSpec::Scale { target, .. } | UserSpec::SetImage { target, .. } | UserSpec::PodExits { target, .. } => {
                target
            }
        }
    }
}

/// The operation, for a target of `kind`.
pub fn user_op(kind: Kind, spec: &UserSpec) -> UserOp {
    let t = spec.target().clone();
    let namespace = if kind.namespaced() { t.namespace.clone() } else { String::new() };
    let target = ObjectRef::new(kind, namespace.clone(), t.name.clone());
    let shown = if namespace.is_empty() { t.name.clone() } else { format!("{namespace}/{}", t.name) };
    let edit = |name: String, change: fn(&mut Object) -> Option<()>| {
        let target = target.clone();
        UserOp {
            name,
            request: Box::new(move |store| {
                let mut object = store.get(target.kind, &target.name)?.object().clone();
                change(&mut object)?;
                Some(Op::Update(object))
            }),
        }
    };
    match spec.clone() {
        UserSpec::Delete(_) => UserOp {
            name: format!("delete {} {shown}", kind.name()),
            request: Box::new(move |store| {
                store.get(kind, &target.name)?;
                Some(Op::delete(target.clone()))
            }),
        },
        UserSpec::Scale { replicas, .. } => UserOp {
            name: format!("scale {} {shown} to {replicas}", kind.name()),
            request: Box::new(move |store| {
                store.get(kind, &target.name)?;
                Some(Op::Scale { target: target.clone(), replicas, resource_version: None })
            }),
        },
        UserSpec::SetImage { image, .. } => UserOp {
            name: format!("set image of {} {shown} to {image}", kind.name()),
            request: Box::new(move |store| {
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
        UserSpec::PodExits { exit_code, .. } => UserOp {
            name: format!("a pod of {} {shown} exits {exit_code}", kind.name()),
            request: Box::new(move |store| {
                let pods = store.list(Kind::Pod, Some(&target.name.namespace));
                let pod = pods.iter().filter_map(|p| p.typed::<k8s_openapi::api::core::v1::Pod>()).find(|p| {
                    themelios_api::pod::is_active(p)
                        && p.metadata
                            .owner_references
                            .iter()
                            .flatten()
                            .any(|r| r.kind == kind.name() && r.name == target.name.name)
                })?;
                let mut finished = pod.clone();
                fixtures::finish(&mut finished, exit_code, Time::EPOCH);
                Some(Op::UpdateStatus(themelios_api::Resource::into_object(finished)))
            }),
        },
    }
}

fn set_paused(object: &mut Object, paused: bool) -> Option<()> {
    match object {
        Object::Deployment(d) => d.spec.as_mut()?.paused = Some(paused),
        _ => return None,
    }
    Some(())
}
