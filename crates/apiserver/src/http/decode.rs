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
        Format::Yaml => serde_yaml_ng::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding request body as YAML: {e}"))),
        Format::Protobuf => super::protobuf::decode(body),
    }
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
