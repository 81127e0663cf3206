//! Field ownership (`metadata.managedFields`) and server-side apply.
//!
//! A field set is a tree of path elements in upstream's FieldsV1 spelling: `f:<field>` for a field,
//! `k:{"name":"c"}` for the item of a keyed list, `v:<json>` for a member of a set, and `.` for a list item
//! itself. Every write records which manager set which fields; an apply fails with a FieldManagerConflict
//! when it would change a field another manager owns, unless forced.

use crate::schema::{schema, Definition, Strategy};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use themelios_api::{ApiError, Kind, Reason, Time};

/// A set of field paths, as a tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet(BTreeMap<String, FieldSet>);

/// Metadata and type fields the server owns; never part of a manager's set.
const SYSTEM_FIELDS: &[&str] = &[
    "f:apiVersion",
    "f:kind",
    "f:status",
    "f:metadata/f:name",
    "f:metadata/f:namespace",
    "f:metadata/f:uid",
    "f:metadata/f:resourceVersion",
    "f:metadata/f:generation",
    "f:metadata/f:creationTimestamp",
    "f:metadata/f:deletionTimestamp",
    "f:metadata/f:deletionGracePeriodSeconds",
    "f:metadata/f:managedFields",
    "f:metadata/f:selfLink",
];

impl FieldSet {
    /// The fields set in `value`, an object of `definition`, without the fields the server owns.
    pub fn of(value: &Value, definition: &str) -> FieldSet {
        Self::of_part(value, definition, None)
    }

    /// The fields a write of `subresource` (the main resource when `None`) can own: the main resource's
    /// writers never own status, a status writer never owns the spec (upstream's reset fields).
    pub fn of_part(value: &Value, definition: &str, subresource: Option<&str>) -> FieldSet {
        let mut set = FieldSet::default();
        collect(value, schema().definition(definition), &mut set);
        for path in SYSTEM_FIELDS {
            if *path == "f:status" && subresource == Some("status") {
                continue;
            }
            let parts: Vec<&str> = path.split('/').collect();
            set.remove(&parts);
        }
        if subresource == Some("status") {
            set.remove(&["f:spec"]);
        }
        set
    }

    /// Removes `path`, and every node on the way to it that the removal leaves empty: stripping
    /// `metadata.name` from `{f:metadata: {f:name}}` leaves no `f:metadata` behind (which would read as the
    /// leaf "all of metadata"), while a leaf that was empty to begin with (`f:resources: {}`, an empty
    /// object the manager set) stays.
    fn remove(&mut self, path: &[&str]) {
        match path {
            [] => {}
            [last] => {
                self.0.remove(*last);
            }
            [first, rest @ ..] => {
                if let Some(child) = self.0.get_mut(*first) {
                    let had_children = !child.0.is_empty();
                    child.remove(rest);
                    if had_children && child.0.is_empty() {
                        self.0.remove(*first);
                    }
                }
            }
        }
    }

    /// Every leaf path.
    pub fn leaves(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        self.walk(&mut Vec::new(), &mut out);
        out
    }

    fn walk(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        for (element, child) in &self.0 {
            prefix.push(element.clone());
            if child.0.is_empty() {
                out.push(prefix.clone());
            } else {
                child.walk(prefix, out);
            }
            prefix.pop();
        }
    }

    /// Whether the set holds `path` as a leaf.
    pub fn contains(&self, path: &[String]) -> bool {
        match path {
            [] => self.0.is_empty(),
            [first, rest @ ..] => self.0.get(first).is_some_and(|child| child.contains(rest)),
        }
    }

    fn insert(&mut self, path: &[String]) {
        if let [first, rest @ ..] = path {
            self.0.entry(first.clone()).or_default().insert(rest);
        }
    }

    fn remove_path(&mut self, path: &[String]) {
        let parts: Vec<&str> = path.iter().map(String::as_str).collect();
        self.remove(&parts);
    }

