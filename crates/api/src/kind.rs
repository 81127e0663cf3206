//! The kinds of object Themelios stores, and [`Object`], the one enum that holds any of them.
//!
//! Controllers and the API semantics work on the real `k8s-openapi` structs; the enum lets one store, one
//! `Op` type and one `apply()` serve every kind without serialising objects in the model checker's hot loop.

use k8s_openapi::api::{
    apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch, coordination::v1 as coordination,
    core::v1 as core, policy::v1 as policy, rbac::v1 as rbac,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// How a kind treats its spec and status, which decides the generation and status-subresource rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Has `spec` and `status`; `status` is written only through the status subresource.
    SpecAndStatus,
    /// Has a `spec` (or no spec at all) and no status subresource.
    NoStatus,
}

macro_rules! kinds {
    ($( $variant:ident => $ty:ty, shape: $shape:ident, generation: $generation:expr, namespaced: $namespaced:expr, short: [$($short:expr),*]; )*) => {
        /// A kind of object, e.g. `Kind::Pod`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Kind { $(#[doc = concat!("`", stringify!($variant), "`")] $variant),* }

        /// Any stored object: the real `k8s-openapi` struct of its kind.
        #[derive(Clone, Debug, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum Object { $(#[doc = concat!("A `", stringify!($variant), "`.")] $variant(Box<$ty>)),* }

        impl Kind {
            /// Every kind, in a fixed order (the index of a kind in this list is [`Kind::index`]).
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// The kind's name as in `kind:` (e.g. `ReplicaSet`).
            pub fn name(self) -> &'static str {
                match self { $(Kind::$variant => <$ty as k8s_openapi::Resource>::KIND),* }
            }
            /// The API group (`""` for the core group).
            pub fn group(self) -> &'static str {
                match self { $(Kind::$variant => <$ty as k8s_openapi::Resource>::GROUP),* }
            }
            /// The API version within its group (e.g. `v1`).
            pub fn version(self) -> &'static str {
                match self { $(Kind::$variant => <$ty as k8s_openapi::Resource>::VERSION),* }
            }
            /// `apiVersion` as written in manifests (e.g. `apps/v1`).
            pub fn api_version(self) -> &'static str {
                match self { $(Kind::$variant => <$ty as k8s_openapi::Resource>::API_VERSION),* }
            }
            /// The lower-case plural used in URLs (e.g. `replicasets`).
            pub fn plural(self) -> &'static str {
                match self { $(Kind::$variant => <$ty as k8s_openapi::Resource>::URL_PATH_SEGMENT),* }
            }
            /// Whether objects of this kind live in a namespace.
            pub fn namespaced(self) -> bool {
                match self { $(Kind::$variant => $namespaced),* }
            }
            /// Whether `metadata.generation` is maintained (set to 1 on create, bumped on spec changes).
            pub fn tracks_generation(self) -> bool {
                match self { $(Kind::$variant => $generation),* }
            }
            /// Whether the kind has a status subresource.
            pub fn has_status(self) -> bool {
                match self { $(Kind::$variant => Shape::$shape == Shape::SpecAndStatus),* }
            }
            /// kubectl's short names (e.g. `rs`).
            pub fn short_names(self) -> &'static [&'static str] {
                match self { $(Kind::$variant => &[$($short),*]),* }
            }
            /// The position of this kind in [`Kind::ALL`].
            pub fn index(self) -> usize { self as usize }
        }

        impl Object {
            /// The kind of this object.
            pub fn kind(&self) -> Kind {
                match self { $(Object::$variant(_) => Kind::$variant),* }
            }
            /// The object's metadata.
            pub fn meta(&self) -> &ObjectMeta {
                match self { $(Object::$variant(o) => &o.metadata),* }
            }
            /// The object's metadata, mutably.
            pub fn meta_mut(&mut self) -> &mut ObjectMeta {
                match self { $(Object::$variant(o) => &mut o.metadata),* }
            }
            /// Decodes a JSON value of the given kind.
            pub fn from_json(kind: Kind, value: serde_json::Value) -> Result<Object, serde_json::Error> {
                Ok(match kind { $(Kind::$variant => Object::$variant(Box::new(serde_json::from_value(value)?))),* })
            }
            /// Decodes YAML text of the given kind (errors carry the path and line of the bad field).
            pub fn from_yaml(kind: Kind, text: &str) -> Result<Object, serde_yaml_ng::Error> {
                Ok(match kind { $(Kind::$variant => Object::$variant(Box::new(serde_yaml_ng::from_str(text)?))),* })
            }
            /// Whether everything except metadata and status is equal: a difference bumps the generation.
            pub fn spec_eq(&self, other: &Object) -> bool {
                match (self, other) {
                    $((Object::$variant(a), Object::$variant(b)) => shape_ops::$shape::spec_eq(&**a, &**b),)*
                    _ => false,
                }
            }
            /// Whether the statuses are equal (always true for kinds without status).
            pub fn status_eq(&self, other: &Object) -> bool {
                match (self, other) {
                    $((Object::$variant(a), Object::$variant(b)) => shape_ops::$shape::status_eq(&**a, &**b),)*
                    _ => false,
                }
            }
            /// Replaces this object's status with `other`'s (a no-op for kinds without status).
            pub fn copy_status_from(&mut self, other: &Object) {
                match (self, other) {
                    $((Object::$variant(a), Object::$variant(b)) => shape_ops::$shape::copy_status(&mut **a, &**b),)*
                    _ => {}
                }
            }
            /// Replaces everything but metadata and status with `other`'s.
            pub fn copy_spec_from(&mut self, other: &Object) {
                match (self, other) {
                    $((Object::$variant(a), Object::$variant(b)) => shape_ops::$shape::copy_spec(&mut **a, &**b),)*
                    _ => {}
                }
            }
        }

        $(
            impl Resource for $ty {
                const KIND: Kind = Kind::$variant;
                fn from_object(object: &Object) -> Option<&Self> {
                    match object { Object::$variant(o) => Some(&**o), #[allow(unreachable_patterns)] _ => None }
                }
                fn into_object(self) -> Object { Object::$variant(Box::new(self)) }
            }
        )*
    };
}

