//! Requests on one object: get, create, update, patch, delete, and the status, scale, binding and eviction
//! subresources. Every write goes through the store, so through the shared `apply()`.

use super::decode::{decode_object, Decoded};
use super::request::ResourceRequest;
use super::respond::{self, Body};
use super::table::{self, IncludeObject};
use super::Server;
use crate::fieldmanager;
use crate::patch::{json_patch, merge, strategic, PatchError};
use crate::schema::definition_of;
use crate::snapshot::Snapshot;
use hyper::{Response, StatusCode};
use serde_json::{json, Value};
use themelios_api::{
    ApiError, DeleteOptions, Kind, Object, ObjectName, ObjectRef, Op, Propagation, Reason, StateRead, StoredObject,
};

/// An object (or a one-row Table when asked) as a response.
pub fn object_response(
    server: &Server,
    request: &ResourceRequest,
    status: StatusCode,
    object: &StoredObject,
    warnings: &[String],
) -> Response<Body> {
    let mut response = if table::wants_table(request.accept.as_deref()) {
        let include = IncludeObject::parse(request.query.get("includeObject"));
        let revision = object.revision();
        respond::json(status, &table::table(object.object().kind(), &[object], revision, server.now(), include))
    } else {
        let mut body = Vec::new();
        crate::packed_fields::write_object(&mut body, object.object());
        respond::with_body(status, respond::JSON, body)
    };
    for warning in warnings {
        if let Ok(value) = format!("299 - {warning:?}").parse() {
            response.headers_mut().append("Warning", value);
        }
    }
    response
}

/// GET of an object or its status or scale.
pub fn get(server: &Server, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let snapshot = server.store.snapshot();
    let current = current(&snapshot, request.path.kind, &request.object_name())?;
    match request.path.subresource.as_deref() {
        None | Some("status") => Ok(object_response(server, request, StatusCode::OK, &current, &[])),
        Some("scale") => Ok(respond::json(StatusCode::OK, &scale_of(&current)?)),
        Some(other) => Err(unknown_subresource(request.path.kind, other)),
    }
}

fn current(state: &impl StateRead, kind: Kind, name: &ObjectName) -> Result<std::sync::Arc<StoredObject>, ApiError> {
    state.get(kind, name).ok_or_else(|| ApiError::not_found(kind, &name.name))
}

fn unknown_subresource(kind: Kind, sub: &str) -> ApiError {
    ApiError::new(Reason::NotFound, format!("{} has no subresource {sub:?}", kind.qualified_resource()))
}

/// The autoscaling/v1 `Scale` of a scalable object.
fn scale_of(object: &StoredObject) -> Result<Value, ApiError> {
    let kind = object.object().kind();
    let replicas =
        themelios_api::apply::scale::replicas_of(object.object()).ok_or_else(|| unknown_subresource(kind, "scale"))?;
    let value = themelios_api::json::to_value(object.object());
    let meta = object.object().meta();
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta.name, "namespace": meta.namespace, "uid": meta.uid,
            "resourceVersion": meta.resource_version, "creationTimestamp": meta.creation_timestamp,
        },
        "spec": {"replicas": replicas},
        "status": {
            "replicas": value.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": table::selector(value.pointer("/spec/selector")),
        },
    }))
}

/// Decodes the body as an object of the URL's kind and checks its namespace and name against the URL.
fn body_object(request: &ResourceRequest) -> Result<Decoded, ApiError> {
    object_in(request, request.body_value()?)
}

/// Decodes `value` as an object of the URL's kind and checks its namespace and name against the URL.
fn object_in(request: &ResourceRequest, value: Value) -> Result<Decoded, ApiError> {
    let mut decoded = decode_object(value, request.path.kind, request.field_validation()?)?;
    addressed_by_url(request, &mut decoded.object, Missing::TakeFromUrl)?;
    Ok(decoded)
}

/// What to do when an object leaves out the namespace or name its URL gives.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Missing {
    /// A body may leave them out: they come from the URL.
    TakeFromUrl,
    /// A patched object must still have its name; a patch that removes it names no object.
    Refuse,
}

