//! What the real API server's Go types do to an object between a request and storage, so that every
//! write stores what kube-apiserver would store.
//!
//! kube-apiserver decodes a request into Go structs and encodes the stored object back to JSON, and Go's
//! JSON encoding has rules of its own: a value field tagged `omitempty` vanishes when it holds its zero
//! value (`active: 0` of a Job's status, `stdin: false` of a container, `hostNetwork: false`), a value
//! scalar without the tag always appears (`replicas: 0` of a ReplicaSet's status), and a value struct always
//! appears, as `{}` at the least (`status: {}` of a new Deployment, `resources: {}` of a container). The
//! k8s-openapi structs Themelios uses have none of this: every field is optional. A controller that builds a
//! status with explicit zeros and compares it with the stored one therefore sees a difference upstream's
//! server never lets it see — the endless no-op status writes found against a real kube-apiserver.
//!
//! The rules come from the Go struct definitions themselves: `upstream/tools/wire-rules` reads them by
//! reflection from the pinned `k8s.io/api` module and writes `rules.json`; nothing in it is written by hand,
//! and a test regenerates it. [`as_stored`] applies them; [`crate::apply`] calls it on every object it
//! stores, so the model checker's datastore and the API server both behave as upstream's does.
//!
//! ```
//! use k8s_openapi::api::batch::v1::{Job, JobStatus};
//! use themelios_api::{wire, Resource};
//!
//! let mut job = Job::default();
//! job.metadata.name = Some("pi".into());
//! job.status = Some(JobStatus { active: Some(0), succeeded: Some(1), ..Default::default() });
//! let stored = wire::as_stored(&job.into_object()).expect("a Job follows the rules");
//! let status = Job::from_object(&stored).unwrap().status.clone().unwrap();
//! assert_eq!(status.active, None); // `active` is `int32 ... omitempty` upstream: zero is not stored
//! assert_eq!(status.succeeded, Some(1));
//! ```
//!
//! Not modelled: Go writes an unset `metav1.Time` in a value struct as `null` (`creationTimestamp: null` in
//! a pod template), which clients read as absent; and a list without `omitempty` reads back as `null` when
//! empty (protobuf storage keeps no empty lists), which clients also read as absent.

use crate::kind::{Kind, Object};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The generated rules (see the module documentation).
const RULES_JSON: &str = include_str!("rules.json");

/// When a field appears in the stored object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Omit {
    /// Vanishes when it holds its zero value.
    Zero,
    /// Always appears; absent, it reads back as its zero value.
    Never,
    /// A list or map Go writes as `null` when unset: absent to clients, present in an empty object.
    Null,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Container {
    List,
    Map,
}

#[derive(Debug, Deserialize)]
struct FieldRule {
    omit: Option<Omit>,
    zero: Option<Value>,
    #[serde(default)]
    r#struct: bool,
    r#type: Option<String>,
    container: Option<Container>,
}

#[derive(Debug, Deserialize)]
struct RulesFile {
    kubernetes: String,
    kinds: HashMap<String, String>,
    types: HashMap<String, HashMap<String, FieldRule>>,
}

/// One field's rule with its nested type resolved to an index.
#[derive(Debug)]
struct Rule {
    name: String,
    omit: Option<Omit>,
    zero: Value,
    value_struct: bool,
    nested: Option<(usize, Option<Container>)>,
}

struct Rules {
    source: String,
    kinds: HashMap<String, usize>,
    types: Vec<Vec<Rule>>,
}

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        // The file is generated and compiled in; a test parses it, so this cannot fail at run time.
        let file: RulesFile = serde_json::from_str(RULES_JSON).expect("wire/rules.json is generated and valid");
        let mut names: Vec<&String> = file.types.keys().collect();
        names.sort();
        let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
        let types = names
            .iter()
            .map(|name| {
                let mut fields: Vec<Rule> = file.types[*name]
                    .iter()
                    .map(|(field, rule)| Rule {
                        name: field.clone(),
                        omit: rule.omit,
                        zero: rule.zero.clone().unwrap_or(Value::Null),
                        value_struct: rule.r#struct,
                        nested: rule.r#type.as_deref().and_then(|t| index.get(t)).map(|&i| (i, rule.container)),
                    })
                    .collect();
                fields.sort_by(|a, b| a.name.cmp(&b.name));
                fields
            })
            .collect();
        let kinds = file.kinds.iter().filter_map(|(gvk, ty)| Some((gvk.clone(), *index.get(ty.as_str())?))).collect();
        Rules { source: file.kubernetes, kinds, types }
    })
}

