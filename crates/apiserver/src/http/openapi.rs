//! OpenAPI v3: `/openapi/v3` lists a document per group-version, each generated from k8s-openapi's schemas
//! (its `schemars` feature) with the `x-kubernetes-group-version-kind` extensions and PATCH operations that
//! carry a `fieldValidation` parameter — what `kubectl apply`, `create -f` and `explain` look for.

use crate::schema::Strategy;
use k8s_openapi::api::{
    apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch, coordination::v1 as coordination,
    core::v1 as core, policy::v1 as policy, rbac::v1 as rbac,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;
use themelios_api::Kind;

/// One group-version's document, with the hash its URL carries.
pub struct Document {
    /// `api/v1` or `apis/<group>/<version>`.
    pub path: String,
    /// The document's JSON.
    pub body: String,
    /// A hash of the body, for the `?hash=` cache key.
    pub hash: String,
}

fn schema_of(kind: Kind, generator: &mut schemars::SchemaGenerator) -> Value {
    let schema = match kind {
        Kind::Namespace => generator.subschema_for::<core::Namespace>(),
        Kind::Node => generator.subschema_for::<core::Node>(),
        Kind::Pod => generator.subschema_for::<core::Pod>(),
        Kind::Service => generator.subschema_for::<core::Service>(),
        Kind::Endpoints => generator.subschema_for::<core::Endpoints>(),
        Kind::Event => generator.subschema_for::<core::Event>(),
        Kind::ConfigMap => generator.subschema_for::<core::ConfigMap>(),
        Kind::Secret => generator.subschema_for::<core::Secret>(),
        Kind::ServiceAccount => generator.subschema_for::<core::ServiceAccount>(),
        Kind::PersistentVolumeClaim => generator.subschema_for::<core::PersistentVolumeClaim>(),
        Kind::PersistentVolume => generator.subschema_for::<core::PersistentVolume>(),
        Kind::ReplicationController => generator.subschema_for::<core::ReplicationController>(),
        Kind::Deployment => generator.subschema_for::<apps::Deployment>(),
        Kind::ReplicaSet => generator.subschema_for::<apps::ReplicaSet>(),
        Kind::StatefulSet => generator.subschema_for::<apps::StatefulSet>(),
        Kind::DaemonSet => generator.subschema_for::<apps::DaemonSet>(),
        Kind::ControllerRevision => generator.subschema_for::<apps::ControllerRevision>(),
        Kind::Job => generator.subschema_for::<batch::Job>(),
        Kind::CronJob => generator.subschema_for::<batch::CronJob>(),
        Kind::Lease => generator.subschema_for::<coordination::Lease>(),
        Kind::PodDisruptionBudget => generator.subschema_for::<policy::PodDisruptionBudget>(),
        Kind::HorizontalPodAutoscaler => generator.subschema_for::<autoscaling::HorizontalPodAutoscaler>(),
        Kind::Role => generator.subschema_for::<rbac::Role>(),
        Kind::ClusterRole => generator.subschema_for::<rbac::ClusterRole>(),
        Kind::RoleBinding => generator.subschema_for::<rbac::RoleBinding>(),
        Kind::ClusterRoleBinding => generator.subschema_for::<rbac::ClusterRoleBinding>(),
    };
    schema.to_value()
}

fn parameter(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

fn operations(kind: Kind, reference: &str) -> Value {
    let gvk = json!({"group": kind.group(), "version": kind.version(), "kind": kind.name()});
    let body = json!({"content": {"application/json": {"schema": {"$ref": reference}}}});
    let ok = json!({"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": reference}}}}});
    let write_parameters = json!([
        parameter("dryRun", "When present, modifications are not persisted."),
        parameter("fieldManager", "The name of the actor making the change."),
        parameter("fieldValidation", "How to treat unknown or duplicate fields: Ignore, Warn or Strict."),
    ]);
    let mut patch_parameters = write_parameters.clone();
    if let Value::Array(p) = &mut patch_parameters {
        p.push(parameter("force", "Force an apply request past conflicts."));
    }
    json!({
        "get": {"operationId": format!("read{}", kind.name()), "x-kubernetes-action": "get",
            "x-kubernetes-group-version-kind": gvk, "responses": ok},
        "put": {"operationId": format!("replace{}", kind.name()), "x-kubernetes-action": "put",
            "x-kubernetes-group-version-kind": gvk, "parameters": write_parameters, "requestBody": body, "responses": ok},
        "patch": {"operationId": format!("patch{}", kind.name()), "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk, "parameters": patch_parameters,
            "requestBody": {"content": {
                "application/json-patch+json": {"schema": {"type": "object"}},
                "application/merge-patch+json": {"schema": {"type": "object"}},
                "application/strategic-merge-patch+json": {"schema": {"type": "object"}},
                "application/apply-patch+yaml": {"schema": {"type": "object"}}}},
            "responses": ok},
        "delete": {"operationId": format!("delete{}", kind.name()), "x-kubernetes-action": "delete",
            "x-kubernetes-group-version-kind": gvk, "responses": {"200": {"description": "OK"}}},
    })
}

