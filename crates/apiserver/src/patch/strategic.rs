//! Strategic merge patch: a JSON merge patch that knows, from the schema, which lists merge by key
//! (containers by `name`, ports by `containerPort`…), which merge as sets (finalizers), and which are
//! replaced; with the directives `$patch` (replace, delete, merge), `$retainKeys`, `$setElementOrder/<list>`
//! and `$deleteFromPrimitiveList/<list>` that kubectl sends.

use super::PatchError;
use crate::schema::{schema, Definition, Strategy};
use serde_json::{Map, Value};

const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Applies a strategic merge patch to `doc`, an object of the definition `definition`.
///
/// ```
/// use serde_json::json;
/// use themelios_apiserver::patch::strategic::apply;
/// let mut pod_spec = json!({"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]});
/// let patch = json!({"containers": [{"name": "b", "image": "z"}]});
/// apply(&mut pod_spec, &patch, "io.k8s.api.core.v1.PodSpec").unwrap();
/// assert_eq!(pod_spec["containers"][0]["image"], "x");
/// assert_eq!(pod_spec["containers"][1]["image"], "z");
/// ```
pub fn apply(doc: &mut Value, patch: &Value, definition: &str) -> Result<(), PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::Malformed("a strategic merge patch must be a JSON object".into()));
    };
    merge_object(doc, patch, schema().definition(definition))
}

