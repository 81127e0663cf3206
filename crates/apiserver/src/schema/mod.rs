//! The schema table generated from k8s-openapi and k8s-pb (`k8s.json`, see the `themelios-schema-gen`
//! crate): per API definition, each field's JSON name, type, merge strategy and keys, and protobuf tags.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;
use themelios_api::Kind;

/// How a list or map field merges (upstream's `x-kubernetes-list-type` / `patchStrategy`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Replaced as a whole.
    Atomic,
    /// A list of scalars merged as a set.
    Set,
    /// A list of objects merged by key fields.
    Map(Vec<String>),
    /// A map merged key by key.
    Granular,
}

/// One field of a definition.
#[derive(Clone, Debug)]
pub struct Field {
    /// The element type: a definition name, or `string`, `integer`, `boolean`, `number`, `bytes`, `json`.
    pub ty: String,
    /// Whether the field is a list.
    pub list: bool,
    /// Whether the field is a map from strings.
    pub map: bool,
    /// How a strategic merge patch merges it, when the sources say.
    pub strategy: Option<Strategy>,
    /// How server-side apply merges and owns it (`x-kubernetes-list-type`, `-list-map-keys`, `-map-type`),
    /// when upstream's OpenAPI says; a list it says nothing of is atomic, a map granular.
    pub apply: Option<Strategy>,
}

/// The wire type of a protobuf field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// `string`
    String,
    /// `bytes`
    Bytes,
    /// `bool`
    Bool,
    /// `int32`
    Int32,
    /// `int64`
    Int64,
    /// `double`
    Double,
    /// A nested message.
    Message,
    /// A map: repeated key/value entry messages.
    Map,
}

/// One protobuf field of a message.
#[derive(Clone, Debug)]
pub struct ProtoField {
    /// The field number.
    pub tag: u32,
    /// The JSON field name.
    pub name: String,
    /// The wire type.
    pub wire: Wire,
    /// Whether it repeats (a list).
    pub repeated: bool,
    /// The message type (for messages, and maps of messages).
    pub ty: Option<String>,
    /// A map's value wire type.
    pub value: Option<Wire>,
    /// A Go struct embedded inline: its fields are the parent's in JSON.
    pub inline: bool,
}

/// One API definition.
#[derive(Clone, Debug, Default)]
pub struct Definition {
    /// Fields by JSON name.
    pub fields: HashMap<String, Field>,
    /// Protobuf fields by tag.
    pub proto: HashMap<u32, ProtoField>,
    /// Whether server-side apply owns and replaces an object of this type as a whole
    /// (`x-kubernetes-map-type: atomic`: a label selector, an object reference).
    pub atomic: bool,
}

/// Every definition.
pub struct Schema {
    definitions: HashMap<String, Definition>,
}

fn wire(name: &str) -> Option<Wire> {
    Some(match name {
        "string" => Wire::String,
        "bytes" => Wire::Bytes,
        "bool" => Wire::Bool,
        "int32" => Wire::Int32,
        "int64" => Wire::Int64,
        "double" => Wire::Double,
        "message" => Wire::Message,
        "map" => Wire::Map,
        _ => return None,
    })
}

fn parse(table: &Value) -> Schema {
    let mut definitions = HashMap::new();
    for (name, definition) in table["definitions"].as_object().into_iter().flatten() {
        let mut parsed = Definition::default();
        for (field_name, field) in definition["fields"].as_object().into_iter().flatten() {
            let keys: Vec<String> =
                field["keys"].as_array().into_iter().flatten().filter_map(|k| k.as_str().map(str::to_string)).collect();
            let strategy = match field["strategy"].as_str() {
                Some("atomic") => Some(Strategy::Atomic),
                Some("set") => Some(Strategy::Set),
                Some("granular") => Some(Strategy::Granular),
                Some("map") => Some(Strategy::Map(keys)),
                _ => None,
            };
            parsed.fields.insert(
                field_name.clone(),
                Field {
                    ty: field["type"].as_str().unwrap_or("json").to_string(),
                    list: field["container"] == "list",
                    map: field["container"] == "map",
                    strategy,
                    apply: None,
                },
            );
        }
        for field in definition["proto"].as_array().into_iter().flatten() {
            let (Some(tag), Some(name), Some(wire_type)) =
                (field["tag"].as_u64(), field["name"].as_str(), field["wire"].as_str().and_then(wire))
            else {
                continue;
            };
            parsed.proto.insert(
                tag as u32,
                ProtoField {
                    tag: tag as u32,
                    name: name.to_string(),
                    wire: wire_type,
                    repeated: field["repeated"] == true,
                    ty: field["type"].as_str().map(str::to_string),
                    value: field["value"].as_str().and_then(wire),
                    inline: field["inline"] == true,
                },
            );
        }
        definitions.insert(name.clone(), parsed);
    }
    Schema { definitions }
}