/// Adds upstream's patch and list extensions to a definition's properties from the schema table, so that
/// kubectl computes strategic merge patches with merge keys (and `$patch: delete`) instead of replacing lists.
fn add_merge_extensions(name: &str, schema: &mut Value) {
    let Some(definition) = crate::schema::schema().definition(name) else { return };
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else { return };
    for (field_name, property) in properties.iter_mut() {
        let Some(field) = definition.fields.get(field_name) else { continue };
        let Some(property) = property.as_object_mut() else { continue };
        match &field.strategy {
            Some(Strategy::Map(keys)) if !keys.is_empty() => {
                property.insert("x-kubernetes-patch-strategy".into(), "merge".into());
                property.insert("x-kubernetes-patch-merge-key".into(), keys[0].clone().into());
                property.insert("x-kubernetes-list-type".into(), "map".into());
                property.insert("x-kubernetes-list-map-keys".into(), json!(keys));
            }
            Some(Strategy::Set) => {
                property.insert("x-kubernetes-patch-strategy".into(), "merge".into());
                property.insert("x-kubernetes-list-type".into(), "set".into());
            }
            Some(Strategy::Atomic) if field.list => {
                property.insert("x-kubernetes-list-type".into(), "atomic".into());
            }
            Some(Strategy::Atomic) if field.map => {
                property.insert("x-kubernetes-map-type".into(), "atomic".into());
            }
            _ => {}
        }
    }
}

fn document(group: &str, version: &str) -> Value {
    let mut generator = schemars::generate::SchemaSettings::openapi3().into_generator();
    let mut paths = Map::new();
    let kinds: Vec<Kind> = Kind::ALL.iter().copied().filter(|k| k.group() == group && k.version() == version).collect();
    let mut kind_definitions = BTreeMap::new();
    for kind in &kinds {
        let reference = schema_of(*kind, &mut generator);
        let reference = reference.get("$ref").and_then(Value::as_str).unwrap_or_default().to_string();
        let definition = reference.rsplit('/').next().unwrap_or_default().to_string();
        let object_path = themelios_api::rest::object_path_template(*kind);
        paths.insert(object_path, operations(*kind, &reference));
        kind_definitions.insert(definition, *kind);
    }
    let mut schemas = generator.take_definitions(true);
    for (name, schema) in schemas.iter_mut() {
        add_merge_extensions(name, schema);
    }
    for (definition, kind) in kind_definitions {
        if let Some(Value::Object(schema)) = schemas.get_mut(&definition) {
            schema.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": kind.group(), "version": kind.version(), "kind": kind.name()}]),
            );
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v{}.{}.0", super::KUBERNETES_MAJOR, super::KUBERNETES_MINOR)},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

/// Every group-version's document, generated once.
pub fn documents() -> &'static [Document] {
    static DOCUMENTS: OnceLock<Vec<Document>> = OnceLock::new();
    DOCUMENTS.get_or_init(|| {
        let mut group_versions: Vec<(&str, &str)> = Vec::new();
        for kind in Kind::ALL {
            if !group_versions.contains(&(kind.group(), kind.version())) {
                group_versions.push((kind.group(), kind.version()));
            }
        }
        group_versions
            .into_iter()
            .map(|(group, version)| {
                let body = document(group, version).to_string();
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                body.hash(&mut hasher);
                Document {
                    path: themelios_api::rest::group_version_path(group, version)[1..].to_string(),
                    body,
                    hash: format!("{:016X}", hasher.finish()),
                }
            })
            .collect()
    })
}

/// The `/openapi/v3` root: where each group-version's document is.
pub fn root() -> Value {
    let paths: Map<String, Value> = documents()
        .iter()
        .map(|d| (d.path.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{}?hash={}", d.path, d.hash)})))
        .collect();
    json!({"paths": paths})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_v1_has_deployment_with_its_gvk_and_a_patch_with_field_validation() {
        let apps = documents().iter().find(|d| d.path == "apis/apps/v1").unwrap();
        let doc: Value = serde_json::from_str(&apps.body).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let (_, deployment) = schemas
            .iter()
            .find(|(_, s)| s["x-kubernetes-group-version-kind"][0]["kind"] == "Deployment")
            .expect("a schema tagged Deployment");
        assert!(deployment["properties"]["spec"].is_object());
        let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(patch["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation"));
        let container = &doc["components"]["schemas"]["io.k8s.api.core.v1.Container"];
        assert_eq!(container["properties"]["env"]["x-kubernetes-patch-merge-key"], "name");
        assert!(root()["paths"]["api/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .starts_with("/openapi/v3/api/v1?hash="));
    }
}