fn merge_object(
    doc: &mut Value,
    patch: &Map<String, Value>,
    definition: Option<&Definition>,
) -> Result<(), PatchError> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replaced = patch.clone();
            strip_directives(&mut replaced);
            *doc = Value::Object(replaced);
            return Ok(());
        }
        Some("delete") => {
            *doc = Value::Object(Map::new());
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => return Err(PatchError::Malformed(format!("unknown patch type {other:?}"))),
    }
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    let Value::Object(target) = doc else { return Ok(()) };
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            target.remove(key);
            continue;
        }
        let field = definition.and_then(|d| d.fields.get(key));
        let element = field.and_then(|f| schema().definition(&f.ty));
        let slot = target.entry(key.clone()).or_insert(Value::Null);
        match (field, value) {
            (Some(field), Value::Array(items)) if field.list => {
                merge_list(slot, items, field.strategy.as_ref(), element)?;
            }
            (Some(field), Value::Object(entries)) if field.map => {
                if merge_map(slot, entries, element)? == MapOutcome::Deleted {
                    target.remove(key);
                    continue;
                }
            }
            (_, Value::Object(inner))
                if element.is_some() || field.is_none() || field.is_some_and(|f| f.ty == "json") =>
            {
                merge_object(slot, inner, element)?;
            }
            _ => *slot = value.clone(),
        }
        if slot.as_object().is_some_and(|o| o.is_empty())
            && value.get("$patch").and_then(Value::as_str) == Some("delete")
        {
            target.remove(key);
        }
    }
    // Directives that act on this object's lists, after the merge.
    for (key, value) in patch {
        if let Some(list) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            if let (Some(Value::Array(items)), Value::Array(remove)) = (target.get_mut(list), value) {
                items.retain(|i| !remove.contains(i));
            }
        }
    }
    for (key, value) in patch {
        if let Some(list) = key.strip_prefix(SET_ELEMENT_ORDER) {
            let keys = definition
                .and_then(|d| d.fields.get(list))
                .and_then(|f| match &f.strategy {
                    Some(Strategy::Map(keys)) => Some(keys.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            if let (Some(Value::Array(items)), Value::Array(order)) = (target.get_mut(list), value) {
                reorder(items, order, &keys);
            }
        }
    }
    if let Some(Value::Array(retain)) = patch.get("$retainKeys") {
        let retain: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        target.retain(|k, _| retain.contains(&k.as_str()));
    }
    Ok(())
}

/// What a patch left of a map field.
#[derive(PartialEq, Eq)]
enum MapOutcome {
    Kept,
    Deleted,
}

/// Merges a patch into a map field (labels, a ConfigMap's data, a map of objects), honouring the
/// directives a map may carry — `$patch: replace | delete | merge` and `$retainKeys` — which are never
/// stored as keys.
fn merge_map(
    slot: &mut Value,
    entries: &Map<String, Value>,
    element: Option<&Definition>,
) -> Result<MapOutcome, PatchError> {
    match entries.get("$patch").and_then(Value::as_str) {
        Some("delete") => return Ok(MapOutcome::Deleted),
        Some("replace") => {
            let mut replaced = entries.clone();
            strip_directives(&mut replaced);
            *slot = Value::Object(replaced);
            return Ok(MapOutcome::Kept);
        }
        Some("merge") | None => {}
        Some(other) => return Err(PatchError::Malformed(format!("unknown patch type {other:?}"))),
    }
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    let Value::Object(existing) = slot else { return Ok(MapOutcome::Kept) };
    for (entry_key, entry) in entries {
        if is_directive(entry_key) {
            continue;
        }
        match (entry, element) {
            (Value::Null, _) => {
                existing.remove(entry_key);
            }
            (Value::Object(inner), Some(_)) => {
                merge_object(existing.entry(entry_key.clone()).or_insert(Value::Null), inner, element)?;
            }
            _ => {
                existing.insert(entry_key.clone(), entry.clone());
            }
        }
    }
    if let Some(Value::Array(retain)) = entries.get("$retainKeys") {
        let retain: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        existing.retain(|k, _| retain.contains(&k.as_str()));
    }
    Ok(MapOutcome::Kept)
}

/// Whether a patch key is a directive rather than a field or map key.
fn is_directive(key: &str) -> bool {
    key == "$patch"
        || key == "$retainKeys"
        || key.starts_with(SET_ELEMENT_ORDER)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
}

fn strip_directives(object: &mut Map<String, Value>) {
    object.retain(|k, _| !k.starts_with('$'));
}

/// Whether a list item has the given key values.
fn same_item(a: &Value, b: &Value, keys: &[String]) -> bool {
    !keys.is_empty() && keys.iter().all(|k| a.get(k) == b.get(k)) && a.get(&keys[0]).is_some()
}

fn merge_list(
    slot: &mut Value,
    patch: &[Value],
    strategy: Option<&Strategy>,
    element: Option<&Definition>,
) -> Result<(), PatchError> {
    // `{"$patch": "replace"}` in a list replaces the whole list with the other items.
    if patch.iter().any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace")) {
        let items: Vec<Value> = patch
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .cloned()
            .map(|mut i| {
                if let Value::Object(o) = &mut i {
                    strip_directives(o);
                }
                i
            })
            .collect();
        *slot = Value::Array(items);
        return Ok(());
    }
    match strategy {
        Some(Strategy::Map(keys)) => {
            // Upstream merges by the patch merge key: the first of the list-map keys.
            let keys = &keys[..keys.len().min(1)];
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            let Value::Array(items) = slot else { return Ok(()) };
            for item in patch {
                let Value::Object(fields) = item else {
                    return Err(PatchError::Malformed("items of a keyed list must be objects".into()));
                };
                if keys.first().is_some_and(|k| !fields.contains_key(k)) {
                    return Err(PatchError::Malformed(format!(
                        "map: {item} does not contain declared merge key: {}",
                        keys.first().map(String::as_str).unwrap_or("")
                    )));
                }
                let position = items.iter().position(|existing| same_item(existing, item, keys));
                match (fields.get("$patch").and_then(Value::as_str), position) {
                    (Some("delete"), Some(at)) => {
                        items.remove(at);
                    }
                    (Some("delete"), None) => {}
                    (Some("replace"), found) => {
                        let mut replaced = fields.clone();
                        strip_directives(&mut replaced);
                        match found {
                            Some(at) => items[at] = Value::Object(replaced),
                            None => items.push(Value::Object(replaced)),
                        }
                    }
                    (_, Some(at)) => merge_object(&mut items[at], fields, element)?,
                    (_, None) => {
                        let mut added = Value::Null;
                        merge_object(&mut added, fields, element)?;
                        items.push(added);
                    }
                }
            }
        }
        Some(Strategy::Set) => {
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            if let Value::Array(items) = slot {
                for item in patch {
                    if !items.contains(item) {
                        items.push(item.clone());
                    }
                }
            }
        }
        _ => *slot = Value::Array(patch.to_vec()),
    }
    Ok(())
}

/// Orders `items` as `order` lists them (by merge key, or by value for scalars); items the order does not
/// name keep their relative order after the named ones.
fn reorder(items: &mut [Value], order: &[Value], keys: &[String]) {
    let rank = |item: &Value| {
        order.iter().position(|o| if keys.is_empty() { o == item } else { same_item(o, item, &keys[..1]) })
    };
    items.sort_by_key(|item| rank(item).unwrap_or(usize::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";

    fn patched(doc: Value, patch: Value, definition: &str) -> Value {
        let mut doc = doc;
        apply(&mut doc, &patch, definition).unwrap();
        doc
    }

    #[test]
    fn directives_in_a_map_of_strings_act_and_are_never_stored() {
        const CONFIG_MAP: &str = "io.k8s.api.core.v1.ConfigMap";
        let doc = json!({"data": {"a": "1", "b": "2"}, "metadata": {"labels": {"x": "1", "y": "2"}}});
        let replaced = patched(doc.clone(), json!({"data": {"$patch": "replace", "c": "3"}}), CONFIG_MAP);
        assert_eq!(replaced["data"], json!({"c": "3"}));
        let deleted = patched(doc.clone(), json!({"data": {"$patch": "delete"}}), CONFIG_MAP);
        assert!(deleted.get("data").is_none(), "{deleted}");
        let merged = patched(doc.clone(), json!({"data": {"$patch": "merge", "a": "9"}}), CONFIG_MAP);
        assert_eq!(merged["data"], json!({"a": "9", "b": "2"}));
        let retained =
            patched(doc.clone(), json!({"metadata": {"labels": {"$retainKeys": ["y"], "z": "3"}}}), CONFIG_MAP);
        assert_eq!(retained["metadata"]["labels"], json!({"y": "2"}));
        let mut unknown = doc;
        let error = apply(&mut unknown, &json!({"data": {"$patch": "shuffle"}}), CONFIG_MAP).err().unwrap();
        assert!(matches!(error, PatchError::Malformed(m) if m.contains("shuffle")));
    }

    #[test]
    fn kubectl_apply_patch_merges_containers_and_deletes_an_env_var() {
        let doc = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "api", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "1"}]},
            {"name": "side", "image": "busybox"}]}}}});
        let patch = json!({"spec":{"replicas":4,"template":{"spec":{"$setElementOrder/containers":[{"name":"api"},{"name":"side"}],
            "containers":[{"$setElementOrder/env":[{"name":"B"}],"env":[{"name":"B","value":"2"},{"$patch":"delete","name":"A"}],
            "image":"nginx:1.26","name":"api"}]}}}});
        let out = patched(doc, patch, DEPLOYMENT);
        assert_eq!(out["spec"]["replicas"], 4);
        let containers = out["spec"]["template"]["spec"]["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 2);
        assert_eq!(containers[0]["image"], "nginx:1.26");
        assert_eq!(containers[0]["env"], json!([{"name": "B", "value": "2"}]));
        assert_eq!(containers[1], json!({"name": "side", "image": "busybox"}));
    }

    #[test]
    fn null_removes_and_set_element_order_reorders() {
        let doc = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"template": {"spec": {"containers": [
            {"name": "x", "image": "1"}, {"name": "y", "image": "2"}]}}}});
        let patch = json!({"metadata": {"labels": {"a": null}}, "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "y"}, {"name": "x"}]}}}});
        let out = patched(doc, patch, DEPLOYMENT);
        assert_eq!(out["metadata"]["labels"], json!({"b": "2"}));
        assert_eq!(out["spec"]["template"]["spec"]["containers"][0]["name"], "y");
    }

    #[test]
    fn finalizers_merge_as_a_set_and_can_be_deleted_from() {
        let doc = json!({"metadata": {"finalizers": ["a", "b"]}});
        let out = patched(doc, json!({"metadata": {"finalizers": ["b", "c"]}}), DEPLOYMENT);
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));
        let out = patched(out, json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}), DEPLOYMENT);
        assert_eq!(out["metadata"]["finalizers"], json!(["b", "c"]));
    }

    #[test]
    fn atomic_lists_are_replaced_and_replace_directive_replaces() {
        let doc = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["a", "b"]}]}}}});
        let out = patched(
            doc,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["z"]}]}}}}),
            DEPLOYMENT,
        );
        assert_eq!(out["spec"]["template"]["spec"]["containers"][0]["args"], json!(["z"]));
        let out = patched(
            out,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "d", "image": "i"}, {"$patch": "replace"}]}}}}),
            DEPLOYMENT,
        );
        assert_eq!(out["spec"]["template"]["spec"]["containers"], json!([{"name": "d", "image": "i"}]));
    }

    #[test]
    fn retain_keys_drops_the_other_fields() {
        let doc = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let out =
            patched(doc, json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}), DEPLOYMENT);
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    fn scalar_tree() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![any::<i16>().prop_map(Value::from), "[a-z]{0,3}".prop_map(Value::from)];
        leaf.prop_recursive(3, 16, 3, |inner| {
            prop::collection::btree_map("[x-z]", inner, 0..3).prop_map(|m| Value::Object(m.into_iter().collect()))
        })
    }

    proptest::proptest! {
        /// Where the schema says nothing (annotations, labels, unknown objects) a strategic merge patch is an
        /// RFC 7386 merge patch: the diff of two documents turns one into the other.
        #[test]
        fn without_lists_strategic_merge_is_json_merge(a in scalar_tree(), b in scalar_tree()) {
            let (doc_a, doc_b) = (json!({"metadata": {"annotations": {}}, "x": a}), json!({"metadata": {"annotations": {}}, "x": b}));
            let mut strategic = doc_a.clone();
            apply(&mut strategic, &super::super::merge::diff(&doc_a, &doc_b), DEPLOYMENT).unwrap();
            proptest::prop_assert_eq!(strategic, doc_b);
        }

        /// Patching one keyed item changes that item only, whatever the others are.
        #[test]
        fn a_keyed_patch_touches_only_its_item(names in proptest::collection::btree_set("[a-e]", 1..5), image in "[a-z]{1,4}") {
            let containers: Vec<Value> = names.iter().map(|n| json!({"name": n, "image": "old"})).collect();
            let target = names.iter().next().unwrap().clone();
            let doc = json!({"spec": {"template": {"spec": {"containers": containers.clone()}}}});
            let out = patched(doc, json!({"spec": {"template": {"spec": {"containers": [{"name": target, "image": image}]}}}}), DEPLOYMENT);
            let items = out["spec"]["template"]["spec"]["containers"].as_array().unwrap().clone();
            proptest::prop_assert_eq!(items.len(), containers.len());
            for (item, before) in items.iter().zip(&containers) {
                let expected = if item["name"] == target.as_str() { json!(image.clone()) } else { before["image"].clone() };
                proptest::prop_assert_eq!(&item["image"], &expected);
            }
        }
    }

    #[test]
    fn an_item_without_its_merge_key_is_rejected() {
        let mut doc = json!({});
        let err =
            apply(&mut doc, &json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}), DEPLOYMENT);
        assert!(matches!(err, Err(PatchError::Malformed(m)) if m.contains("merge key: name")));
    }
}