    /// The `.` members of the interior fields (`f:` elements with fields under them) that `before` lacks:
    /// what upstream's comparison adds for a field a write brought in whole.
    fn added_interior(&self, before: &Value) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        self.walk_interior(&mut Vec::new(), before, &mut out);
        out
    }

    fn walk_interior(&self, prefix: &mut Vec<String>, before: &Value, out: &mut Vec<Vec<String>>) {
        for (element, child) in &self.0 {
            if child.0.is_empty() || element == "." {
                continue;
            }
            prefix.push(element.clone());
            if element.starts_with("f:") && value_at(before, prefix).is_none() {
                let mut member = prefix.clone();
                member.push(".".into());
                out.push(member);
            }
            child.walk_interior(prefix, before, out);
            prefix.pop();
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The FieldsV1 JSON.
    pub fn to_json(&self) -> Value {
        Value::Object(self.0.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
    }

    /// Reads FieldsV1 JSON.
    pub fn from_json(value: &Value) -> FieldSet {
        FieldSet(value.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), FieldSet::from_json(v))).collect())
    }
}

fn key_element(item: &Value, keys: &[String]) -> Option<String> {
    let mut key = Map::new();
    for k in keys {
        // Upstream identifies an item by the keys it has; a missing key is skipped.
        if let Some(v) = item.get(k) {
            key.insert(k.clone(), v.clone());
        }
    }
    (!key.is_empty()).then(|| format!("k:{}", Value::Object(key)))
}

/// How server-side apply treats a field: upstream's apply structure where it is known, else the strategic
/// merge patch's.
fn apply_strategy(field: &crate::schema::Field) -> Option<&Strategy> {
    field.apply.as_ref().or(field.strategy.as_ref())
}

fn collect(value: &Value, definition: Option<&Definition>, into: &mut FieldSet) {
    let Value::Object(fields) = value else { return };
    for (name, field_value) in fields {
        // A null is a value too (Go writes an unset time held by value as null): a leaf.
        let element = format!("f:{name}");
        let field = definition.and_then(|d| d.fields.get(name));
        let nested = field.and_then(|f| schema().definition(&f.ty));
        let child = into.0.entry(element).or_default();
        match (field, field_value) {
            (Some(f), Value::Array(items)) if f.list => match apply_strategy(f) {
                Some(Strategy::Map(keys)) => {
                    for item in items {
                        if let Some(key) = key_element(item, keys) {
                            let item_set = child.0.entry(key).or_default();
                            item_set.0.insert(".".into(), FieldSet::default());
                            collect(item, nested, item_set);
                        }
                    }
                }
                Some(Strategy::Set) => {
                    for item in items {
                        child.0.insert(format!("v:{item}"), FieldSet::default());
                    }
                }
                _ => {}
            },
            (Some(f), Value::Object(entries)) if f.map && apply_strategy(f) != Some(&Strategy::Atomic) => {
                for (key, entry) in entries {
                    let entry_set = child.0.entry(format!("f:{key}")).or_default();
                    if nested.is_some() {
                        collect(entry, nested, entry_set);
                    }
                }
            }
            // An atomic type, or one with no fields of its own (a RawExtension), is owned whole.
            (_, Value::Object(_)) if nested.is_some_and(|d| !d.atomic && !d.fields.is_empty()) => {
                collect(field_value, nested, child)
            }
            _ => {}
        }
    }
}

/// The value at a field path, if the object has it.
fn value_at<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    let Some((first, rest)) = path.split_first() else { return Some(value) };
    if first == "." {
        return Some(value);
    }
    if let Some(name) = first.strip_prefix("f:") {
        return value_at(value.get(name)?, rest);
    }
    if let Some(key) = first.strip_prefix("k:") {
        let key: Map<String, Value> = serde_json::from_str(key).ok()?;
        let item = value.as_array()?.iter().find(|item| key.iter().all(|(k, v)| item.get(k) == Some(v)))?;
        return value_at(item, rest);
    }
    if let Some(member) = first.strip_prefix("v:") {
        let member: Value = serde_json::from_str(member).ok()?;
        return value.as_array()?.iter().find(|m| **m == member);
    }
    None
}