/// Checks that `object` is the one the URL addresses, so a request can only write the object it names
/// (a patch that rewrites `metadata.name` or `metadata.namespace` would otherwise write another object).
fn addressed_by_url(request: &ResourceRequest, object: &mut Object, missing: Missing) -> Result<(), ApiError> {
    let kind = request.path.kind;
    let meta = object.meta_mut();
    if !kind.namespaced() && missing == Missing::Refuse {
        // As upstream, a cluster-scoped object has no namespace, whatever a patch or update says.
        meta.namespace = None;
    } else if kind.namespaced() {
        let url_namespace = request.path.namespace.clone().unwrap_or_default();
        match meta.namespace.as_deref() {
            None | Some("") if missing == Missing::TakeFromUrl => meta.namespace = Some(url_namespace),
            Some(ns) if ns == url_namespace => {}
            _ => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ))
            }
        }
    }
    if let Some(url_name) = &request.path.name {
        let name = meta.name.clone().unwrap_or_default();
        if name.is_empty() && missing == Missing::TakeFromUrl {
            meta.name = Some(url_name.clone());
        } else if &name != url_name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({name}) does not match the name on the URL ({url_name})"
            )));
        }
    }
    Ok(())
}

/// Records a status write's fields under the writer's `status` entry, as upstream: what it changed of the
/// object as the status subresource stores it (the spec stays the stored one).
fn track_status_fields(old: Option<&StoredObject>, object: &mut Object, manager: &str, now: themelios_api::Time) {
    let mut stored_form = match old {
        Some(old) => themelios_api::apply::status_write(object, old.object()),
        None => object.clone(),
    };
    track_fields_of(old, &mut stored_form, manager, now, Some("status"));
    object.meta_mut().managed_fields = stored_form.meta().managed_fields.clone();
}

fn track_fields(old: Option<&StoredObject>, object: &mut Object, manager: &str, now: themelios_api::Time) {
    track_fields_of(old, object, manager, now, None)
}

fn track_fields_of(
    old: Option<&StoredObject>,
    object: &mut Object,
    manager: &str,
    now: themelios_api::Time,
    subresource: Option<&str>,
) {
    // Upstream's field manager compares the objects as its Go types write them: the request decoded and
    // defaulted, unset times and lists as null.
    let kind = object.kind();
    let go_form = |object: &Object| {
        let mut value = themelios_api::json::to_value(object);
        themelios_api::wire::go_form(kind, &mut value);
        value
    };
    let old_value = old.map(|o| go_form(o.object()));
    let mut defaulted = object.clone();
    themelios_api::defaults::apply_defaults(&mut defaulted);
    let defaulted = themelios_api::wire::as_stored(&defaulted).unwrap_or(defaulted);
    let mut value = go_form(&defaulted);
    fieldmanager::record_update(old_value.as_ref(), &mut value, object.kind(), manager, now, subresource);
    object.meta_mut().managed_fields =
        value.pointer("/metadata/managedFields").and_then(|m| serde_json::from_value(m.clone()).ok());
}

/// Writes `op` (or only computes it, for `dryRun=All`), from the latest state.
async fn write(
    server: &Server,
    request: &ResourceRequest,
    op: impl FnOnce(&Snapshot) -> Result<Op, ApiError>,
) -> Result<std::sync::Arc<StoredObject>, ApiError> {
    // A role or binding is checked against what the writer holds, on the state it is written to.
    let op = |state: &Snapshot| {
        let op = op(state)?;
        if let Op::Create(object) | Op::Update(object) = &op {
            crate::auth::escalation::check(state, &request.user, object)?;
        }
        Ok(op)
    };
    if request.dry_run()? {
        return server.store.dry_run(server.now(), op);
    }
    server.store.write_with(server.now(), op).await
}

/// POST on a collection.
pub async fn create(server: &Server, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let Decoded { object, warnings } = body_object(request)?;
    let mut object = object;
    track_fields(None, &mut object, &request.field_manager(), server.now());
    let written = write(server, request, |_| Ok(Op::Create(object))).await?;
    Ok(object_response(server, request, StatusCode::CREATED, &written, &warnings))
}

