//! Request bodies: media types, size limit, JSON and YAML decoding, and field validation.

use serde_json::Value;
use themelios_api::{ApiError, Kind, Object, Reason};

/// Upstream's request body limit.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// How a request body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `application/json` (also assumed when there is no Content-Type, as kubectl sometimes sends).
    Json,
    /// `application/yaml`
    Yaml,
    /// `application/vnd.kubernetes.protobuf` (kubectl's typed clients)
    Protobuf,
}

/// The body format of an object request (create, update, delete options).
pub fn object_format(content_type: Option<&str>) -> Result<Format, ApiError> {
    let media = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    match media.as_deref() {
        None | Some("") | Some("application/json") | Some("*/*") => Ok(Format::Json),
        Some("application/yaml") => Ok(Format::Yaml),
        Some("application/vnd.kubernetes.protobuf") => Ok(Format::Protobuf),
        Some(other) => Err(unsupported(other)),
    }
}

/// 415 for a media type the server cannot decode.
pub fn unsupported(media: &str) -> ApiError {
    ApiError::new(
        Reason::UnsupportedMediaType,
        format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf; got {media}"),
    )
}

/// Parses a body as a JSON value.
pub fn to_value(body: &[u8], format: Format) -> Result<Value, ApiError> {
    match format {
        Format::Json => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding request body as JSON: {e}"))),
        Format::Yaml => {
            if flow_nesting_exceeds(body, MAX_YAML_NESTING) {
                return Err(ApiError::bad_request(format!(
                    "error decoding request body as YAML: collections nested more than {MAX_YAML_NESTING} levels deep"
                )));
            }
            serde_yaml_ng::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding request body as YAML: {e}")))
        }
        Format::Protobuf => super::protobuf::decode(body),
    }
}

/// How deep a YAML body's collections may nest: the YAML decoder's own recursion limit, so nothing it would
/// decode is refused.
pub const MAX_YAML_NESTING: usize = 128;

/// Whether `body`'s flow collections (`[…]`, `{…}`) nest deeper than `limit`.
///
/// libyaml's parser, under the YAML decoder, spends time quadratic in the nesting of flow collections
/// before any recursion limit applies (50,000 nested `{a: …}` took 8.7 s), so deep bodies are refused by
/// this linear scan first. Block nesting costs it linear time and is left to the decoder. The scan follows
/// YAML's lexical rules far enough not to count brackets inside quoted scalars, comments or block scalars,
/// or inside a plain scalar in block context; anything it cannot tell apart it counts, which can only make
/// it refuse a body the decoder would refuse too.
pub fn flow_nesting_exceeds(body: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    // Whether the next character starts a token (a value, a key, a quoted scalar).
    let mut token_start = true;
    let mut line_indent = 0usize;
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        let next = body.get(i + 1).copied();
        let spaced = |b: Option<u8>| matches!(b, None | Some(b' ' | b'\t' | b'\r' | b'\n'));
        match c {
            b'\n' => {
                i += 1;
                line_indent = body[i..].iter().take_while(|b| **b == b' ').count();
                i += line_indent;
                if depth == 0 {
                    token_start = true;
                }
                continue;
            }
            b' ' | b'\t' | b'\r' => {}
            b'#' if i == 0 || matches!(body[i - 1], b' ' | b'\t' | b'\n') => {
                i = body[i..].iter().position(|b| *b == b'\n').map_or(body.len(), |p| i + p);
                continue;
            }
            b'"' if token_start => {
                i = skip_double_quoted(body, i + 1);
                token_start = false;
                continue;
            }
            b'\'' if token_start => {
                i = skip_single_quoted(body, i + 1);
                token_start = false;
                continue;
            }
            b'[' | b'{' if depth > 0 || token_start => {
                depth += 1;
                if depth > limit {
                    return true;
                }
                token_start = true;
            }
            b']' | b'}' if depth > 0 => {
                depth -= 1;
                token_start = false;
            }
            b',' if depth > 0 => token_start = true,
            b':' if depth > 0 || spaced(next) => token_start = true,
            b'-' | b'?' if token_start && spaced(next) => {}
            b'!' | b'&' if token_start => {
                // A tag or an anchor: the value still follows.
                i = body[i..].iter().position(|b| matches!(b, b' ' | b'\n')).map_or(body.len(), |p| i + p);
                continue;
            }
            b'|' | b'>' if depth == 0 && token_start => {
                i = skip_block_scalar(body, i, line_indent);
                token_start = true;
                continue;
            }
            _ => token_start = false,
        }
        i += 1;
    }
    false
}