/// A `k8s-openapi` type that Themelios stores, tied to its [`Kind`].
pub trait Resource: Clone + Sized + 'static {
    /// The kind of this type.
    const KIND: Kind;
    /// Borrows the typed object out of an [`Object`] of this kind.
    fn from_object(object: &Object) -> Option<&Self>;
    /// Wraps the typed object.
    fn into_object(self) -> Object;
}

/// Spec and status access per [`Shape`]; the generic code sees only these four operations.
mod shape_ops {
    /// Kinds with a status subresource: `spec` is everything but metadata and status.
    #[allow(non_snake_case)]
    pub mod SpecAndStatus {
        use super::super::HasSpecStatus;
        pub fn spec_eq<T: HasSpecStatus>(a: &T, b: &T) -> bool {
            a.spec_part() == b.spec_part()
        }
        pub fn status_eq<T: HasSpecStatus>(a: &T, b: &T) -> bool {
            a.status_part() == b.status_part()
        }
        pub fn copy_status<T: HasSpecStatus>(a: &mut T, b: &T) {
            a.set_status_part(b.status_part().clone());
        }
        pub fn copy_spec<T: HasSpecStatus>(a: &mut T, b: &T) {
            let metadata = a.meta_part().clone();
            let status = a.status_part().clone();
            *a = b.clone();
            *a.meta_part_mut() = metadata;
            a.set_status_part(status);
        }
    }
    /// Kinds without status: everything but metadata is the spec.
    #[allow(non_snake_case)]
    pub mod NoStatus {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
        use k8s_openapi::Metadata;
        fn without_meta<T: Metadata<Ty = ObjectMeta> + Clone>(a: &T) -> T {
            let mut copy = a.clone();
            *copy.metadata_mut() = ObjectMeta::default();
            copy
        }
        pub fn spec_eq<T: Metadata<Ty = ObjectMeta> + Clone + PartialEq>(a: &T, b: &T) -> bool {
            without_meta(a) == without_meta(b)
        }
        pub fn status_eq<T>(_: &T, _: &T) -> bool {
            true
        }
        pub fn copy_status<T>(_: &mut T, _: &T) {}
        pub fn copy_spec<T: Metadata<Ty = ObjectMeta> + Clone>(a: &mut T, b: &T) {
            let metadata = a.metadata().clone();
            *a = b.clone();
            *a.metadata_mut() = metadata;
        }
    }
}