/// PUT on an object, its status or its scale.
pub async fn update(server: &Server, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let kind = request.path.kind;
    let target = ObjectRef { kind, name: request.object_name() };
    match request.path.subresource.as_deref() {
        None | Some("status") | Some("finalize") => {
            let finalize = request.path.subresource.as_deref() == Some("finalize");
            if finalize && kind != themelios_api::Kind::Namespace {
                return Err(unknown_subresource(kind, "finalize"));
            }
            let status_only = request.path.subresource.as_deref() == Some("status");
            let Decoded { mut object, warnings } = body_object(request)?;
            let (manager, now, name) = (request.field_manager(), server.now(), request.object_name());
            let written = write(server, request, |state| {
                let old = state.get(kind, &name);
                if status_only {
                    track_status_fields(old.as_deref(), &mut object, &manager, now);
                    return Ok(Op::UpdateStatus(object));
                }
                track_fields(old.as_deref(), &mut object, &manager, now);
                Ok(if finalize { Op::Finalize(object) } else { Op::Update(object) })
            })
            .await?;
            Ok(object_response(server, request, StatusCode::OK, &written, &warnings))
        }
        Some("scale") => {
            let scale = request.body_value()?;
            let replicas = scale_replicas(&scale)?;
            let resource_version =
                scale.pointer("/metadata/resourceVersion").and_then(Value::as_str).map(str::to_string);
            let manager = request.field_manager();
            let written = write(server, request, |state| {
                let stored = current(state, kind, &target.name)?;
                scale_update(&stored, replicas, resource_version, &manager)
            })
            .await?;
            Ok(respond::json(StatusCode::OK, &scale_of(&written)?))
        }
        Some(other) => Err(unknown_subresource(kind, other)),
    }
}

/// The update a write through the scale subresource makes: the object with `replicas` (owned by `manager`
/// when they change), `resource_version` its precondition (none: unconditional).
fn scale_update(
    stored: &StoredObject,
    replicas: i32,
    resource_version: Option<String>,
    manager: &str,
) -> Result<Op, ApiError> {
    let kind = stored.object().kind();
    let mut object = themelios_api::apply::scale::with_replicas(stored.object(), replicas)
        .ok_or_else(|| unknown_subresource(kind, "scale"))?;
    if themelios_api::apply::scale::replicas_of(stored.object()) != Some(replicas) {
        let mut managed = json!({ "metadata": { "managedFields": object.meta().managed_fields } });
        fieldmanager::record_scale(&mut managed, kind, manager);
        object.meta_mut().managed_fields =
            managed.pointer("/metadata/managedFields").and_then(|m| serde_json::from_value(m.clone()).ok());
    }
    object.meta_mut().resource_version = resource_version;
    Ok(Op::Update(object))
}

fn scale_replicas(scale: &Value) -> Result<i32, ApiError> {
    let replicas = scale.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0);
    i32::try_from(replicas).map_err(|_| ApiError::bad_request(format!("spec.replicas {replicas} is out of range")))
}

/// Which patch a PATCH request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PatchType {
    Merge,
    Json,
    Strategic,
}

fn patch_type(content_type: Option<&str>) -> Result<PatchType, ApiError> {
    let media = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    match media.as_deref() {
        Some("application/merge-patch+json") => Ok(PatchType::Merge),
        Some("application/json-patch+json") => Ok(PatchType::Json),
        Some("application/strategic-merge-patch+json") => Ok(PatchType::Strategic),
        other => Err(ApiError::new(
            Reason::UnsupportedMediaType,
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json; got {}",
                other.unwrap_or("no Content-Type")
            ),
        )),
    }
}

/// Applies a patch to `doc`, an object of the schema definition `definition`.
fn apply_patch(kind: PatchType, doc: &mut Value, patch: &Value, definition: &str) -> Result<(), ApiError> {
    let patch_error = |e: PatchError| match e {
        PatchError::Malformed(m) => ApiError::bad_request(m),
        // Upstream answers every JSON patch that does not apply with this one message and empty details.
        PatchError::Inapplicable(_) if kind == PatchType::Json => {
            let mut error =
                ApiError::new(Reason::Invalid, "the server rejected our request due to an error in our request");
            error.details = Some(Box::default());
            error
        }
        PatchError::Inapplicable(m) => ApiError::new(Reason::Invalid, m),
    };
    match kind {
        PatchType::Strategic => strategic::apply(doc, patch, definition).map_err(patch_error),
        PatchType::Merge => {
            merge::apply(doc, patch);
            Ok(())
        }
        PatchType::Json => json_patch::apply(doc, patch).map_err(patch_error),
    }
}