/// Removes the value at a field path.
fn remove_at(value: &mut Value, path: &[String]) {
    match path {
        [] => {}
        [last] | [last, _] if path.len() == 1 || path[1] == "." => {
            if let Some(name) = last.strip_prefix("f:") {
                if let Value::Object(map) = value {
                    map.remove(name);
                }
            } else if let Some(key) = last.strip_prefix("k:") {
                if let (Ok(key), Value::Array(items)) = (serde_json::from_str::<Map<String, Value>>(key), &mut *value) {
                    items.retain(|item| !key.iter().all(|(k, v)| item.get(k) == Some(v)));
                }
            } else if let Some(member) = last.strip_prefix("v:") {
                if let (Ok(member), Value::Array(items)) = (serde_json::from_str::<Value>(member), &mut *value) {
                    items.retain(|m| *m != member);
                }
            }
        }
        [first, rest @ ..] => {
            let child = if let Some(name) = first.strip_prefix("f:") {
                value.get_mut(name)
            } else if let Some(key) = first.strip_prefix("k:") {
                let key: Option<Map<String, Value>> = serde_json::from_str(key).ok();
                key.and_then(|key| {
                    value.as_array_mut()?.iter_mut().find(|item| key.iter().all(|(k, v)| item.get(k) == Some(v)))
                })
            } else {
                None
            };
            if let Some(child) = child {
                remove_at(child, rest);
            }
        }
    }
}

/// One `managedFields` entry.
#[derive(Clone, Debug)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: Option<Value>,
    subresource: Option<String>,
    fields: FieldSet,
}

fn entries_of(object: &Value) -> Vec<Entry> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| Entry {
            manager: e["manager"].as_str().unwrap_or("").to_string(),
            operation: e["operation"].as_str().unwrap_or("Update").to_string(),
            api_version: e["apiVersion"].as_str().unwrap_or("").to_string(),
            time: e.get("time").cloned(),
            subresource: e["subresource"].as_str().map(str::to_string),
            fields: FieldSet::from_json(&crate::packed_fields::fields_of(&e["fieldsV1"])),
        })
        .collect()
}

/// Stores `entries` in upstream's order: applies before updates, then oldest first (an entry without a time
/// first of all), then by manager, apiVersion and subresource.
fn store_entries(object: &mut Value, mut entries: Vec<Entry>) {
    // RFC 3339 times in UTC order as their text does.
    let time = |e: &Entry| e.time.as_ref().and_then(Value::as_str).map(str::to_string).unwrap_or_default();
    entries.sort_by(|p, q| {
        (
            p.operation.as_str(),
            time(p),
            p.manager.as_str(),
            p.api_version.as_str(),
            p.subresource.as_deref().unwrap_or(""),
        )
            .cmp(&(
                q.operation.as_str(),
                time(q),
                q.manager.as_str(),
                q.api_version.as_str(),
                q.subresource.as_deref().unwrap_or(""),
            ))
    });
    let list: Vec<Value> = entries
        .into_iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut entry = json!({"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version,
                "fieldsType": "FieldsV1", "fieldsV1": crate::packed_fields::pack(&e.fields.to_json())});
            if let Some(time) = e.time {
                entry["time"] = time;
            }
            if let Some(sub) = e.subresource {
                entry["subresource"] = sub.into();
            }
            entry
        })
        .collect();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

fn now_json(now: Time) -> Value {
    themelios_api::json::to_value(&now.to_k8s())
}

/// Records a non-apply write (create, update, patch) by `manager`: the fields it changed become its own
/// (an `Update` entry) and leave every other manager's set, as upstream's update-operation ownership.
/// A field that was absent before and holds fields now is owned itself too (`.`), as upstream's comparison
/// adds it; for a create "before" is the empty object as Go writes it ([`themelios_api::wire::zero_object`]).
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    kind: Kind,
    manager: &str,
    now: Time,
    subresource: Option<&str>,
) {
    let zero = themelios_api::wire::zero_object(kind);
    let typed = Typed { definition: crate::schema::definition_of(kind), api_version: kind.api_version(), zero: &zero };
    record_update_of(old, new, &typed, manager, now, subresource)
}

/// A type whose fields are tracked: its schema definition, `apiVersion`, and the form of an object
/// with nothing set.
pub struct Typed<'a> {
    /// e.g. `io.k8s.api.authorization.v1.SubjectAccessReview`
    pub definition: String,
    /// e.g. `authorization.k8s.io/v1`
    pub api_version: &'a str,
    /// What a create is compared with.
    pub zero: &'a Value,
}