/// The upstream module the rules were read from (e.g. `k8s.io/api v0.33.13`).
pub fn source() -> &'static str {
    &rules().source
}

/// The object as kube-apiserver would store it: zero values of `omitempty` value fields dropped, value
/// scalars and structs without it present. `Err` only if the result no longer decodes as its kind, which
/// would mean the rules and the Rust types disagree (a test walks every kind to rule that out).
pub fn as_stored(object: &Object) -> Result<Object, serde_json::Error> {
    let kind = object.kind();
    let Some(&ty) = rules().kinds.get(&kind_key(kind)) else {
        return Ok(object.clone());
    };
    let mut value = serde_json::to_value(object)?;
    if !normalize(ty, &mut value) {
        return Ok(object.clone());
    }
    Object::from_json(kind, value)
}

/// An empty object of `kind` as Go writes it: value structs as `{}`, value scalars as their zero value,
/// lists and maps without `omitempty` as `null`. This is the "before" of a create when upstream's field
/// manager decides which fields a writer added (the ones absent here).
pub fn zero_object(kind: Kind) -> Value {
    let mut value = serde_json::json!({"apiVersion": kind.api_version(), "kind": kind.name()});
    if let Some(&ty) = rules().kinds.get(&kind_key(kind)) {
        normalize(ty, &mut value);
        fill_nulls(ty, &mut value);
    }
    value
}

/// An object as Go writes it: [`as_stored`]'s form with the fields Go writes as `null` present as `null`
/// (an unset time held by value, a list without `omitempty`) — what upstream's field manager compares.
pub fn go_form(kind: Kind, value: &mut Value) {
    if let Some(&ty) = rules().kinds.get(&kind_key(kind)) {
        fill_nulls(ty, value);
    }
}

fn fill_nulls(ty: usize, value: &mut Value) {
    let Value::Object(fields) = value else { return };
    for rule in &rules().types[ty] {
        match (rule.omit, rule.nested, fields.get_mut(&rule.name)) {
            (Some(Omit::Null), _, None) => {
                fields.insert(rule.name.clone(), Value::Null);
            }
            (_, Some((nested, None)), Some(child)) => fill_nulls(nested, child),
            (_, Some((nested, Some(Container::List))), Some(Value::Array(items))) => {
                items.iter_mut().for_each(|item| fill_nulls(nested, item))
            }
            (_, Some((nested, Some(Container::Map))), Some(Value::Object(entries))) => {
                entries.values_mut().for_each(|entry| fill_nulls(nested, entry))
            }
            _ => {}
        }
    }
}

/// Whether `desired` would be stored as exactly `stored` (no write needed): the test a controller makes
/// before writing, with the server's rules applied to what it would send.
pub fn stores_as(desired: &Object, stored: &Object) -> bool {
    // A stored object is in stored form already: equal objects store alike without a round trip.
    if desired == stored {
        return true;
    }
    match as_stored(desired) {
        Ok(normal) => normal == *stored,
        Err(_) => desired == stored,
    }
}

fn kind_key(kind: Kind) -> String {
    format!("{}/{}", kind.api_version(), kind.name())
}

/// Applies type `ty`'s rules to `value` in place; returns whether anything changed.
fn normalize(ty: usize, value: &mut Value) -> bool {
    let Value::Object(fields) = value else { return false };
    let mut changed = false;
    for rule in &rules().types[ty] {
        changed |= normalize_field(rule, fields);
    }
    changed
}

