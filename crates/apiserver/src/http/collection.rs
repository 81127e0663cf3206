//! Requests on a collection: list (selectors, pagination, resourceVersion), watch, deletecollection.

use super::objects::delete_options;
use super::request::ResourceRequest;
use super::respond::{self, Body};
use super::table::{self, IncludeObject};
use super::Server;
use crate::snapshot::Snapshot;
use crate::storage::{EventType, WatchEvent};
use base64::Engine;
use bytes::Bytes;
use hyper::{Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use themelios_api::selector::{FieldSelector, LabelSelector};
use themelios_api::{ApiError, Kind, ObjectName, ObjectRef, Op, Reason, StateRead, StoredObject};

/// The label and field selectors and namespace a list or watch filters by.
pub struct Filter {
    kind: Kind,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    /// The filter a request asks for.
    pub fn of(request: &ResourceRequest) -> Result<Self, ApiError> {
        let kind = request.path.kind;
        let labels = LabelSelector::parse(request.query.get("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        // A watch of one object (`…/pods/web-0?watch=true`) is a watch of its collection filtered by name.
        let fields = match (request.query.get("fieldSelector").filter(|s| !s.is_empty()), &request.path.name) {
            (Some(fields), Some(name)) => format!("{fields},metadata.name={name}"),
            (None, Some(name)) => format!("metadata.name={name}"),
            (fields, None) => fields.unwrap_or("").to_string(),
        };
        let fields = FieldSelector::parse(kind, &fields).map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(Filter { kind, namespace: request.path.namespace.clone(), labels, fields })
    }

    /// Whether an object passes.
    pub fn matches(&self, object: &StoredObject) -> bool {
        let object = object.object();
        object.kind() == self.kind
            && self.namespace.as_deref().is_none_or(|ns| object.meta().namespace.as_deref() == Some(ns))
            && self.labels.matches_opt(object.meta().labels.as_ref())
            && self.fields.matches(object)
    }
}

fn expired(message: impl Into<String>) -> ApiError {
    ApiError::new(Reason::Expired, message)
}

fn encode_continue(revision: u64, after: &ObjectName) -> String {
    let token = json!({"rv": revision, "ns": after.namespace, "name": after.name});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(u64, ObjectName), ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let revision = value.get("rv").and_then(Value::as_u64).ok_or_else(bad)?;
    let namespace = value.get("ns").and_then(Value::as_str).ok_or_else(bad)?;
    let name = value.get("name").and_then(Value::as_str).ok_or_else(bad)?;
    Ok((revision, ObjectName::new(namespace, name)))
}

/// How long a read at a revision this server has not reached waits for it, as upstream's watch cache.
const WAIT_FOR_REVISION: Duration = Duration::from_secs(3);

/// Waits until the store has reached `revision`, for at most [`WAIT_FOR_REVISION`]; then 504 with
/// upstream's `ResourceVersionTooLarge` cause, which tells clients to retry.
async fn reach(server: &Server, revision: u64) -> Result<(), ApiError> {
    let mut latest = server.store.watch_cache().subscribe();
    let reached = tokio::time::timeout(WAIT_FOR_REVISION, latest.wait_for(|r| *r >= revision)).await;
    if matches!(reached, Ok(Ok(_))) {
        return Ok(());
    }
    let current = server.store.snapshot().revision();
    let mut error =
        ApiError::new(Reason::Timeout, format!("Timeout: Too large resource version: {revision}, current: {current}"));
    error.details = Some(Box::new(themelios_api::error::Details {
        causes: vec![themelios_api::error::Cause {
            reason: "ResourceVersionTooLarge".into(),
            message: "Too large resource version".into(),
            field: String::new(),
        }],
        retry_after_seconds: Some(1),
        ..Default::default()
    }));
    Err(error)
}

/// The snapshot a list reads: a `continue` token's revision, an exact revision, or the latest.
async fn list_snapshot(server: &Server, request: &ResourceRequest) -> Result<(Snapshot, Option<ObjectName>), ApiError> {
    if let Some(token) = request.query.get("continue").filter(|t| !t.is_empty()) {
        let (revision, after) = decode_continue(token)?;
        let snapshot = server.store.snapshot_at(revision).ok_or_else(|| {
            expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
        })?;
        return Ok((snapshot, Some(after)));
    }
    let asked = request.query.get("resourceVersion").filter(|rv| !rv.is_empty() && *rv != "0");
    let Some(asked) = asked else { return Ok((server.store.snapshot(), None)) };
    let revision: u64 =
        asked.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {asked}")))?;
    if revision > server.store.snapshot().revision() {
        reach(server, revision).await?;
    }
    let latest = server.store.snapshot();
    if request.query.get("resourceVersionMatch") == Some("Exact") {
        let snapshot = server
            .store
            .snapshot_at(revision)
            .ok_or_else(|| expired(format!("too old resource version: {revision} ({})", latest.revision())))?;
        return Ok((snapshot, None));
    }
    Ok((latest, None))
}

/// GET on a collection: a list, or a Table when asked.
pub async fn list(server: &Server, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let filter = Filter::of(request)?;
    let limit = match request.query.get("limit") {
        None | Some("") => None,
        Some(l) => Some(l.parse::<usize>().map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?)
            .filter(|l| *l > 0),
    };
    let (snapshot, after) = list_snapshot(server, request).await?;
    let kind = request.path.kind;
    let mut items: Vec<&Arc<StoredObject>> = Vec::new();
    let mut more = false;
    for object in snapshot.iter_from(kind, request.path.namespace.as_deref(), after.as_ref()) {
        if !filter.matches(object) {
            continue;
        }
        if limit.is_some_and(|l| items.len() == l) {
            more = true;
            break;
        }
        items.push(object);
    }
    let continue_token = more.then(|| {
        server.store.hold_for_pagination(&snapshot);
        let last = items.last().map(|o| ObjectRef::of(o.object()).name).unwrap_or_default();
        encode_continue(snapshot.revision(), &last)
    });
    if table::wants_table(request.accept.as_deref()) {
        let include = IncludeObject::parse(request.query.get("includeObject"));
        let objects: Vec<&StoredObject> = items.iter().map(|o| o.as_ref()).collect();
        let mut table = table::table(kind, &objects, snapshot.revision(), server.now(), include);
        if let Some(token) = continue_token {
            table["metadata"]["continue"] = token.into();
        }
        return Ok(respond::json(StatusCode::OK, &table));
    }
    let mut metadata = json!({"resourceVersion": snapshot.revision().to_string()});
    if let Some(token) = continue_token {
        metadata["continue"] = token.into();
    }
    // Items are serialised straight into the body rather than through a Value tree.
    let head = format!(
        "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
        kind.name(),
        kind.api_version(),
        metadata
    );
    if items.len() <= STREAM_LISTS_OVER {
        let mut body = Vec::with_capacity(64 + items.len() * 512);
        body.extend_from_slice(head.as_bytes());
        write_items(&mut body, items.iter().copied(), 0);
        body.extend_from_slice(b"]}");
        return Ok(respond::with_body(StatusCode::OK, respond::JSON, body));
    }
    // A long list goes out in chunks as it is serialised, so 50,000 pods (130 MB of JSON) never sit in
    // memory whole, and the client reads while the server writes. The items are the snapshot's versions.
    let items: Vec<Arc<StoredObject>> = items.into_iter().cloned().collect();
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        let mut chunk = head.into_bytes();
        for (at, batch) in items.chunks(ITEMS_PER_CHUNK).enumerate() {
            write_items(&mut chunk, batch.iter(), at * ITEMS_PER_CHUNK);
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(64 * 1024));
            if sender.send(full.into()).await.is_err() {
                return;
            }
        }
        chunk.extend_from_slice(b"]}");
        let _ = sender.send(chunk.into()).await;
    });
    Ok(respond::json_stream(receiver))
}