/// [`record_update`] for any type of the schema, stored or not (a review records its writer as upstream's
/// does, though nothing keeps it).
pub fn record_update_of(
    old: Option<&Value>,
    new: &mut Value,
    typed: &Typed,
    manager: &str,
    now: Time,
    subresource: Option<&str>,
) {
    let definition = &typed.definition;
    let new_set = FieldSet::of_part(new, definition, subresource);
    let before = old.unwrap_or(typed.zero);
    let mut entries = old.map(entries_of).unwrap_or_default();
    let mut changed: Vec<Vec<String>> =
        new_set.leaves().into_iter().filter(|path| value_at(before, path) != value_at(new, path)).collect();
    changed.extend(new_set.added_interior(before));
    // Everything the object holds, whichever part's writers own it.
    let held = [None, Some("status")].map(|part| FieldSet::of_part(new, definition, part));
    for entry in &mut entries {
        // Fields the write removed are nobody's any more; fields it changed are the writer's.
        // (A `.` member stays while the field it stands for is there.)
        let present = |p: &Vec<String>| {
            held.iter().any(|set| set.contains(p)) || (p.last().is_some_and(|e| e == ".") && value_at(new, p).is_some())
        };
        let gone: Vec<Vec<String>> = entry.fields.leaves().into_iter().filter(|p| !present(p)).collect();
        for path in gone.iter().chain(changed.iter()) {
            entry.fields.remove_path(path);
        }
    }
    if !changed.is_empty() {
        let position = entries
            .iter()
            .position(|e| e.manager == manager && e.operation == "Update" && e.subresource.as_deref() == subresource);
        let entry = match position {
            Some(at) => &mut entries[at],
            None => {
                entries.push(Entry {
                    manager: manager.to_string(),
                    operation: "Update".into(),
                    api_version: typed.api_version.into(),
                    time: None,
                    subresource: subresource.map(str::to_string),
                    fields: FieldSet::default(),
                });
                let last = entries.len() - 1;
                &mut entries[last]
            }
        };
        for path in &changed {
            entry.fields.insert(path);
        }
        entry.time = Some(now_json(now));
    }
    store_entries(new, entries);
}

/// Records a write through the scale subresource by `manager` that changed the replicas, as upstream's
/// scale handler: the replicas become the manager's alone, in its entry for the `scale` subresource. That
/// entry keeps the time it had and a new one has none (upstream takes the times from the parent's entries).
pub fn record_scale(object: &mut Value, kind: Kind, manager: &str) {
    let replicas = ["f:spec".to_string(), "f:replicas".to_string()];
    let mut entries = entries_of(object);
    let is_writer =
        |e: &Entry| e.manager == manager && e.operation == "Update" && e.subresource.as_deref() == Some("scale");
    for entry in entries.iter_mut().filter(|e| !is_writer(e)) {
        entry.fields.remove_path(&replicas);
    }
    match entries.iter_mut().find(|e| is_writer(e)) {
        Some(entry) => entry.fields.insert(&replicas),
        None => {
            let mut fields = FieldSet::default();
            fields.insert(&replicas);
            entries.push(Entry {
                manager: manager.to_string(),
                operation: "Update".into(),
                api_version: kind.api_version().into(),
                time: None,
                subresource: Some("scale".into()),
                fields,
            });
        }
    }
    store_entries(object, entries);
}

