//! JSON patch, RFC 6902, with JSON pointers (RFC 6901), as kube-apiserver's library applies it (a `replace`
//! of a key its object lacks adds it). A patch applies atomically: on any failing operation — a `test` that
//! does not hold included — the document is left as it was.

use super::PatchError;
use serde_json::Value;

/// Applies a JSON patch document (an array of operations) to `target`.
///
/// ```
/// use serde_json::json;
/// use themelios_apiserver::patch::json_patch::apply;
/// let mut doc = json!({"spec": {"replicas": 1}});
/// apply(&mut doc, &json!([{"op": "replace", "path": "/spec/replicas", "value": 3}])).unwrap();
/// assert_eq!(doc["spec"]["replicas"], 3);
/// let failing = json!([{"op": "replace", "path": "/spec/replicas", "value": 9}, {"op": "test", "path": "/spec/replicas", "value": 1}]);
/// assert!(apply(&mut doc, &failing).is_err());
/// assert_eq!(doc["spec"]["replicas"], 3, "nothing changed");
/// ```
pub fn apply(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let operations =
        patch.as_array().ok_or_else(|| PatchError::Malformed("a JSON patch must be an array of operations".into()))?;
    let mut doc = target.clone();
    for (index, operation) in operations.iter().enumerate() {
        apply_one(&mut doc, operation).map_err(|e| match e {
            PatchError::Malformed(m) => PatchError::Malformed(format!("operation {index}: {m}")),
            PatchError::Inapplicable(m) => PatchError::Inapplicable(m),
        })?;
    }
    *target = doc;
    Ok(())
}

fn field<'a>(operation: &'a Value, name: &str) -> Result<&'a Value, PatchError> {
    operation.get(name).ok_or_else(|| PatchError::Malformed(format!("missing {name:?}")))
}

fn path_of<'a>(operation: &'a Value, name: &str) -> Result<&'a str, PatchError> {
    field(operation, name)?.as_str().ok_or_else(|| PatchError::Malformed(format!("{name:?} must be a string")))
}

fn apply_one(doc: &mut Value, operation: &Value) -> Result<(), PatchError> {
    let op = path_of(operation, "op")?;
    let path = path_of(operation, "path")?;
    match op {
        "add" => add(doc, path, field(operation, "value")?.clone()),
        "remove" => remove(doc, path).map(|_| ()),
        "replace" => {
            let value = field(operation, "value")?.clone();
            // Upstream's JSON patch library (evanphx/json-patch v4) replaces a key its object lacks as if
            // it were there; RFC 6902 would refuse. An array index must exist.
            if let Ok((Value::Object(parent), key)) = parent_mut(doc, path) {
                parent.insert(key, value);
                return Ok(());
            }
            let slot = pointer_mut(doc, path)?;
            *slot = value;
            Ok(())
        }
        "move" => {
            let from = path_of(operation, "from")?;
            if path.starts_with(from) && path[from.len()..].starts_with('/') {
                return Err(PatchError::Inapplicable(format!("cannot move {from:?} into its own child {path:?}")));
            }
            let value = remove(doc, from)?;
            add(doc, path, value)
        }
        "copy" => {
            let from = path_of(operation, "from")?;
            let value = pointer(doc, from)?.clone();
            add(doc, path, value)
        }
        "test" => {
            let expected = field(operation, "value")?;
            let actual = pointer(doc, path)?;
            if actual == expected {
                Ok(())
            } else {
                Err(PatchError::Inapplicable(format!("testing value {path} failed")))
            }
        }
        other => Err(PatchError::Malformed(format!("unknown op {other:?}"))),
    }
}

/// The reference tokens of a JSON pointer, unescaped.
fn tokens(path: &str) -> Result<Vec<String>, PatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest =
        path.strip_prefix('/').ok_or_else(|| PatchError::Malformed(format!("path {path:?} must start with '/'")))?;
    Ok(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect())
}

fn missing(path: &str) -> PatchError {
    PatchError::Inapplicable(format!("doc is missing path: {path:?}"))
}

fn index_of(token: &str, len: usize, path: &str) -> Result<usize, PatchError> {
    let valid =
        !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) && (token == "0" || !token.starts_with('0'));
    let index: usize = if valid { token.parse().map_err(|_| missing(path))? } else { return Err(missing(path)) };
    if index < len {
        Ok(index)
    } else {
        Err(missing(path))
    }
}

fn pointer<'a>(doc: &'a Value, path: &str) -> Result<&'a Value, PatchError> {
    let mut current = doc;
    for token in tokens(path)? {
        current = match current {
            Value::Object(map) => map.get(&token).ok_or_else(|| missing(path))?,
            Value::Array(items) => &items[index_of(&token, items.len(), path)?],
            _ => return Err(missing(path)),
        };
    }
    Ok(current)
}

fn pointer_mut<'a>(doc: &'a mut Value, path: &str) -> Result<&'a mut Value, PatchError> {
    let mut current = doc;
    for token in tokens(path)? {
        current = match current {
            Value::Object(map) => map.get_mut(&token).ok_or_else(|| missing(path))?,
            Value::Array(items) => {
                let index = index_of(&token, items.len(), path)?;
                &mut items[index]
            }
            _ => return Err(missing(path)),
        };
    }
    Ok(current)
}

