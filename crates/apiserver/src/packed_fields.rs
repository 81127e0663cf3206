//! How the server keeps `metadata.managedFields` in memory: each entry's `fieldsV1` tree packed into one
//! string of its compact JSON, and unpacked again in everything a client reads.
//!
//! k8s-openapi holds `fieldsV1` as a `serde_json::Value` tree, a B-tree node of a few hundred bytes per
//! non-empty map: a pod's single entry costs 5.6 KiB that way, more than its spec, against about 1 KiB
//! packed. Upstream holds it as raw bytes too (`FieldsV1.Raw`). Packed entries only ever live inside the
//! store; [`write_object`] and [`object_value`] are the client's view of a stored object, and
//! [`fields_of`] reads either form (a data directory written before packing holds trees).
//!
//! ```
//! use serde_json::json;
//! let tree = json!({"f:metadata": {"f:labels": {"f:app": {}}}});
//! let packed = themelios_apiserver::packed_fields::pack(&tree);
//! assert!(packed.is_string());
//! assert_eq!(themelios_apiserver::packed_fields::fields_of(&packed), tree);
//! ```

use serde_json::Value;
use themelios_api::Object;

/// The packed form of a `fieldsV1` tree.
pub fn pack(tree: &Value) -> Value {
    Value::String(themelios_api::json::to_string(tree))
}

/// The `fieldsV1` tree of an entry's value, packed or not (`Null` if it is neither).
pub fn fields_of(value: &Value) -> Value {
    match value {
        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        other => other.clone(),
    }
}

/// The packed `fieldsV1` strings of an object's managed fields, in order.
fn packed_of(object: &Object) -> Vec<&str> {
    object
        .meta()
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|entry| match entry.fields_v1.as_ref().map(|f| &f.0) {
            Some(Value::String(text)) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// Appends the JSON a client sees of `object` to `out`: its serialisation, with each packed `fieldsV1`
/// string written as the JSON it holds.
pub fn write_object(out: &mut Vec<u8>, object: &Object) {
    let packed = packed_of(object);
    if packed.is_empty() {
        let _ = serde_json::to_writer(&mut *out, object);
        return;
    }
    let serialised = themelios_api::json::to_vec(object);
    let mut from = 0;
    for text in packed {
        // An unescaped `"fieldsV1":"` can only be the key itself: quotes inside strings are escaped.
        let needle = format!("\"fieldsV1\":{}", themelios_api::json::to_string(text));
        let Some(at) = find(&serialised[from..], needle.as_bytes()).map(|at| from + at) else { continue };
        out.extend_from_slice(&serialised[from..at]);
        out.extend_from_slice(b"\"fieldsV1\":");
        out.extend_from_slice(text.as_bytes());
        from = at + needle.len();
    }
    out.extend_from_slice(&serialised[from..]);
}

/// The JSON value a client sees of `object` (see [`write_object`]).
pub fn object_value(object: &Object) -> Value {
    let mut value = themelios_api::json::to_value(object);
    unpack(&mut value);
    value
}

/// Unpacks every packed `fieldsV1` of an object's JSON value in place.
pub fn unpack(value: &mut Value) {
    let entries = value.pointer_mut("/metadata/managedFields").and_then(Value::as_array_mut);
    for entry in entries.into_iter().flatten() {
        if let Some(fields) = entry.get_mut("fieldsV1").filter(|f| f.is_string()) {
            *fields = fields_of(fields);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use themelios_api::Kind;

    fn pod(fields: [Value; 2]) -> Object {
        let [first, second] = fields;
        Object::from_json(
            Kind::Pod,
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": "ns",
                    // A value that looks like a packed entry must stay as it is.
                    "annotations": {"note": "\"fieldsV1\":\"{}\""},
                    "managedFields": [
                        {"manager": "a", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": first},
                        {"manager": "b", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": second}]},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
        )
        .expect("a valid pod")
    }

    #[test]
    fn clients_see_packed_fields_as_the_trees_they_hold() {
        let first = json!({"f:metadata": {"f:annotations": {"f:note": {}}}});
        let second = json!({"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}}}}});
        let tree = pod([first.clone(), second.clone()]);
        let packed = pod([pack(&first), pack(&second)]);
        assert_ne!(serde_json::to_value(&packed).ok(), serde_json::to_value(&tree).ok());

        let mut written = Vec::new();
        write_object(&mut written, &packed);
        let written: Value = serde_json::from_slice(&written).expect("valid JSON");
        let expected = serde_json::to_value(&tree).expect("serialisable");
        assert_eq!(written, expected);
        assert_eq!(object_value(&packed), expected);
        assert_eq!(written["metadata"]["annotations"]["note"], "\"fieldsV1\":\"{}\"");

        // Trees (a data directory from before packing) pass through unchanged.
        let mut unpacked = Vec::new();
        write_object(&mut unpacked, &tree);
        assert_eq!(serde_json::from_slice::<Value>(&unpacked).ok(), Some(expected));
    }

    #[test]
    fn a_packed_entry_is_far_smaller_than_its_tree() {
        let tree = json!({"f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}, "f:ownerReferences":
            {"k:{\"uid\":\"7e3e\"}": {".": {}, "f:kind": {}, "f:name": {}, "f:uid": {}}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}}}}});
        // Nested maps each allocate a B-tree node; the packed form is one string.
        fn maps(v: &Value) -> usize {
            v.as_object().map_or(0, |m| usize::from(!m.is_empty()) + m.values().map(maps).sum::<usize>())
        }
        assert!(maps(&tree) >= 7);
        assert_eq!(maps(&pack(&tree)), 0);
        assert_eq!(fields_of(&pack(&tree)), tree);
    }
}