fn normalize_field(rule: &Rule, fields: &mut Map<String, Value>) -> bool {
    let present = fields.get(&rule.name).is_some_and(|v| !v.is_null());
    if !present {
        let filler = if rule.value_struct {
            Some(Value::Object(Map::new()))
        } else if rule.omit == Some(Omit::Never) {
            Some(rule.zero.clone())
        } else {
            // A `null` the client sent is the same as absent (for `Null` fields too: clients read it so).
            None
        };
        return match filler {
            Some(mut filler) => {
                if let Some((nested, None)) = rule.nested {
                    normalize(nested, &mut filler);
                }
                fields.insert(rule.name.clone(), filler);
                true
            }
            None => fields.remove(&rule.name).is_some(),
        };
    }
    if rule.omit == Some(Omit::Zero) && fields.get(&rule.name).is_some_and(is_zero) {
        fields.remove(&rule.name);
        return true;
    }
    let Some((nested, container)) = rule.nested else { return false };
    let Some(value) = fields.get_mut(&rule.name) else { return false };
    match (container, value) {
        (None, value) => normalize(nested, value),
        (Some(Container::List), Value::Array(items)) => {
            items.iter_mut().fold(false, |changed, item| normalize(nested, item) | changed)
        }
        (Some(Container::Map), Value::Object(entries)) => {
            entries.values_mut().fold(false, |changed, entry| normalize(nested, entry) | changed)
        }
        _ => false,
    }
}

/// Go's zero value as JSON shows it: `false`, `0`, `""`, an empty list or map.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_kind_has_rules() {
        for &kind in Kind::ALL {
            assert!(rules().kinds.contains_key(&kind_key(kind)), "no wire rules for {}", kind_key(kind));
        }
    }

    #[test]
    fn every_kind_decodes_after_its_rules_fill_value_structs() {
        for &kind in Kind::ALL {
            let bare = Object::from_json(kind, serde_json::json!({"metadata": {"name": "x"}})).unwrap();
            let stored = as_stored(&bare).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(as_stored(&stored).unwrap(), stored, "{kind}: the rules are not idempotent");
        }
    }

    #[test]
    fn zeros_of_omitempty_fields_go_and_value_fields_appear() {
        let deployment = serde_json::json!({
            "metadata": {"name": "web", "generation": 0, "labels": {}},
            "spec": {"replicas": 0, "paused": false, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"hostNetwork": false, "containers": [{"name": "c", "image": "i", "stdin": false, "tty": false}]}}},
            "status": {"unavailableReplicas": 0, "replicas": 3}
        });
        let stored = as_stored(&Object::from_json(Kind::Deployment, deployment).unwrap()).unwrap();
        let value = serde_json::to_value(&stored).unwrap();
        assert_eq!(value["metadata"].get("generation"), None);
        assert_eq!(value["metadata"].get("labels"), None);
        // `replicas` is a pointer upstream: an explicit 0 is a value.
        assert_eq!(value["spec"]["replicas"], 0);
        assert_eq!(value["spec"].get("paused"), None);
        let pod_spec = &value["spec"]["template"]["spec"];
        assert_eq!(pod_spec.get("hostNetwork"), None);
        assert_eq!(pod_spec["containers"][0].get("stdin"), None);
        assert_eq!(pod_spec["containers"][0]["resources"], serde_json::json!({}));
        assert_eq!(value["status"], serde_json::json!({"replicas": 3}));

        let replica_set = serde_json::json!({"metadata": {"name": "web-1"}, "status": {"fullyLabeledReplicas": 0}});
        let stored = as_stored(&Object::from_json(Kind::ReplicaSet, replica_set).unwrap()).unwrap();
        // `replicas` of a ReplicaSet's status has no omitempty: it is always there.
        assert_eq!(serde_json::to_value(&stored).unwrap()["status"], serde_json::json!({"replicas": 0}));
    }

    #[test]
    fn an_empty_object_has_its_value_fields_and_nulls() {
        let pod = zero_object(Kind::Pod);
        assert_eq!(pod["metadata"], serde_json::json!({"creationTimestamp": null}), "a time held by value is null");
        assert_eq!(pod["spec"]["containers"], Value::Null, "a list without omitempty is null, not absent");
        assert!(pod["spec"].get("volumes").is_none(), "an omitempty list is absent");
        assert_eq!(pod["status"], serde_json::json!({}));
        let rs = zero_object(Kind::ReplicaSet);
        assert_eq!(rs["status"], serde_json::json!({"replicas": 0}));
    }

    #[test]
    fn every_nested_type_resolves() {
        let file: RulesFile = serde_json::from_str(RULES_JSON).unwrap();
        for (name, fields) in &file.types {
            for (field, rule) in fields {
                if let Some(t) = &rule.r#type {
                    assert!(file.types.contains_key(t), "{name}.{field} names {t}, which has no rules");
                }
            }
        }
    }
}