/// The parent of the location `path` names, and the last token.
fn parent_mut<'a>(doc: &'a mut Value, path: &str) -> Result<(&'a mut Value, String), PatchError> {
    let mut all = tokens(path)?;
    let last = all.pop().ok_or_else(|| PatchError::Inapplicable("the root cannot be removed".into()))?;
    let parent_path: String = all.iter().map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1"))).collect();
    Ok((pointer_mut(doc, &parent_path)?, last))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = parent_mut(doc, path)?;
    match parent {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(items) => {
            let index = if last == "-" { items.len() } else { index_of(&last, items.len() + 1, path)? };
            items.insert(index, value);
            Ok(())
        }
        _ => Err(missing(path)),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, PatchError> {
    let (parent, last) = parent_mut(doc, path)?;
    match parent {
        Value::Object(map) => map.remove(&last).ok_or_else(|| missing(path)),
        Value::Array(items) => {
            let index = index_of(&last, items.len(), path)?;
            Ok(items.remove(index))
        }
        _ => Err(missing(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn patched(doc: Value, patch: Value) -> Result<Value, PatchError> {
        let mut doc = doc;
        apply(&mut doc, &patch).map(|_| doc)
    }

    /// RFC 6902 appendix A.
    #[test]
    fn rfc_6902_examples() {
        let ok = [
            (json!({"foo":"bar"}), json!([{"op":"add","path":"/baz","value":"qux"}]), json!({"baz":"qux","foo":"bar"})),
            (
                json!({"foo":["bar","baz"]}),
                json!([{"op":"add","path":"/foo/1","value":"qux"}]),
                json!({"foo":["bar","qux","baz"]}),
            ),
            (json!({"baz":"qux","foo":"bar"}), json!([{"op":"remove","path":"/baz"}]), json!({"foo":"bar"})),
            (
                json!({"foo":["bar","qux","baz"]}),
                json!([{"op":"remove","path":"/foo/1"}]),
                json!({"foo":["bar","baz"]}),
            ),
            (
                json!({"baz":"qux","foo":"bar"}),
                json!([{"op":"replace","path":"/baz","value":"boo"}]),
                json!({"baz":"boo","foo":"bar"}),
            ),
            (
                json!({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}),
                json!([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]),
                json!({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}),
            ),
            (
                json!({"foo":["all","grass","cows","eat"]}),
                json!([{"op":"move","from":"/foo/1","path":"/foo/3"}]),
                json!({"foo":["all","cows","eat","grass"]}),
            ),
            (
                json!({"baz":"qux","foo":["a",2,"c"]}),
                json!([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]),
                json!({"baz":"qux","foo":["a",2,"c"]}),
            ),
            (
                json!({"foo":"bar"}),
                json!([{"op":"add","path":"/child","value":{"grandchild":{}}}]),
                json!({"foo":"bar","child":{"grandchild":{}}}),
            ),
            (
                json!({"foo":["bar"]}),
                json!([{"op":"add","path":"/foo/-","value":["abc","def"]}]),
                json!({"foo":["bar",["abc","def"]]}),
            ),
            (json!({"/":9,"~1":10}), json!([{"op":"test","path":"/~01","value":10}]), json!({"/":9,"~1":10})),
            (json!({"foo":1}), json!([{"op":"copy","from":"/foo","path":"/bar"}]), json!({"foo":1,"bar":1})),
        ];
        for (doc, patch, expected) in ok {
            assert_eq!(patched(doc.clone(), patch.clone()), Ok(expected), "{doc} + {patch}");
        }
        let failing = [
            (json!({"baz":"qux"}), json!([{"op":"test","path":"/baz","value":"bar"}])),
            (json!({"foo":"bar"}), json!([{"op":"add","path":"/baz/bat","value":"qux"}])),
            (json!({"/":9,"~1":10}), json!([{"op":"test","path":"/~01","value":"10"}])),
            (json!({"foo":["bar"]}), json!([{"op":"remove","path":"/foo/01"}])),
            (json!({"foo":"bar"}), json!([{"op":"frobnicate","path":"/foo"}])),
            (json!({"foo":{"a":1}}), json!([{"op":"move","from":"/foo","path":"/foo/a/b"}])),
        ];
        for (doc, patch) in failing {
            assert!(patched(doc.clone(), patch.clone()).is_err(), "{doc} + {patch} must fail");
        }
    }

    fn small_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![any::<i8>().prop_map(Value::from), "[a-z]{0,2}".prop_map(Value::from)];
        leaf.prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::btree_map("[a-c]", inner, 0..3).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Replacing the whole document, then testing for it, always holds.
        #[test]
        fn replace_root_then_test(a in small_json(), b in small_json()) {
            let doc = patched(a, json!([{"op": "add", "path": "", "value": b.clone()}, {"op": "test", "path": "", "value": b.clone()}]));
            prop_assert_eq!(doc, Ok(b));
        }

        /// A patch whose last operation is a failing test leaves the document exactly as it was.
        #[test]
        fn failing_test_changes_nothing(a in small_json(), v in small_json()) {
            let mut doc = a.clone();
            let patch = json!([{"op": "add", "path": "", "value": v}, {"op": "test", "path": "", "value": "never-equal-9"}]);
            prop_assert!(apply(&mut doc, &patch).is_err());
            prop_assert_eq!(doc, a);
        }

        /// Adding a member and removing it again restores an object.
        #[test]
        fn add_then_remove_restores(a in prop::collection::btree_map("[a-c]", small_json(), 0..3), v in small_json()) {
            let doc = Value::Object(a.clone().into_iter().collect());
            let out = patched(doc.clone(), json!([{"op": "add", "path": "/zz", "value": v}, {"op": "remove", "path": "/zz"}]));
            prop_assert_eq!(out, Ok(doc));
        }
    }
}