/// The index after the closing quote of a double-quoted scalar whose content starts at `i`.
fn skip_double_quoted(body: &[u8], mut i: usize) -> usize {
    while i < body.len() {
        match body[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    body.len()
}

/// The index after the closing quote of a single-quoted scalar whose content starts at `i` (`''` escapes).
fn skip_single_quoted(body: &[u8], mut i: usize) -> usize {
    while i < body.len() {
        if body[i] == b'\'' {
            if body.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    body.len()
}

/// The index of the first line after a block scalar (`|` or `>` at `i`, on a line indented `indent`): the
/// first non-blank line indented no deeper than that line.
fn skip_block_scalar(body: &[u8], i: usize, indent: usize) -> usize {
    let mut line = match body[i..].iter().position(|b| *b == b'\n') {
        Some(p) => i + p + 1,
        None => return body.len(),
    };
    while line < body.len() {
        let spaces = body[line..].iter().take_while(|b| **b == b' ').count();
        let rest = line + spaces;
        let blank = matches!(body.get(rest), None | Some(b'\n' | b'\r'));
        if !blank && spaces <= indent {
            // Back up to the newline before it, so the caller sees the line start.
            return line - 1;
        }
        line = match body[rest..].iter().position(|b| *b == b'\n') {
            Some(p) => rest + p + 1,
            None => return body.len(),
        };
    }
    body.len()
}

/// What to do with fields the schema does not know (`fieldValidation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    /// 400 naming the unknown fields.
    Strict,
    /// Accept, and warn in a `Warning` header per unknown field.
    Warn,
    /// Accept silently (dropping the fields).
    Ignore,
}

impl FieldValidation {
    /// Parses the query parameter; upstream's default is Warn.
    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other:?}; supported values are \"Ignore\", \"Warn\", \"Strict\""
            ))),
        }
    }
}

/// A decoded object and the warnings to send with the response.
pub struct Decoded {
    /// The object.
    pub object: Object,
    /// `Warning` header texts.
    pub warnings: Vec<String>,
}

/// Decodes a JSON value as an object of `kind`, checking its `apiVersion` and `kind` against the URL's and
/// its fields against the schema.
pub fn decode_object(mut value: Value, kind: Kind, validation: FieldValidation) -> Result<Decoded, ApiError> {
    let Some(map) = value.as_object_mut() else {
        return Err(ApiError::bad_request(format!("{} in body must be a JSON object", kind.name())));
    };
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), kind.api_version().into());
        }
        Some(v) if v != kind.api_version() => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({})",
                kind.api_version()
            )))
        }
        Some(_) => {}
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), kind.name().into());
        }
        Some(k) if k != kind.name() => {
            return Err(ApiError::bad_request(format!(
                "{k} in version {:?} cannot be handled as a {}: the kind in the data ({k}) does not match the expected kind ({})",
                kind.version(),
                kind.name(),
                kind.name()
            )))
        }
        Some(_) => {}
    }
    let cannot_handle = |detail: String| {
        ApiError::bad_request(format!(
            "{} in version {:?} cannot be handled as a {}: {detail}",
            kind.name(),
            kind.version(),
            kind.name()
        ))
    };
    let object = Object::from_json(kind, value.clone()).map_err(|e| cannot_handle(e.to_string()))?;
    let mut unknown = Vec::new();
    if validation != FieldValidation::Ignore {
        let round_trip = themelios_api::json::to_value(&object);
        unknown_fields(&value, &round_trip, "", &mut unknown);
    }
    let warnings = unknown.iter().map(|f| format!("unknown field {f:?}")).collect::<Vec<_>>();
    match validation {
        FieldValidation::Strict if !warnings.is_empty() => {
            Err(cannot_handle(format!("strict decoding error: {}", warnings.join(", "))))
        }
        FieldValidation::Warn => Ok(Decoded { object, warnings }),
        _ => Ok(Decoded { object, warnings: Vec::new() }),
    }
}