/// Server-side apply of `config` by `manager` onto `live` (absent for a create): the merged object with
/// its managed fields, or a 409 listing the fields other managers own and `config` would change.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    kind: Kind,
    manager: &str,
    force: bool,
    now: Time,
) -> Result<Value, ApiError> {
    let definition = crate::schema::definition_of(kind);
    let applied = FieldSet::of(config, &definition);
    let empty = json!({});
    let live_value = live.unwrap_or(&empty);
    let mut entries = entries_of(live_value);
    let is_mine = |e: &Entry| e.manager == manager && e.operation == "Apply";
    let mut conflicts: Vec<(&Entry, Vec<String>)> = Vec::new();
    for entry in entries.iter().filter(|e| !is_mine(e)) {
        for path in applied.leaves() {
            // A list item's own marker (`.`) records that it exists, not a value that could conflict.
            if path.last().is_some_and(|p| p == ".") {
                continue;
            }
            if entry.fields.contains(&path) && value_at(config, &path) != value_at(live_value, &path) {
                conflicts.push((entry, path));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(&conflicts));
    }
    let taken: Vec<(String, Vec<String>)> = conflicts.into_iter().map(|(e, p)| (e.manager.clone(), p)).collect();
    for (manager_name, path) in &taken {
        for entry in entries.iter_mut().filter(|e| &e.manager == manager_name) {
            entry.fields.remove_path(path);
        }
    }
    // Fields this manager applied before and no longer does, and nobody else owns, are removed.
    let mut merged = live_value.clone();
    if let Some(previous) = entries.iter().find(|e| is_mine(e)) {
        for path in previous.fields.leaves() {
            let owned_by_others = entries.iter().filter(|e| !is_mine(e)).any(|e| e.fields.contains(&path));
            if !applied.contains(&path) && !owned_by_others {
                remove_at(&mut merged, &path);
            }
        }
    }
    merge(&mut merged, config, schema().definition(&definition));
    // An apply that changes nothing in the object leaves its manager's time as it was (none for a new
    // manager), as upstream's.
    let without_fields = |v: &Value| {
        let mut v = v.clone();
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        v
    };
    let time = match live {
        Some(live) if without_fields(live) == without_fields(&merged) => {
            entries.iter().find(|e| is_mine(e)).and_then(|e| e.time.clone())
        }
        _ => Some(now_json(now)),
    };
    let mine = Entry {
        manager: manager.to_string(),
        operation: "Apply".into(),
        api_version: kind.api_version().into(),
        time,
        subresource: None,
        fields: applied,
    };
    match entries.iter().position(is_mine) {
        Some(at) => entries[at] = mine,
        None => entries.push(mine),
    }
    store_entries(&mut merged, entries);
    Ok(merged)
}

fn path_text(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        if element == "." {
            continue;
        }
        if let Some(name) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(name);
        } else if let Some(key) = element.strip_prefix("k:") {
            out.push_str(&format!(
                "[{}]",
                key.trim_start_matches('{').trim_end_matches('}').replace('"', "").replace(':', "=")
            ));
        } else if let Some(member) = element.strip_prefix("v:") {
            out.push_str(&format!("[{member}]"));
        }
    }
    out
}

/// A manager as upstream names it in a conflict: `"name"` for an applier, `"name" using v1 at <time>` for a
/// writer of updates (`with subresource "status"` when it wrote a subresource).
fn print_manager(entry: &Entry) -> String {
    let mut name = format!("{:?}", entry.manager);
    if let Some(subresource) = entry.subresource.as_deref().filter(|s| !s.is_empty()) {
        name = format!("{name} with subresource {subresource:?}");
    }
    if entry.operation != "Update" {
        return name;
    }
    match entry.time.as_ref().and_then(Value::as_str) {
        Some(time) => format!("{name} using {} at {time}", entry.api_version),
        None => format!("{name} using {}", entry.api_version),
    }
}

/// Upstream's apply conflict: one cause per field, and a message that lists them by manager.
fn conflict_error(conflicts: &[(&Entry, Vec<String>)]) -> ApiError {
    let causes: Vec<themelios_api::error::Cause> = conflicts
        .iter()
        .map(|(entry, path)| themelios_api::error::Cause {
            reason: "FieldManagerConflict".into(),
            message: format!("conflict with {}", print_manager(entry)),
            field: path_text(path),
        })
        .collect();
    let message = match conflicts {
        [(entry, path)] => {
            format!("Apply failed with 1 conflict: conflict with {}: {}", print_manager(entry), path_text(path))
        }
        _ => {
            let mut by_manager: BTreeMap<&str, (&Entry, Vec<String>)> = BTreeMap::new();
            for (entry, path) in conflicts {
                by_manager.entry(entry.manager.as_str()).or_insert_with(|| (entry, Vec::new())).1.push(path_text(path));
            }
            let lines: Vec<String> = by_manager
                .values()
                .flat_map(|(entry, paths)| {
                    std::iter::once(format!("conflicts with {}:", print_manager(entry)))
                        .chain(paths.iter().map(|p| format!("- {p}")))
                })
                .collect();
            format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
        }
    };
    let mut error = ApiError::new(Reason::Conflict, message);
    error.details = Some(Box::new(themelios_api::error::Details { causes, ..Default::default() }));
    error
}

