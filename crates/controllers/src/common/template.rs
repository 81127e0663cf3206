//! Pods from pod templates, as every workload controller makes them.

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// A pod from `template` in `namespace`, with a controller reference, named by `generate_name` or `name`.
pub fn pod_from_template(template: &PodTemplateSpec, namespace: &str, owner: OwnerReference, name: PodName<'_>) -> Pod {
    let tmeta = template.metadata.clone().unwrap_or_default();
    let (name, generate_name) = match name {
        PodName::Exact(n) => (Some(n.to_string()), None),
        PodName::Generate(prefix) => (None, Some(prefix.to_string())),
    };
    Pod {
        metadata: ObjectMeta {
            name,
            generate_name,
            namespace: Some(namespace.to_string()),
            labels: tmeta.labels,
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// How a new pod is named.
#[derive(Clone, Copy, Debug)]
pub enum PodName<'a> {
    /// Exactly this name (StatefulSet identities).
    Exact(&'a str),
    /// `metadata.generateName` with this prefix.
    Generate(&'a str),
}