/// A kind with a `spec` and a `status` field.
pub trait HasSpecStatus: Clone {
    /// The spec type.
    type Spec: PartialEq + Clone;
    /// The status type.
    type Status: PartialEq + Clone;
    /// The spec.
    fn spec_part(&self) -> &Option<Self::Spec>;
    /// The status.
    fn status_part(&self) -> &Option<Self::Status>;
    /// Sets the status.
    fn set_status_part(&mut self, status: Option<Self::Status>);
    /// The metadata.
    fn meta_part(&self) -> &ObjectMeta;
    /// The metadata, mutably.
    fn meta_part_mut(&mut self) -> &mut ObjectMeta;
}

macro_rules! spec_status {
    ($($ty:ty => $spec:ty, $status:ty;)*) => {$(
        impl HasSpecStatus for $ty {
            type Spec = $spec;
            type Status = $status;
            fn spec_part(&self) -> &Option<$spec> { &self.spec }
            fn status_part(&self) -> &Option<$status> { &self.status }
            fn set_status_part(&mut self, status: Option<$status>) { self.status = status; }
            fn meta_part(&self) -> &ObjectMeta { &self.metadata }
            fn meta_part_mut(&mut self) -> &mut ObjectMeta { &mut self.metadata }
        }
    )*};
}

spec_status! {
    core::Namespace => core::NamespaceSpec, core::NamespaceStatus;
    core::Node => core::NodeSpec, core::NodeStatus;
    core::Pod => core::PodSpec, core::PodStatus;
    core::Service => core::ServiceSpec, core::ServiceStatus;
    core::PersistentVolumeClaim => core::PersistentVolumeClaimSpec, core::PersistentVolumeClaimStatus;
    core::PersistentVolume => core::PersistentVolumeSpec, core::PersistentVolumeStatus;
    core::ReplicationController => core::ReplicationControllerSpec, core::ReplicationControllerStatus;
    apps::Deployment => apps::DeploymentSpec, apps::DeploymentStatus;
    apps::ReplicaSet => apps::ReplicaSetSpec, apps::ReplicaSetStatus;
    apps::StatefulSet => apps::StatefulSetSpec, apps::StatefulSetStatus;
    apps::DaemonSet => apps::DaemonSetSpec, apps::DaemonSetStatus;
    batch::Job => batch::JobSpec, batch::JobStatus;
    batch::CronJob => batch::CronJobSpec, batch::CronJobStatus;
    policy::PodDisruptionBudget => policy::PodDisruptionBudgetSpec, policy::PodDisruptionBudgetStatus;
    autoscaling::HorizontalPodAutoscaler => autoscaling::HorizontalPodAutoscalerSpec, autoscaling::HorizontalPodAutoscalerStatus;
}