/// Upstream's bound on a JSON patch's operations, each of which walks the document.
const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// PATCH on an object, its status or its scale: the patch is applied to the latest version under the
/// writer lock, and the result written as an update of that version.
pub async fn patch(server: &Server, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let kind = request.path.kind;
    if is_apply(request.content_type.as_deref()) {
        return server_side_apply(server, request).await;
    }
    let patch_kind = patch_type(request.content_type.as_deref())?;
    let patch = request.body_as(super::decode::Format::Json)?;
    if let Some(operations) = patch.as_array().filter(|_| patch_kind == PatchType::Json) {
        if operations.len() > MAX_JSON_PATCH_OPERATIONS {
            return Err(ApiError::new(
                Reason::RequestEntityTooLarge,
                format!(
                    "Request entity too large: The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
                    operations.len()
                ),
            ));
        }
    }
    let validation = request.field_validation()?;
    let name = request.object_name();
    let subresource = request.path.subresource.clone();
    if let Some(other) = subresource.as_deref().filter(|s| *s != "status" && *s != "scale") {
        return Err(unknown_subresource(kind, other));
    }
    let mut warnings = Vec::new();
    let (manager, now) = (request.field_manager(), server.now());
    let written = write(server, request, |state| {
        let stored = current(state, kind, &name)?;
        if subresource.as_deref() == Some("scale") {
            let mut scale = scale_of(&stored)?;
            apply_patch(patch_kind, &mut scale, &patch, "io.k8s.api.autoscaling.v1.Scale")?;
            let resource_version = stored.object().meta().resource_version.clone();
            return scale_update(&stored, scale_replicas(&scale)?, resource_version, &manager);
        }
        let mut doc = crate::packed_fields::object_value(stored.object());
        apply_patch(patch_kind, &mut doc, &patch, &definition_of(kind))?;
        let decoded = decode_object(doc, kind, validation)?;
        warnings = decoded.warnings;
        let mut object: Object = decoded.object;
        addressed_by_url(request, &mut object, Missing::Refuse)?;
        if object.meta().resource_version.is_none() {
            object.meta_mut().resource_version = stored.object().meta().resource_version.clone();
        }
        if subresource.is_none() {
            track_fields(Some(&stored), &mut object, &manager, now);
        } else {
            track_status_fields(Some(&stored), &mut object, &manager, now);
        }
        Ok(if subresource.is_some() { Op::UpdateStatus(object) } else { Op::Update(object) })
    })
    .await?;
    if subresource.as_deref() == Some("scale") {
        return Ok(respond::json(StatusCode::OK, &scale_of(&written)?));
    }
    Ok(object_response(server, request, StatusCode::OK, &written, &warnings))
}

/// `DeleteOptions` from the body (JSON) and the query.
pub fn delete_options(request: &ResourceRequest) -> Result<DeleteOptions, ApiError> {
    let body = if request.body.iter().all(u8::is_ascii_whitespace) { json!({}) } else { request.body_value()? };
    delete_options_in(&body, &request.query)
}

/// `DeleteOptions` from a JSON body (or an eviction's `deleteOptions`), with query parameters as fallback.
fn delete_options_in(body: &Value, query: &super::request::Query) -> Result<DeleteOptions, ApiError> {
    let mut options = DeleteOptions::default();
    let policy = body.get("propagationPolicy").and_then(Value::as_str).or(query.get("propagationPolicy"));
    if let Some(policy) = policy {
        options.propagation = Some(Propagation::parse(policy).ok_or_else(|| {
            ApiError::bad_request(format!(
                "propagationPolicy {policy:?} is not supported: use Orphan, Background or Foreground"
            ))
        })?);
    } else if let Some(orphan) = body.get("orphanDependents").and_then(Value::as_bool) {
        options.propagation = Some(if orphan { Propagation::Orphan } else { Propagation::Background });
    }
    let grace = body
        .get("gracePeriodSeconds")
        .and_then(Value::as_i64)
        .or_else(|| query.get("gracePeriodSeconds").and_then(|g| g.parse().ok()));
    options.grace_period_seconds = grace;
    options.uid = body.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_string);
    options.resource_version =
        body.pointer("/preconditions/resourceVersion").and_then(Value::as_str).map(str::to_string);
    Ok(options)
}