/// The structural merge of server-side apply: objects merge by field, keyed lists by key, sets by member,
/// everything else is replaced by the applied value.
fn merge(live: &mut Value, config: &Value, definition: Option<&Definition>) {
    let (Value::Object(target), Value::Object(applied)) = (&mut *live, config) else {
        *live = config.clone();
        return;
    };
    for (name, value) in applied {
        let field = definition.and_then(|d| d.fields.get(name));
        let nested = field.and_then(|f| schema().definition(&f.ty));
        let slot = target.entry(name.clone()).or_insert(Value::Null);
        match (field, value) {
            (Some(f), Value::Array(items)) if f.list => match apply_strategy(f) {
                Some(Strategy::Map(keys)) => {
                    if !slot.is_array() {
                        *slot = Value::Array(Vec::new());
                    }
                    if let Value::Array(existing) = slot {
                        for item in items {
                            let found = existing.iter_mut().find(|e| keys.iter().all(|k| e.get(k) == item.get(k)));
                            match found {
                                Some(existing_item) => merge(existing_item, item, nested),
                                None => existing.push(item.clone()),
                            }
                        }
                    }
                }
                Some(Strategy::Set) => {
                    if !slot.is_array() {
                        *slot = Value::Array(Vec::new());
                    }
                    if let Value::Array(existing) = slot {
                        for item in items {
                            if !existing.contains(item) {
                                existing.push(item.clone());
                            }
                        }
                    }
                }
                _ => *slot = value.clone(),
            },
            (Some(f), Value::Object(entries)) if f.map && apply_strategy(f) != Some(&Strategy::Atomic) => {
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let Value::Object(existing) = slot {
                    for (key, entry) in entries {
                        merge(existing.entry(key.clone()).or_insert(Value::Null), entry, nested);
                    }
                }
            }
            (_, Value::Object(_)) if nested.is_some_and(|d| !d.atomic) && slot.is_object() => {
                merge(slot, value, nested)
            }
            _ => *slot = value.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": image}]}}}})
    }

    #[test]
    fn field_sets_use_upstream_path_elements() {
        let set = FieldSet::of(&deployment(2, "nginx"), "io.k8s.api.apps.v1.Deployment");
        let json = set.to_json();
        assert!(json["f:spec"]["f:replicas"].is_object());
        let container = &json["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"];
        assert!(container["."].is_object() && container["f:image"].is_object(), "{json}");
        assert!(json["f:metadata"].get("f:name").is_none(), "the server owns metadata.name");
    }

    /// Two managers apply manifests whose metadata holds only the name: neither owns `.metadata` itself,
    /// so they do not conflict (the first version recorded `f:metadata: {}` as a leaf and refused the
    /// second with a 409 on `.metadata`).
    #[test]
    fn metadata_emptied_by_stripping_system_fields_is_not_owned() {
        let now = Time::EPOCH;
        let config = |key: &str| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": "shared", "namespace": "default"}, "data": {key: "1"}})
        };
        let set = FieldSet::of(&config("a"), "io.k8s.api.core.v1.ConfigMap");
        assert_eq!(set.to_json(), json!({"f:data": {"f:a": {}}}));
        let first = apply(None, &config("a"), Kind::ConfigMap, "one", false, now).unwrap();
        let second = apply(Some(&first), &config("b"), Kind::ConfigMap, "two", false, now).unwrap();
        assert_eq!(second["data"], json!({"a": "1", "b": "1"}));
        // A leaf that was empty in the applied object stays a leaf.
        let empty = FieldSet::of(&json!({"metadata": {"name": "x", "labels": {}}}), "io.k8s.api.core.v1.ConfigMap");
        assert_eq!(empty.to_json(), json!({"f:metadata": {"f:labels": {}}}));
    }

    #[test]
    fn apply_conflicts_with_another_managers_field_unless_forced() {
        let now = Time::EPOCH;
        let mut live = deployment(2, "nginx");
        record_update(None, &mut live, Kind::Deployment, "kubectl-client-side-apply", now, None);
        let err = apply(Some(&live), &deployment(3, "nginx"), Kind::Deployment, "kubectl", false, now).unwrap_err();
        assert_eq!(err.reason, Reason::Conflict);
        assert_eq!(err.causes()[0].field, ".spec.replicas");
        // An update's writer is named with its version and time, as upstream's printManager does.
        assert_eq!(
            err.causes()[0].message,
            "conflict with \"kubectl-client-side-apply\" using apps/v1 at 2025-01-01T00:00:00Z"
        );
        // The same value is no conflict: both managers then own it.
        assert!(apply(Some(&live), &deployment(2, "nginx"), Kind::Deployment, "kubectl", false, now).is_ok());
        let forced = apply(Some(&live), &deployment(3, "nginx"), Kind::Deployment, "kubectl", true, now).unwrap();
        assert_eq!(forced["spec"]["replicas"], 3);
        let entries = entries_of(&forced);
        let old = entries.iter().find(|e| e.manager == "kubectl-client-side-apply").unwrap();
        assert!(!old.fields.contains(&["f:spec".into(), "f:replicas".into()]), "ownership moved");
    }

    #[test]
    fn a_field_dropped_from_the_applied_config_is_removed() {
        let now = Time::EPOCH;
        let mut config = deployment(2, "nginx");
        config["metadata"]["labels"]["tier"] = "web".into();
        let live = apply(None, &config, Kind::Deployment, "me", false, now).unwrap();
        assert_eq!(live["metadata"]["labels"]["tier"], "web");
        let live = apply(Some(&live), &deployment(2, "nginx"), Kind::Deployment, "me", false, now).unwrap();
        assert!(live["metadata"]["labels"].get("tier").is_none(), "{}", live["metadata"]);
        assert_eq!(live["metadata"]["labels"]["app"], "web");
    }

    #[test]
    fn updates_take_ownership_of_what_they_change() {
        let now = Time::EPOCH;
        let live = apply(None, &deployment(2, "nginx"), Kind::Deployment, "me", false, now).unwrap();
        let mut scaled = live.clone();
        scaled["spec"]["replicas"] = 5.into();
        record_update(Some(&live), &mut scaled, Kind::Deployment, "kubectl-scale", now, None);
        let entries = entries_of(&scaled);
        let scaler = entries.iter().find(|e| e.manager == "kubectl-scale").unwrap();
        assert_eq!(scaler.fields.leaves(), vec![vec!["f:spec".to_string(), "f:replicas".to_string()]]);
        let mine = entries.iter().find(|e| e.manager == "me").unwrap();
        assert!(!mine.fields.contains(&["f:spec".into(), "f:replicas".into()]));
    }

    #[test]
    fn a_scale_takes_the_replicas_into_an_untimed_scale_entry_listed_first() {
        let earlier = Time::EPOCH;
        let mut live = apply(None, &deployment(2, "nginx"), Kind::Deployment, "me", false, earlier).unwrap();
        let mut annotated = live.clone();
        annotated["metadata"]["annotations"] = json!({"note": "x"});
        record_update(Some(&live), &mut annotated, Kind::Deployment, "editor", earlier, None);
        live = annotated;
        record_scale(&mut live, Kind::Deployment, "kubectl");
        let entries = entries_of(&live);
        let order: Vec<(&str, &str, Option<&str>)> =
            entries.iter().map(|e| (e.manager.as_str(), e.operation.as_str(), e.subresource.as_deref())).collect();
        assert_eq!(order, [("me", "Apply", None), ("kubectl", "Update", Some("scale")), ("editor", "Update", None)]);
        let scaler = &entries[1];
        assert_eq!(scaler.time, None);
        assert_eq!(scaler.fields.leaves(), vec![vec!["f:spec".to_string(), "f:replicas".to_string()]]);
        assert!(!entries[0].fields.contains(&["f:spec".into(), "f:replicas".into()]));
    }
}