kinds! {
    Namespace => core::Namespace, shape: SpecAndStatus, generation: false, namespaced: false, short: ["ns"];
    Node => core::Node, shape: SpecAndStatus, generation: false, namespaced: false, short: ["no"];
    Pod => core::Pod, shape: SpecAndStatus, generation: true, namespaced: true, short: ["po"];
    Service => core::Service, shape: SpecAndStatus, generation: false, namespaced: true, short: ["svc"];
    Endpoints => core::Endpoints, shape: NoStatus, generation: false, namespaced: true, short: ["ep"];
    Event => core::Event, shape: NoStatus, generation: false, namespaced: true, short: ["ev"];
    ConfigMap => core::ConfigMap, shape: NoStatus, generation: false, namespaced: true, short: ["cm"];
    Secret => core::Secret, shape: NoStatus, generation: false, namespaced: true, short: [];
    ServiceAccount => core::ServiceAccount, shape: NoStatus, generation: false, namespaced: true, short: ["sa"];
    PersistentVolumeClaim => core::PersistentVolumeClaim, shape: SpecAndStatus, generation: false, namespaced: true, short: ["pvc"];
    PersistentVolume => core::PersistentVolume, shape: SpecAndStatus, generation: false, namespaced: false, short: ["pv"];
    ReplicationController => core::ReplicationController, shape: SpecAndStatus, generation: true, namespaced: true, short: ["rc"];
    Deployment => apps::Deployment, shape: SpecAndStatus, generation: true, namespaced: true, short: ["deploy"];
    ReplicaSet => apps::ReplicaSet, shape: SpecAndStatus, generation: true, namespaced: true, short: ["rs"];
    StatefulSet => apps::StatefulSet, shape: SpecAndStatus, generation: true, namespaced: true, short: ["sts"];
    DaemonSet => apps::DaemonSet, shape: SpecAndStatus, generation: true, namespaced: true, short: ["ds"];
    ControllerRevision => apps::ControllerRevision, shape: NoStatus, generation: false, namespaced: true, short: [];
    Job => batch::Job, shape: SpecAndStatus, generation: true, namespaced: true, short: [];
    CronJob => batch::CronJob, shape: SpecAndStatus, generation: true, namespaced: true, short: ["cj"];
    Lease => coordination::Lease, shape: NoStatus, generation: false, namespaced: true, short: [];
    PodDisruptionBudget => policy::PodDisruptionBudget, shape: SpecAndStatus, generation: true, namespaced: true, short: ["pdb"];
    HorizontalPodAutoscaler => autoscaling::HorizontalPodAutoscaler, shape: SpecAndStatus, generation: false, namespaced: true, short: ["hpa"];
    Role => rbac::Role, shape: NoStatus, generation: false, namespaced: true, short: [];
    ClusterRole => rbac::ClusterRole, shape: NoStatus, generation: false, namespaced: false, short: [];
    RoleBinding => rbac::RoleBinding, shape: NoStatus, generation: false, namespaced: true, short: [];
    ClusterRoleBinding => rbac::ClusterRoleBinding, shape: NoStatus, generation: false, namespaced: false, short: [];
}

/// The number of kinds, for per-kind arrays.
pub const KIND_COUNT: usize = Kind::ALL.len();

impl Kind {
    /// `plural.group` as upstream error messages name a resource (`replicasets.apps`, `pods`).
    pub fn qualified_resource(self) -> String {
        if self.group().is_empty() {
            self.plural().to_string()
        } else {
            format!("{}.{}", self.plural(), self.group())
        }
    }

    /// `Kind.group` as upstream validation messages name a kind (`ReplicaSet.apps`, `Pod`).
    pub fn qualified_kind(self) -> String {
        if self.group().is_empty() {
            self.name().to_string()
        } else {
            format!("{}.{}", self.name(), self.group())
        }
    }

    /// The kind a manifest's `apiVersion` and `kind` name, e.g. (`apps/v1`, `Deployment`).
    ///
    /// ```
    /// use themelios_api::Kind;
    /// assert_eq!(Kind::from_type("apps/v1", "Deployment"), Some(Kind::Deployment));
    /// assert_eq!(Kind::from_type("v1", "Deployment"), None);
    /// ```
    pub fn from_type(api_version: &str, kind: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.name() == kind && k.api_version() == api_version)
    }

    /// Finds a kind by its kind name, plural, singular or short name (case-insensitive), as kubectl does.
    pub fn lookup(name: &str) -> Option<Kind> {
        let lower = name.to_ascii_lowercase();
        Kind::ALL.iter().copied().find(|kind| {
            kind.name().eq_ignore_ascii_case(&lower)
                || kind.plural() == lower
                || kind.short_names().contains(&lower.as_str())
        })
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
