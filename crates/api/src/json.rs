//! Serialising values that always serialise: Kubernetes objects, `Status`es, `serde_json::Value`s.
//!
//! `serde_json` can fail only for a map whose keys are not strings or a `Serialize` impl that reports an
//! error; the types of the API have neither. The error is therefore a bug, and these functions panic
//! with what was being serialised rather than write an empty body or `null` in its place (a swallowed
//! error here would store or send a different object than the one decided).

use serde::Serialize;
use serde_json::Value;

/// `value` as a JSON tree.
///
/// ```
/// let status = themelios_api::json::to_value(&themelios_api::ApiError::not_found(themelios_api::Kind::Pod, "web").to_status());
/// assert_eq!(status["code"], 404);
/// ```
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_else(|e| cannot_serialise::<T>(e))
}

/// `value` as JSON bytes.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|e| cannot_serialise::<T>(e))
}

fn cannot_serialise<T: ?Sized>(error: serde_json::Error) -> ! {
    panic!("a {} did not serialise to JSON ({error}); its type must be serialisable", std::any::type_name::<T>())
}

/// `value` as a JSON string.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| cannot_serialise::<T>(e))
}

/// `value` as indented JSON, for people.
pub fn to_string_pretty<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| cannot_serialise::<T>(e))
}

/// The strings of the array `value[field]` (none if it is absent or not an array; non-strings skipped).
///
/// ```
/// let value = serde_json::json!({"groups": ["a", 1, "b"]});
/// assert_eq!(themelios_api::json::strings_of(&value, "groups"), ["a", "b"]);
/// assert!(themelios_api::json::strings_of(&value, "users").is_empty());
/// ```
pub fn strings_of(value: &serde_json::Value, field: &str) -> Vec<String> {
    let items = value.get(field).and_then(serde_json::Value::as_array);
    items.into_iter().flatten().filter_map(serde_json::Value::as_str).map(String::from).collect()
}
