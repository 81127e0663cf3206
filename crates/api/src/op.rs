//! [`Op`]: one API request, as a controller issues it and as the API server receives it.

use crate::kind::{Kind, Object};
use crate::store::{ObjectName, ObjectRef};
use serde::Serialize;

/// How dependents are treated when their owner is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Propagation {
    /// Delete the owner now; the garbage collector deletes dependents afterwards.
    Background,
    /// Keep the owner (with the `foregroundDeletion` finalizer) until its blocking dependents are gone.
    Foreground,
    /// Remove the owner's references from dependents (the `orphan` finalizer), then delete the owner.
    Orphan,
}

impl Propagation {
    /// The `propagationPolicy` field's spelling.
    ///
    /// ```
    /// use themelios_api::Propagation;
    /// for p in [Propagation::Background, Propagation::Foreground, Propagation::Orphan] {
    ///     assert_eq!(Propagation::parse(p.as_str()), Some(p));
    /// }
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Background => "Background",
            Self::Foreground => "Foreground",
            Self::Orphan => "Orphan",
        }
    }

    /// Parses the `propagationPolicy` field.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Background, Self::Foreground, Self::Orphan].into_iter().find(|p| p.as_str() == s)
    }
}

/// `DeleteOptions`: preconditions, propagation and grace period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct DeleteOptions {
    /// Delete only if the object still has this uid.
    pub uid: Option<String>,
    /// Delete only if the object is still at this resourceVersion.
    pub resource_version: Option<String>,
    /// The propagation policy; `None` is the kind's default (Background for every kind stored here).
    pub propagation: Option<Propagation>,
    /// Seconds of grace for pods; 0 deletes at once. `None` uses the pod's terminationGracePeriodSeconds.
    pub grace_period_seconds: Option<i64>,
}

/// One API request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Op {
    /// GET: a live read of one object (a quorum read, not a cache), e.g. to confirm an owner is gone.
    Get(ObjectRef),
    /// POST: create the object (`metadata.generateName` is honoured when `name` is empty).
    Create(Object),
    /// PUT: replace the object; `metadata.resourceVersion`, when set, must be the current one.
    Update(Object),
    /// PUT on the status subresource: only the status changes.
    UpdateStatus(Object),
    /// PUT on a Namespace's finalize subresource: the only way to change its `spec.finalizers` (the main
    /// resource keeps them as they are).
    Finalize(Object),
    /// DELETE.
    Delete {
        /// What to delete.
        target: ObjectRef,
        /// Preconditions, propagation, grace period.
        options: DeleteOptions,
    },
    /// POST pods/binding: sets `spec.nodeName` of an unbound pod.
    Bind {
        /// The pod.
        pod: ObjectName,
        /// The pod's uid, if the binder wants to be sure it binds the pod it saw.
        uid: Option<String>,
        /// The node.
        node: String,
    },
    /// PUT on the scale subresource of a ReplicaSet, Deployment or StatefulSet: sets `spec.replicas`.
    Scale {
        /// The scaled object.
        target: ObjectRef,
        /// The new replica count.
        replicas: i32,
        /// When set, the object's current resourceVersion must be this.
        resource_version: Option<String>,
    },
    /// POST pods/eviction: a delete that honours PodDisruptionBudgets.
    Evict {
        /// The pod.
        pod: ObjectName,
        /// Options for the resulting delete.
        options: DeleteOptions,
    },
}

impl Op {
    /// The object the request addresses.
    pub fn target(&self) -> ObjectRef {
        match self {
            Op::Create(o) | Op::Update(o) | Op::UpdateStatus(o) | Op::Finalize(o) => ObjectRef::of(o),
            Op::Delete { target, .. } | Op::Scale { target, .. } | Op::Get(target) => target.clone(),
            Op::Bind { pod, .. } | Op::Evict { pod, .. } => ObjectRef { kind: Kind::Pod, name: pod.clone() },
        }
    }

    /// The HTTP verb and subresource, for logs (e.g. `update status`).
    pub fn verb(&self) -> &'static str {
        match self {
            Op::Get(_) => "get",
            Op::Create(_) => "create",
            Op::Update(_) => "update",
            Op::UpdateStatus(_) => "update status",
            Op::Finalize(_) => "finalize",
            Op::Delete { .. } => "delete",
            Op::Bind { .. } => "bind",
            Op::Evict { .. } => "evict",
            Op::Scale { .. } => "scale",
        }
    }

    /// A delete of `target` with default options.
    pub fn delete(target: ObjectRef) -> Op {
        Op::Delete { target, options: DeleteOptions::default() }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = self.target();
        match self {
            Op::Create(o) if o.meta().name.as_deref().unwrap_or("").is_empty() => write!(
                f,
                "create {} {}/{}*",
                target.kind,
                target.name.namespace,
                o.meta().generate_name.as_deref().unwrap_or("")
            ),
            Op::Bind { node, .. } => write!(f, "bind {} to node {node}", target.name),
            Op::Scale { replicas, .. } => write!(f, "scale {target} to {replicas}"),
            Op::Delete { options, .. } if *options != DeleteOptions::default() => {
                let mut parts = Vec::new();
                if let Some(p) = options.propagation {
                    parts.push(format!("{p:?}"));
                }
                if let Some(g) = options.grace_period_seconds {
                    parts.push(format!("grace {g}s"));
                }
                if let Some(uid) = &options.uid {
                    parts.push(format!("if uid {uid}"));
                }
                if let Some(rv) = &options.resource_version {
                    parts.push(format!("if rv {rv}"));
                }
                write!(f, "delete {target} ({})", parts.join(", "))
            }
            _ => write!(f, "{} {}", self.verb(), target),
        }
    }
}