/// Lists of more items than this are streamed (see [`list`]).
const STREAM_LISTS_OVER: usize = 1000;

/// Items per streamed chunk (a pod is about 2.6 KB of JSON).
const ITEMS_PER_CHUNK: usize = 100;

/// Appends items, comma-separated, the first being item number `first` of the list.
fn write_items<'a>(body: &mut Vec<u8>, items: impl Iterator<Item = &'a Arc<StoredObject>>, first: usize) {
    for (i, item) in items.enumerate() {
        if first + i > 0 {
            body.push(b',');
        }
        write_list_item(body, item.object());
    }
}

/// An object as a list item: upstream's typed lists carry no `apiVersion` and `kind` in their items (the
/// list names them once).
fn write_list_item(body: &mut Vec<u8>, object: &themelios_api::Object) {
    let start = body.len();
    crate::packed_fields::write_object(body, object);
    let kind = object.kind();
    let type_meta = format!("{{\"apiVersion\":\"{}\",\"kind\":\"{}\",", kind.api_version(), kind.name());
    if body[start..].starts_with(type_meta.as_bytes()) {
        body.drain(start + 1..start + type_meta.len());
    }
}

/// DELETE on a collection: deletes every matching object, one request each.
pub async fn delete_collection(server: &Server, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let filter = Filter::of(request)?;
    let options = delete_options(request)?;
    let snapshot = server.store.snapshot();
    let targets: Vec<ObjectRef> = snapshot
        .iter_from(request.path.kind, request.path.namespace.as_deref(), None)
        .filter(|o| filter.matches(o))
        .map(|o| ObjectRef::of(o.object()))
        .collect();
    for target in targets {
        let op = Op::Delete { target, options: options.clone() };
        match server.store.write(&op, server.now()).await {
            Ok(_) => {}
            Err(e) if e.reason == Reason::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(respond::success(json!({"kind": request.path.kind.plural(), "group": request.path.kind.group()})))
}

/// How a watch encodes each event's object.
struct Encoder {
    table: Option<IncludeObject>,
    columns_sent: bool,
}

impl Encoder {
    fn event(&mut self, server: &Server, event_type: &str, object: &StoredObject) -> Bytes {
        let object_json = match self.table {
            None => crate::packed_fields::object_value(object.object()),
            Some(include) => {
                let kind = object.object().kind();
                let mut table = table::table(kind, &[object], object.revision(), server.now(), include);
                if self.columns_sent {
                    if let Some(map) = table.as_object_mut() {
                        map.remove("columnDefinitions");
                    }
                }
                self.columns_sent = true;
                table
            }
        };
        let mut line = themelios_api::json::to_vec(&json!({"type": event_type, "object": object_json}));
        line.push(b'\n');
        line.into()
    }
}

fn bookmark(kind: Kind, revision: u64, initial_events_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let event = json!({"type": "BOOKMARK", "object": {"kind": kind.name(), "apiVersion": kind.api_version(), "metadata": metadata}});
    let mut line = themelios_api::json::to_vec(&event);
    line.push(b'\n');
    line.into()
}

fn error_event(error: &ApiError) -> Bytes {
    let status = respond::status_value(error);
    let mut line = themelios_api::json::to_vec(&json!({"type": "ERROR", "object": status}));
    line.push(b'\n');
    line.into()
}

/// What a watch event becomes for a filtered watcher: upstream sends an object that starts to match as
/// ADDED and one that stops matching as DELETED.
fn filtered(filter: &Filter, event: &WatchEvent) -> Option<&'static str> {
    let now = filter.matches(&event.object);
    let before = event.previous.as_deref().is_some_and(|p| filter.matches(p));
    match event.event_type {
        EventType::Added => now.then_some("ADDED"),
        EventType::Modified => match (before, now) {
            (true, true) => Some("MODIFIED"),
            (false, true) => Some("ADDED"),
            (true, false) => Some("DELETED"),
            (false, false) => None,
        },
        EventType::Deleted => (now || before).then_some("DELETED"),
    }
}

/// How often a watch that asked for bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(30);
/// How long a watch lasts when the client names no timeout.
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

/// GET with `watch=true`: a stream of events.
pub fn watch(server: Arc<Server>, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let filter = Filter::of(request)?;
    let kind = request.path.kind;
    let asked = request.query.get("resourceVersion").filter(|rv| !rv.is_empty());
    let send_initial = request.query.flag("sendInitialEvents");
    let bookmarks = request.query.flag("allowWatchBookmarks");
    let timeout = request
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(DEFAULT_WATCH_TIMEOUT, Duration::from_secs);
    let table =
        table::wants_table(request.accept.as_deref()).then(|| IncludeObject::parse(request.query.get("includeObject")));
    // Without a revision (or with "0"), a watch starts with the current state as ADDED events.
    let (start, initial) = match asked {
        None | Some("0") => (None, true),
        Some(rv) => {
            let revision: u64 =
                rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
            (Some(revision), send_initial)
        }
    };
    if let Some(revision) = start {
        let oldest = server.store.watch_cache().oldest();
        if revision < oldest && !initial {
            return Err(expired(format!("too old resource version: {revision} ({oldest})")));
        }
    }
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(256);
    tokio::spawn(async move {
        let mut encoder = Encoder { table, columns_sent: false };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = server.store.watch_cache().subscribe();
        let mut last = match (initial, start) {
            (true, _) => {
                let snapshot = server.store.snapshot();
                for object in snapshot.iter_from(kind, filter.namespace.as_deref(), None) {
                    if filter.matches(object) && sender.send(encoder.event(&server, "ADDED", object)).await.is_err() {
                        return;
                    }
                }
                if send_initial && bookmarks && sender.send(bookmark(kind, snapshot.revision(), true)).await.is_err() {
                    return;
                }
                snapshot.revision()
            }
            (false, revision) => revision.unwrap_or(0),
        };
        let mut next_bookmark = tokio::time::Instant::now() + BOOKMARK_EVERY;
        loop {
            let events = match server.store.watch_cache().events_after(last, 1024) {
                Ok(events) => events,
                Err(gone) => {
                    let error = expired(format!("too old resource version: {last} ({})", gone.oldest));
                    let _ = sender.send(error_event(&error)).await;
                    return;
                }
            };
            if events.is_empty() {
                tokio::select! {
                    changed = changes.changed() => if changed.is_err() { return },
                    _ = tokio::time::sleep_until(deadline) => return,
                    _ = tokio::time::sleep_until(next_bookmark), if bookmarks => {
                        if sender.send(bookmark(kind, last, false)).await.is_err() {
                            return;
                        }
                        next_bookmark = tokio::time::Instant::now() + BOOKMARK_EVERY;
                    }
                    _ = sender.closed() => return,
                }
                continue;
            }
            for event in events {
                last = event.revision;
                if let Some(event_type) = filtered(&filter, &event) {
                    if sender.send(encoder.event(&server, event_type, &event.object)).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    Ok(respond::json_stream(receiver))
}
