//! ConfigMap and Secret: keys a pod can mount as file names, no key in both maps, and at most 1 MiB of
//! data, as upstream.

use crate::error::FieldError;
use crate::names;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};

/// Upstream's limit on a ConfigMap's or a Secret's data, which keeps each object within what etcd stores.
pub const MAX_DATA_BYTES: usize = 1024 * 1024;

/// Every problem with a ConfigMap's data.
pub fn config_map(config_map: &ConfigMap) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let data = config_map.data.iter().flatten().map(|(k, v)| (k, v.len()));
    let binary = config_map.binary_data.iter().flatten().map(|(k, v)| (k, v.0.len()));
    let mut total = 0;
    for (key, size) in data {
        total += size;
        keyed(&mut errors, "data", key);
        if config_map.binary_data.as_ref().is_some_and(|b| b.contains_key(key)) {
            errors.push(FieldError::invalid(format!("data[{key}]"), key, "duplicate of key present in binaryData"));
        }
    }
    for (key, size) in binary {
        total += size;
        keyed(&mut errors, "binaryData", key);
    }
    if total > MAX_DATA_BYTES {
        // Upstream names the whole object by an empty path, which prints as `[]`.
        errors.push(FieldError::too_long("[]", MAX_DATA_BYTES));
    }
    errors
}

/// Every problem with a Secret's data (defaulting has folded `stringData` into `data`).
pub fn secret(secret: &Secret) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut total = 0;
    for (key, value) in secret.data.iter().flatten() {
        total += value.0.len();
        keyed(&mut errors, "data", key);
    }
    if total > MAX_DATA_BYTES {
        errors.push(FieldError::too_long("data", MAX_DATA_BYTES));
    }
    errors
}

fn keyed(errors: &mut Vec<FieldError>, map: &str, key: &str) {
    if let Some(why) = names::config_key(key) {
        errors.push(FieldError::invalid(format!("{map}[{key}]"), key, why));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    fn config(data: &[(&str, usize)], binary: &[(&str, usize)]) -> ConfigMap {
        ConfigMap {
            data: Some(data.iter().map(|(k, n)| (k.to_string(), "v".repeat(*n))).collect()),
            binary_data: Some(binary.iter().map(|(k, n)| (k.to_string(), ByteString(vec![0; *n]))).collect()),
            ..ConfigMap::default()
        }
    }

    #[test]
    fn keys_must_be_file_names() {
        for good in ["a", "key.name", "KEY_NAME", "key-name", ".hidden", "a..b"] {
            assert_eq!(names::config_key(good), None, "{good}");
        }
        for bad in ["", "has space", "a/b", "$patch", ".", "..", "..a", &"k".repeat(254)] {
            assert!(names::config_key(bad).is_some(), "{bad:?}");
        }
        let errors = config_map(&config(&[("a b", 1)], &[]));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "data[a b]");
    }

    #[test]
    fn a_key_may_not_be_in_both_maps_and_data_is_at_most_one_mebibyte() {
        let both = config_map(&config(&[("k", 1)], &[("k", 1)]));
        let fields: Vec<&str> = both.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["data[k]"], "reported once, as upstream");
        assert!(config_map(&config(&[("a", MAX_DATA_BYTES / 2)], &[("b", MAX_DATA_BYTES / 2)])).is_empty());
        let over = config_map(&config(&[("a", MAX_DATA_BYTES / 2)], &[("b", MAX_DATA_BYTES / 2 + 1)]));
        assert_eq!(over.len(), 1);
        assert_eq!(over[0].to_string(), "[]: Too long: may not be more than 1048576 bytes");
        let secret = Secret {
            data: Some(BTreeMap::from([("big".to_string(), ByteString(vec![1; MAX_DATA_BYTES + 1]))])),
            ..Secret::default()
        };
        assert_eq!(super::secret(&secret)[0].field, "data");
    }
}