/// Adds server-side apply's structure (`ssa.json`, generated from kube-apiserver's OpenAPI definitions by
/// `upstream/tools/ssa-structure`) to the definitions.
fn add_apply_structure(schema: &mut Schema, table: &Value) {
    for (name, structure) in table["definitions"].as_object().into_iter().flatten() {
        let Some(definition) = schema.definitions.get_mut(name) else { continue };
        definition.atomic = structure["atomic"] == true;
        for (field_name, field) in structure["fields"].as_object().into_iter().flatten() {
            let Some(parsed) = definition.fields.get_mut(field_name) else { continue };
            let keys: Vec<String> =
                field["keys"].as_array().into_iter().flatten().filter_map(|k| k.as_str().map(str::to_string)).collect();
            parsed.apply = match (field["listType"].as_str(), field["atomic"] == true) {
                (Some("map"), _) => Some(Strategy::Map(keys)),
                (Some("set"), _) => Some(Strategy::Set),
                (Some("atomic"), _) | (_, true) => Some(Strategy::Atomic),
                _ => None,
            };
        }
    }
}

/// The schema, parsed once.
///
/// ```
/// use themelios_apiserver::schema::{schema, Strategy};
/// let container = schema().definition("io.k8s.api.core.v1.Container").unwrap();
/// assert_eq!(container.fields["env"].strategy, Some(Strategy::Map(vec!["name".into()])));
/// ```
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        // The table is generated and committed; a parse failure would be caught by this crate's tests.
        let table: Value = serde_json::from_str(include_str!("k8s.json")).unwrap_or_default();
        let mut schema = parse(&table);
        let apply: Value = serde_json::from_str(include_str!("ssa.json")).unwrap_or_default();
        add_apply_structure(&mut schema, &apply);
        schema
    })
}

impl Schema {
    /// A definition by name, e.g. `io.k8s.api.apps.v1.Deployment`.
    pub fn definition(&self, name: &str) -> Option<&Definition> {
        self.definitions.get(name)
    }
}

/// The definition name of a kind, e.g. `io.k8s.api.apps.v1.Deployment`.
pub fn definition_of(kind: Kind) -> String {
    let group = match kind.group() {
        "" => "core",
        group => group.split('.').next().unwrap_or(group),
    };
    format!("io.k8s.api.{group}.{}.{}", kind.version(), kind.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_a_served_kind_can_contain_has_a_schema() {
        let mut pending: Vec<String> = Kind::ALL.iter().map(|k| definition_of(*k)).collect();
        pending.push("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions".into());
        let mut seen = std::collections::HashSet::new();
        while let Some(name) = pending.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let definition = schema().definition(&name).unwrap_or_else(|| panic!("no schema for {name}"));
            pending.extend(definition.proto.values().filter_map(|f| f.ty.clone()));
        }
        assert!(seen.len() > 150, "{} message types reachable", seen.len());
    }

    #[test]
    fn every_kind_has_a_definition_with_fields_and_protobuf_tags() {
        for kind in Kind::ALL {
            let definition = schema().definition(&definition_of(*kind)).unwrap_or_else(|| panic!("{kind}"));
            assert!(definition.fields.contains_key("metadata"), "{kind}");
            assert_eq!(definition.proto[&1].name, "metadata", "{kind}");
        }
    }
}