/// DELETE of an object: the object while finalizers or a grace period keep it, else `Status` Success.
pub async fn delete(server: &Server, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let kind = request.path.kind;
    let options = delete_options(request)?;
    let target = ObjectRef { kind, name: request.object_name() };
    let name = target.name.clone();
    let written = write(server, request, |_| Ok(Op::Delete { target, options })).await?;
    let uid = written.object().meta().uid.clone();
    let still_there = server
        .store
        .snapshot()
        .get(kind, &name)
        .is_some_and(|o| o.object().meta().uid == uid && o.object().meta().deletion_timestamp.is_some());
    if still_there || request.dry_run()? {
        return Ok(object_response(server, request, StatusCode::OK, &written, &[]));
    }
    Ok(respond::success(json!({"name": name.name, "group": kind.group(), "kind": kind.plural(), "uid": uid})))
}

/// POST on `pods/<name>/binding`, `pods/<name>/eviction` or `serviceaccounts/<name>/token`.
pub async fn create_subresource(server: &Server, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let pod = request.object_name();
    let body = request.body_value()?;
    match (request.path.kind, request.path.subresource.as_deref()) {
        (Kind::Pod, Some("binding")) => {
            let node = body.pointer("/target/name").and_then(Value::as_str).unwrap_or_default().to_string();
            if node.is_empty() {
                return Err(ApiError::invalid(
                    Kind::Pod,
                    &pod.name,
                    vec![themelios_api::FieldError::required("target.name", "")],
                ));
            }
            let uid = body.pointer("/metadata/uid").and_then(Value::as_str).map(str::to_string);
            write(server, request, |_| Ok(Op::Bind { pod, uid, node })).await?;
            Ok(respond::json(
                StatusCode::CREATED,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            ))
        }
        (Kind::Pod, Some("eviction")) => {
            let options = delete_options_in(body.get("deleteOptions").unwrap_or(&json!({})), &request.query)?;
            write(server, request, |_| Ok(Op::Evict { pod, options })).await?;
            Ok(respond::json(
                StatusCode::CREATED,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            ))
        }
        (Kind::ServiceAccount, Some("token")) => {
            super::token_request::create(server, &pod, body, &request.field_manager())
        }
        (kind, sub) => Err(ApiError::new(
            Reason::MethodNotAllowed,
            format!("POST is not supported on {}/{}", kind.plural(), sub.unwrap_or("")),
        )),
    }
}

fn is_apply(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| c.split(';').next().unwrap_or("").trim() == "application/apply-patch+yaml")
}

/// PATCH with `application/apply-patch+yaml`: server-side apply, creating the object if it is absent.
async fn server_side_apply(server: &Server, request: &ResourceRequest) -> Result<Response<Body>, ApiError> {
    let kind = request.path.kind;
    let manager = request.query.get("fieldManager").filter(|m| !m.is_empty()).map(str::to_string).ok_or_else(|| {
        ApiError::bad_request("PATCH, application/apply-patch+yaml requests require a fieldManager query parameter")
    })?;
    if request.path.subresource.is_some() {
        return Err(ApiError::new(
            Reason::UnsupportedMediaType,
            "server-side apply is served on objects, not on their subresources",
        ));
    }
    let force = request.query.flag("force");
    let config = request.body_as(super::decode::Format::Yaml)?;
    // The applied configuration is checked like a body: its type, namespace, name and fields.
    let Decoded { warnings, object: checked } = object_in(request, config.clone())?;
    let mut config = config;
    config["metadata"]["namespace"] = checked.meta().namespace.clone().into();
    config["metadata"]["name"] = checked.meta().name.clone().into();
    let (name, now) = (request.object_name(), server.now());
    let mut created = false;
    let written = write(server, request, |state| {
        let live = state.get(kind, &name);
        let live_value = live.as_ref().map(|o| crate::packed_fields::object_value(o.object()));
        let merged = fieldmanager::apply(live_value.as_ref(), &config, kind, &manager, force, now)?;
        let mut object = decode_object(merged, kind, super::decode::FieldValidation::Ignore)?.object;
        match live {
            Some(live) => {
                object.meta_mut().resource_version = live.object().meta().resource_version.clone();
                Ok(Op::Update(object))
            }
            None => {
                created = true;
                Ok(Op::Create(object))
            }
        }
    })
    .await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(object_response(server, request, status, &written, &warnings))
}
