//! Kubernetes manifests (YAML or JSON, several documents per file, `kind: List`) decoded into [`Object`]s,
//! with errors that name the file, the line and the field.

use crate::kind::{Kind, Object};
use std::fmt;

/// A manifest that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    /// The file (as given by the caller).
    pub file: String,
    /// The 1-based line the problem is on (the document's first line when nothing more precise is known).
    pub line: usize,
    /// The field at fault, when known (e.g. `kind`, `spec.replicas`).
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ManifestError {}

/// One decoded object and where it came from.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The 1-based line of the document's start.
    pub line: usize,
    /// The object.
    pub object: Object,
    /// The document's text, for locating fields.
    pub text: String,
}

impl Manifest {
    /// The line a field path such as `spec.template.spec.containers[0].image` is written on, as near as
    /// the YAML's indentation shows it (the deepest part of the path found; the document start if none).
    ///
    /// ```
    /// use themelios_api::manifest::decode;
    /// let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n  - name: b\n    image: x\n";
    /// let m = &decode("p.yaml", text).unwrap()[0];
    /// assert_eq!(m.field_line("spec.containers[1].image"), 9);
    /// assert_eq!(m.field_line("spec.nodeName"), 5);
    /// ```
    pub fn field_line(&self, path: &str) -> usize {
        let lines: Vec<&str> = self.text.lines().collect();
        let indent = |l: &str| l.len() - l.trim_start().len();
        let (mut from, mut min_indent, mut found) = (0usize, 0usize, None);
        for segment in path.split('.') {
            let (name, index) = match segment.split_once('[') {
                Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
                None => (segment, None),
            };
            let key = format!("{name}:");
            let Some(at) = (from..lines.len()).find(|&i| {
                let t = lines[i].trim_start().trim_start_matches("- ");
                indent(lines[i]) >= min_indent && t.starts_with(&key)
            }) else {
                break;
            };
            found = Some(at);
            from = at + 1;
            min_indent = indent(lines[at]) + 1;
            if let Some(index) = index {
                let items: Vec<usize> = (from..lines.len())
                    .take_while(|&i| {
                        lines[i].trim().is_empty()
                            || indent(lines[i]) + 1 >= min_indent
                            || lines[i].trim_start().starts_with("- ")
                    })
                    .filter(|&i| lines[i].trim_start().starts_with("- "))
                    .collect();
                let Some(&item) = items.get(index) else { break };
                found = Some(item);
                from = item;
                min_indent = indent(lines[item]);
            }
        }
        self.line + found.unwrap_or(0)
    }
}

/// Splits YAML text into documents, with the 1-based line each starts on.
fn documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut start = 1;
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        if line == "---" || line.starts_with("--- ") {
            docs.push((start, std::mem::take(&mut current)));
            start = i + 2;
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    docs.push((start, current));
    docs.into_iter()
        .filter(|(_, d)| d.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')))
        .collect()
}

/// Decodes every object in a manifest file's text.
///
/// ```
/// use themelios_api::manifest::decode;
/// let text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n---\napiVersion: v1\nkind: Nope\n";
/// let err = decode("demo.yaml", text).unwrap_err();
/// assert_eq!(err.to_string(), "demo.yaml:7: kind: unknown kind \"Nope\" in apiVersion \"v1\"");
/// ```
pub fn decode(file: &str, text: &str) -> Result<Vec<Manifest>, ManifestError> {
    let mut out = Vec::new();
    for (start, doc) in documents(text) {
        let error = |line: usize, field: Option<&str>, message: String| ManifestError {
            file: file.to_string(),
            line,
            field: field.map(str::to_string),
            message,
        };
        let value: serde_json::Value = serde_yaml_ng::from_str(&doc).map_err(|e| {
            let line = e.location().map_or(start, |l| start + l.line() - 1);
            error(line, None, format!("not valid YAML: {e}"))
        })?;
        decode_value(value, start, &doc, &mut out)
            .map_err(|(line, field, message)| error(line, field.as_deref(), message))?;
    }
    Ok(out)
}

/// The 1-based line within `doc` (offset by `start`) where a top-level key is written.
fn key_line(doc: &str, start: usize, key: &str) -> usize {
    doc.lines()
        .position(|l| l.starts_with(&format!("{key}:")) || l.trim_start().starts_with(&format!("\"{key}\"")))
        .map_or(start, |i| start + i)
}

type DecodeError = (usize, Option<String>, String);

fn decode_value(value: serde_json::Value, start: usize, doc: &str, out: &mut Vec<Manifest>) -> Result<(), DecodeError> {
    let text = doc.to_string();
    let serde_json::Value::Object(map) = &value else {
        return Err((start, None, "a manifest document must be a mapping with apiVersion and kind".into()));
    };
    let text_of = |key: &str| map.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let Some(api_version) = text_of("apiVersion") else {
        return Err((key_line(doc, start, "apiVersion"), Some("apiVersion".into()), "Required value".into()));
    };
    let Some(kind_name) = text_of("kind") else {
        return Err((key_line(doc, start, "kind"), Some("kind".into()), "Required value".into()));
    };
    if kind_name == "List" || kind_name.ends_with("List") && map.contains_key("items") {
        let items = map.get("items").and_then(|i| i.as_array()).cloned().unwrap_or_default();
        for item in items {
            decode_value(item, start, doc, out)?;
        }
        return Ok(());
    }
    let kind = Kind::from_type(&api_version, &kind_name).ok_or_else(|| {
        let known_elsewhere = Kind::ALL.iter().find(|k| k.name() == kind_name);
        let message = match known_elsewhere {
            Some(k) => {
                format!("kind {kind_name:?} is served as apiVersion {:?}, not {api_version:?}", k.api_version())
            }
            None => format!("unknown kind {kind_name:?} in apiVersion {api_version:?}"),
        };
        (key_line(doc, start, "kind"), Some("kind".into()), message)
    })?;
    let object = Object::from_json(kind, value.clone()).map_err(|json_error| {
        // Decoding the document's own text again finds the line and path of the bad field.
        match Object::from_yaml(kind, doc) {
            Err(e) => {
                let line = e.location().map_or(start, |l| start + l.line() - 1);
                let text = e.to_string();
                let text = text.split(" at line ").next().unwrap_or(&text).to_string();
                match text.split_once(": ") {
                    Some((path, why)) if !path.contains(' ') => (line, Some(path.to_string()), why.to_string()),
                    _ => (line, None, text),
                }
            }
            Ok(_) => (start, None, format!("cannot decode {kind_name}: {json_error}")),
        }
    })?;
    out.push(Manifest { line: start, object, text });
    Ok(())
}
