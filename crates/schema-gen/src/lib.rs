//! Generates the schema table the API server needs and the Rust types do not carry at run time: for every
//! API definition, each field's JSON name, type, list/map merge strategy and keys (from k8s-openapi's
//! generated `DeepMerge` impls, which encode upstream's `x-kubernetes-list-type`/`patchMergeKey` data), and
//! its protobuf tag and wire type (from k8s-pb's generated prost structs).
//!
//! The output is committed (`crates/apiserver/src/schema/k8s.json`); a test regenerates it from the exact
//! crate versions in `Cargo.lock` and fails if it differs.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The k8s-openapi feature whose definitions the server serves.
pub const OPENAPI_VERSION_DIR: &str = "v1_33";

/// Finds the source directories of k8s-openapi and k8s-pb through `cargo metadata`.
pub fn sources() -> Result<(PathBuf, PathBuf), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .output()
        .map_err(|e| format!("running cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let source = |name: &str| -> Result<PathBuf, String> {
        metadata["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name)
            .and_then(|p| p["manifest_path"].as_str())
            .map(|m| Path::new(m).with_file_name("src"))
            .ok_or_else(|| format!("package {name} not in cargo metadata"))
    };
    Ok((source("k8s-openapi")?.join(OPENAPI_VERSION_DIR), source("k8s-pb")?))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The definition name a Rust type path names: `crate::api::core::v1::EnvVar` → `io.k8s.api.core.v1.EnvVar`.
fn definition_of_path(path: &str) -> String {
    format!("io.k8s.{}", path.trim_start_matches("crate::").replace("::", "."))
}

/// What a Rust field type is, as the table records it: (container, element type).
fn classify(ty: &str) -> (Option<&'static str>, String) {
    let mut ty = ty.trim();
    if let Some(inner) = ty.strip_prefix("Option<").and_then(|t| t.strip_suffix('>')) {
        ty = inner.trim();
    }
    if let Some(inner) = ty.strip_prefix("std::vec::Vec<").and_then(|t| t.strip_suffix('>')) {
        return (Some("list"), scalar_or_ref(inner));
    }
    if let Some(inner) =
        ty.strip_prefix("std::collections::BTreeMap<std::string::String, ").and_then(|t| t.strip_suffix('>'))
    {
        return (Some("map"), scalar_or_ref(inner));
    }
    (None, scalar_or_ref(ty))
}

fn scalar_or_ref(ty: &str) -> String {
    match ty.trim() {
        "std::string::String" => "string".into(),
        "bool" => "boolean".into(),
        "i32" | "i64" => "integer".into(),
        "f64" => "number".into(),
        "crate::ByteString" => "bytes".into(),
        "crate::serde_json::Value" => "json".into(),
        t if t.starts_with("crate::") => definition_of_path(t),
        other => format!("unknown:{other}"),
    }
}

/// Parses one k8s-openapi file: its definition, fields, JSON names and merge strategies.
fn openapi_definition(text: &str) -> Option<(String, Map<String, Value>)> {
    let definition = text.lines().next()?.strip_prefix("// Generated from definition ")?.trim().to_string();
    let struct_start = text.find("pub struct ")?;
    let body_start = struct_start + text[struct_start..].find('{')? + 1;
    let body_end = body_start + text[body_start..].find("\n}")?;
    let mut rust_fields: Vec<(String, String)> = Vec::new();
    for line in text[body_start..body_end].lines() {
        let Some(rest) = line.trim().strip_prefix("pub ") else { continue };
        let Some((name, ty)) = rest.split_once(": ") else { continue };
        rust_fields.push((name.to_string(), ty.trim_end_matches(',').to_string()));
    }
    // JSON names from the Deserialize impl: `"containerPort" => Field::Key_container_port,`.
    let mut json_names: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some((json_name, rest)) = line.strip_prefix('"').and_then(|l| l.split_once("\" => Field::Key_")) {
            json_names.insert(rest.trim_end_matches(',').to_string(), json_name.to_string());
        }
    }
    let strategies = merge_strategies(text);
    let mut fields = Map::new();
    for (rust_name, ty) in rust_fields {
        let Some(json_name) = json_names.get(&rust_name) else { continue };
        let (container, element) = classify(&ty);
        let mut field = json!({"type": element});
        if let Some(container) = container {
            field["container"] = container.into();
        }
        if let Some((strategy, keys)) = strategies.get(&rust_name) {
            field["strategy"] = strategy.clone().into();
            if !keys.is_empty() {
                let keys: Vec<String> = keys.iter().map(|k| key_json_name(k.as_str())).collect();
                field["keys"] = json!(keys);
            }
        }
        fields.insert(json_name.clone(), field);
    }
    Some((definition, fields))
}

/// A list-map key's JSON name. Keys are fields of the element type, which lives in another file; their
/// JSON name is the lowerCamelCase of the Rust name (the only exception, `type_`, is `type`).
fn key_json_name(rust: &str) -> String {
    let rust = rust.trim_end_matches('_');
    let mut out = String::new();
    let mut upper = false;
    for c in rust.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `field → (strategy, key fields)` from the DeepMerge impl.
fn merge_strategies(text: &str) -> BTreeMap<String, (String, Vec<String>)> {
    let mut out = BTreeMap::new();
    for (marker, strategy) in [
        ("crate::merge_strategies::list::atomic(&mut self.", "atomic"),
        ("crate::merge_strategies::list::set(&mut self.", "set"),
        ("crate::merge_strategies::map::atomic(&mut self.", "atomic"),
        ("crate::merge_strategies::map::granular(&mut self.", "granular"),
    ] {
        for (index, _) in text.match_indices(marker) {
            let rest = &text[index + marker.len()..];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.insert(name, (strategy.to_string(), Vec::new()));
        }
    }
    let marker = "crate::merge_strategies::list::map(";
    for (index, _) in text.match_indices(marker) {
        let rest = &text[index + marker.len()..];
        let Some(field_at) = rest.find("&mut self.") else { continue };
        let name: String = rest[field_at + 10..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let end = rest.find("|current_item").unwrap_or(rest.len());
        let keys: Vec<String> = rest[..end]
            .match_indices("lhs.")
            .map(|(i, _)| rest[i + 4..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect())
            .collect();
        out.insert(name, ("map".to_string(), keys));
    }
    out
}

/// Resolves a prost type path relative to the module it appears in.
fn resolve_pb_path(module: &[String], ty: &str) -> String {
    let mut parts: Vec<String> = module.to_vec();
    let mut rest = ty;
    while let Some(r) = rest.strip_prefix("super::") {
        parts.pop();
        rest = r;
    }
    parts.extend(rest.split("::").map(str::to_string));
    format!("io.k8s.{}", parts.join("."))
}

fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .trim_start_matches("r#")
        .to_string()
}

/// Parses one k8s-pb module: every message, each field's tag, wire type and (for messages) type.
fn pb_messages(module: &[String], text: &str, out: &mut BTreeMap<String, Vec<Value>>) {
    let mut search = 0;
    while let Some(found) = text[search..].find("pub struct ") {
        let start = search + found + "pub struct ".len();
        let name: String = text[start..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let Some(open) = text[start..].find('{') else { break };
        let body_start = start + open + 1;
        let Some(close) = text[body_start..].find("\n}") else { break };
        let body = &text[body_start..body_start + close];
        search = body_start + close;
        let mut fields = Vec::new();
        for (at, _) in body.match_indices("#[prost(") {
            let attr_end = at + body[at..].find(")]").unwrap_or(0);
            let attr = &body[at + 8..attr_end];
            let after = &body[attr_end..];
            let Some(pub_at) = after.find("pub ") else { continue };
            let decl = &after[pub_at + 4..];
            let Some((field, ty_rest)) = decl.split_once(':') else { continue };
            let ty: String = {
                let mut depth = 0;
                let mut ty = String::new();
                for c in ty_rest.chars() {
                    match c {
                        '<' => depth += 1,
                        '>' => depth -= 1,
                        ',' if depth == 0 => break,
                        _ => {}
                    }
                    ty.push(c);
                }
                ty.split_whitespace().collect::<String>().replace(",>", ">")
            };
            let tag: u64 = attr
                .split("tag = \"")
                .nth(1)
                .and_then(|t| t.split('"').next())
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let wire = attr.split([',', ' ', '=']).next().unwrap_or("").trim().to_string();
            let repeated = attr.contains("repeated");
            let mut entry = json!({"tag": tag, "name": normalise(field.trim()), "wire": wire});
            if repeated {
                entry["repeated"] = true.into();
            }
            let inner = ty
                .trim_start_matches("::core::option::Option<")
                .trim_start_matches("::prost::alloc::vec::Vec<")
                .trim_start_matches("::prost::alloc::boxed::Box<")
                .trim_end_matches('>')
                .to_string();
            if wire == "message" {
                entry["type"] = resolve_pb_path(module, &inner).into();
            }
            if wire.starts_with("btree_map") {
                let value_kind = attr.split('"').nth(1).and_then(|m| m.split(", ").nth(1)).unwrap_or("").to_string();
                entry["wire"] = "map".into();
                entry["value"] = value_kind.clone().into();
                if value_kind == "message" {
                    let value_ty = inner.rsplit(',').next().unwrap_or("").to_string();
                    entry["type"] = resolve_pb_path(module, &value_ty).into();
                }
            }
            fields.push(entry);
        }
        out.insert(resolve_pb_path(module, &name), fields);
    }
}

/// The schema table: `{"definitions": {name: {"fields": {json: {...}}, "proto": [...]}}}`.
pub fn generate(openapi: &Path, pb: &Path) -> Result<String, String> {
    let mut files = Vec::new();
    rust_files(openapi, &mut files)?;
    let mut definitions: BTreeMap<String, Value> = BTreeMap::new();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        if let Some((name, fields)) = openapi_definition(&text) {
            definitions.insert(name, json!({"fields": fields}));
        }
    }
    let mut pb_files = Vec::new();
    rust_files(pb, &mut pb_files)?;
    let mut messages = BTreeMap::new();
    for file in &pb_files {
        if file.file_name().is_some_and(|f| f != "mod.rs") {
            continue;
        }
        let module: Vec<String> = file
            .parent()
            .and_then(|p| p.strip_prefix(pb).ok())
            .map(|p| p.iter().map(|s| s.to_string_lossy().to_string()).collect())
            .unwrap_or_default();
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        pb_messages(&module, &text, &mut messages);
    }
    // Give each proto field its JSON name: the definition's field whose name matches once case and
    // underscores are ignored (prost's `pod_i_ps` is `podIPs`).
    // prost renames messages to Rust case (`PodIP` → `PodIp`): map each back to its definition's name.
    let by_lowercase: BTreeMap<String, String> =
        definitions.keys().map(|d| (d.to_ascii_lowercase(), d.clone())).collect();
    let canonical =
        |name: &str| by_lowercase.get(&name.to_ascii_lowercase()).cloned().unwrap_or_else(|| name.to_string());
    let messages: BTreeMap<String, Vec<Value>> = messages
        .into_iter()
        .map(|(name, fields)| {
            let fields = fields
                .into_iter()
                .map(|mut f| {
                    if let Some(ty) = f["type"].as_str().map(str::to_string) {
                        f["type"] = canonical(&ty).into();
                    }
                    f
                })
                .collect();
            (canonical(&name), fields)
        })
        .collect();
    let raw_messages = messages.clone();
    for (name, fields) in messages {
        let json_names: Vec<String> = definitions
            .get(&name)
            .and_then(|d| d["fields"].as_object())
            .map(|f| f.keys().cloned().collect())
            .unwrap_or_default();
        let fields: Vec<Value> = fields
            .into_iter()
            .filter_map(|mut f| {
                let normalised = f["name"].as_str().unwrap_or("").to_string();
                if let Some(json_name) = json_names.iter().find(|j| normalise(j) == normalised) {
                    f["name"] = json_name.clone().into();
                    return Some(f);
                }
                // No JSON fields to match (Time, IntOrString, an embedded-only message): keep the proto name.
                if json_names.is_empty() {
                    return Some(f);
                }
                // A Go struct embedded with `json:",inline"`: its fields are the parent's in JSON.
                let parent: Vec<String> = json_names.iter().map(|j| normalise(j)).collect();
                let embedded = f["type"].as_str().and_then(|t| raw_messages.get(t));
                match embedded {
                    Some(inner)
                        if !inner.is_empty()
                            && inner.iter().any(|g| parent.contains(&g["name"].as_str().unwrap_or("").to_string())) =>
                    {
                        f["inline"] = true.into();
                        Some(f)
                    }
                    // A field newer than the definitions served: not decoded.
                    _ => None,
                }
            })
            .collect();
        definitions.entry(name).or_insert_with(|| json!({}))["proto"] = Value::Array(fields);
    }
    // An embedded message without a definition of its own (EphemeralContainerCommon) takes its JSON names
    // from the parent it is inlined into.
    let mut renames: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for definition in definitions.values() {
        let parent_names: BTreeMap<String, String> = definition["fields"]
            .as_object()
            .map(|f| f.keys().map(|k| (normalise(k), k.clone())).collect())
            .unwrap_or_default();
        for field in definition["proto"].as_array().into_iter().flatten().filter(|f| f["inline"] == true) {
            if let Some(inner) = field["type"].as_str() {
                renames.push((inner.to_string(), parent_names.clone()));
            }
        }
    }
    for (inner, names) in renames {
        if let Some(fields) = definitions.get_mut(&inner).and_then(|d| d["proto"].as_array_mut()) {
            for field in fields {
                let current = field["name"].as_str().unwrap_or("").to_string();
                if let Some(json_name) = names.get(&normalise(&current)) {
                    field["name"] = json_name.clone().into();
                }
            }
        }
    }
    let table = json!({"definitions": definitions});
    Ok(serde_json::to_string(&table).map_err(|e| e.to_string())? + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_table_is_generated_from_the_locked_sources() {
        let (openapi, pb) = sources().expect("sources");
        let generated = generate(&openapi, &pb).expect("generate");
        let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../apiserver/src/schema/k8s.json");
        let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
        assert!(
            generated == committed,
            "{} is stale: run `cargo run -p themelios-schema-gen > {}`",
            committed_path.display(),
            committed_path.display()
        );
    }

    #[test]
    fn merge_keys_and_proto_tags_come_out_of_the_sources() {
        let (openapi, pb) = sources().expect("sources");
        let table: Value = serde_json::from_str(&generate(&openapi, &pb).unwrap()).unwrap();
        let container = &table["definitions"]["io.k8s.api.core.v1.Container"];
        assert_eq!(container["fields"]["env"]["keys"], json!(["name"]));
        assert_eq!(container["fields"]["ports"]["keys"], json!(["containerPort"]));
        assert_eq!(container["fields"]["args"]["strategy"], "atomic");
        let meta = &table["definitions"]["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"];
        assert_eq!(meta["fields"]["finalizers"]["strategy"], "set");
        assert_eq!(meta["fields"]["ownerReferences"]["keys"], json!(["uid"]));
        let pod_status = &table["definitions"]["io.k8s.api.core.v1.PodStatus"];
        let pod_ips = pod_status["proto"].as_array().unwrap().iter().find(|f| f["name"] == "podIPs").unwrap();
        assert_eq!(pod_ips["type"], "io.k8s.api.core.v1.PodIP");
        let deployment = &table["definitions"]["io.k8s.api.apps.v1.Deployment"];
        let spec = deployment["proto"].as_array().unwrap().iter().find(|f| f["name"] == "spec").unwrap();
        assert_eq!((spec["tag"].as_u64(), spec["type"].as_str()), (Some(2), Some("io.k8s.api.apps.v1.DeploymentSpec")));
    }
}