/// The paths of fields in `input` that the typed round trip dropped: the fields the schema does not have.
fn unknown_fields(input: &Value, typed: &Value, path: &str, out: &mut Vec<String>) {
    match (input, typed) {
        (Value::Object(given), Value::Object(kept)) => {
            for (key, value) in given {
                if value.is_null() {
                    continue;
                }
                let field = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match kept.get(key) {
                    Some(kept_value) => unknown_fields(value, kept_value, &field, out),
                    None => out.push(field),
                }
            }
        }
        (Value::Array(given), Value::Array(kept)) => {
            for (i, (value, kept_value)) in given.iter().zip(kept).enumerate() {
                unknown_fields(value, kept_value, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_validation_names_the_unknown_field_with_its_path() {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "bogus": 1,
            "data": {"a": "b"}});
        let err = decode_object(body, Kind::ConfigMap, FieldValidation::Strict).err().unwrap();
        assert_eq!(err.reason, Reason::BadRequest);
        assert_eq!(
            err.message,
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"bogus\""
        );
        let nested =
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i", "imagePolicy": 1}]}});
        let err = decode_object(nested, Kind::Pod, FieldValidation::Strict).err().unwrap();
        assert!(err.message.ends_with("unknown field \"spec.containers[0].imagePolicy\""), "{}", err.message);
    }

    #[test]
    fn warn_and_ignore_accept_unknown_fields() {
        let body = json!({"metadata": {"name": "c", "bogus": true}});
        let warned = decode_object(body.clone(), Kind::ConfigMap, FieldValidation::Warn).ok().unwrap();
        assert_eq!(warned.warnings, vec!["unknown field \"metadata.bogus\"".to_string()]);
        let ignored = decode_object(body, Kind::ConfigMap, FieldValidation::Ignore).ok().unwrap();
        assert!(ignored.warnings.is_empty());
    }

    #[test]
    fn known_fields_with_empty_or_null_values_are_not_unknown() {
        let body = json!({"metadata": {"name": "d", "creationTimestamp": null, "labels": {}},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": {}}]}}}, "status": {}});
        let decoded = decode_object(body, Kind::Deployment, FieldValidation::Strict).ok().unwrap();
        assert!(decoded.warnings.is_empty());
    }

    fn nested(open: &str, close: &str, levels: usize) -> Vec<u8> {
        format!("{}{}", open.repeat(levels), close.repeat(levels)).into_bytes()
    }

    #[test]
    fn deeply_nested_yaml_is_refused_at_once() {
        for (open, close) in [("{a: ", "}"), ("[", "]"), ("x: {a: ", "}"), ("- [", "]"), ("a: !!map {b: &x ", "}")] {
            let started = std::time::Instant::now();
            let deep = nested(open, close, 50_000);
            let error = to_value(&deep, Format::Yaml).err().unwrap();
            assert_eq!(error.reason, Reason::BadRequest);
            assert!(error.message.contains("nested more than 128 levels"), "{open}: {}", error.message);
            assert!(started.elapsed() < std::time::Duration::from_millis(500), "{open}: {:?}", started.elapsed());
            assert!(!flow_nesting_exceeds(&nested(open, close, 100), MAX_YAML_NESTING), "{open} at 100 levels");
        }
    }

    #[test]
    fn brackets_that_nest_nothing_are_not_counted() {
        let brackets = "[".repeat(200);
        let braces = "{".repeat(200);
        let manifest = format!(
            "apiVersion: v1\nkind: ConfigMap # {braces}\nmetadata:\n  name: c\ndata:\n  quoted: \"{brackets}\"\n  single: '{brackets}'' {braces}'\n  plain: text{brackets}\n  script: |\n    {braces}\n    {brackets}\n  folded: >-\n    {brackets}\n  after: {{k: [\"{brackets}\", '{braces}']}}\n"
        );
        let value = to_value(manifest.as_bytes(), Format::Yaml).ok().unwrap();
        assert_eq!(value["data"]["quoted"].as_str().unwrap(), brackets);
        assert!(value["data"]["script"].as_str().unwrap().starts_with(&braces));
        assert_eq!(value["data"]["after"]["k"][1].as_str().unwrap(), braces);
        let json = format!("{{\"a\":{{\"b\":\"{brackets}\",\"c\":[1,{{\"d\":\"{braces}\"}}]}}}}");
        assert!(to_value(json.as_bytes(), Format::Yaml).is_ok(), "JSON sent as YAML");
    }

    #[test]
    fn a_body_of_another_type_is_rejected() {
        let body = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}});
        let err = decode_object(body, Kind::Pod, FieldValidation::Strict).err().unwrap();
        assert!(err.message.contains("does not match the expected API version (v1)"), "{}", err.message);
        assert!(to_value(b"{not json", Format::Json).is_err());
        assert_eq!(object_format(Some("text/plain")).err().unwrap().reason, Reason::UnsupportedMediaType);
        assert_eq!(object_format(None).ok(), Some(Format::Json));
    }
}
