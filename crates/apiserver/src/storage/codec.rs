//! Objects on disk: their JSON, as the API serves them, with `apiVersion` and `kind` telling their type.

use themelios_api::{Kind, Object};

/// Encodes an object as JSON bytes.
pub fn encode_object(object: &Object) -> Vec<u8> {
    // k8s-openapi structs always serialise: their maps have string keys.
    themelios_api::json::to_vec(object)
}

/// Decodes an object written by [`encode_object`].
///
/// ```
/// use themelios_apiserver::storage::{decode_object, encode_object};
/// use themelios_api::Resource;
/// let mut ns = k8s_openapi::api::core::v1::Namespace::default();
/// ns.metadata.name = Some("demo".into());
/// let object = ns.into_object();
/// assert_eq!(decode_object(&encode_object(&object)).unwrap(), object);
/// assert!(decode_object(b"{}").is_err());
/// ```
pub fn decode_object(bytes: &[u8]) -> Result<Object, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    decode_value(value)
}

/// Decodes a JSON value carrying `apiVersion` and `kind`.
pub fn decode_value(value: serde_json::Value) -> Result<Object, String> {
    let api_version = value.get("apiVersion").and_then(|v| v.as_str()).unwrap_or_default();
    let kind_name = value.get("kind").and_then(|v| v.as_str()).unwrap_or_default();
    let kind =
        Kind::from_type(api_version, kind_name).ok_or_else(|| format!("unknown type {api_version}/{kind_name}"))?;
    Object::from_json(kind, value).map_err(|e| e.to_string())
}
