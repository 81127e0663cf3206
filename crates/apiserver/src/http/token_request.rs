//! `serviceaccounts/<name>/token` (TokenRequest, `kubectl create token`): a signed token for the account,
//! for the audiences asked (the API server's by default), for an hour unless asked otherwise, optionally
//! bound to a pod or a secret so that it dies with it.

use super::respond::{self, Body};
use super::Server;
use crate::auth::tokens::{Claims, ISSUER};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};
use themelios_api::{ApiError, FieldError, Kind, ObjectName, Reason, StateRead};

/// The shortest and the default lifetime of a token, as upstream.
const MIN_SECONDS: i64 = 600;
const DEFAULT_SECONDS: i64 = 3600;
const MAX_SECONDS: i64 = 1 << 32;

/// POST of a TokenRequest for the service account `account`.
pub fn create(
    server: &Server,
    account: &ObjectName,
    mut body: Value,
    manager: &str,
) -> Result<Response<Body>, ApiError> {
    let issuer = server
        .authenticator
        .service_accounts
        .as_ref()
        .ok_or_else(|| ApiError::new(Reason::NotFound, "the server has no service-account signing key"))?;
    let state = server.store.snapshot();
    let stored = state
        .get(Kind::ServiceAccount, account)
        .ok_or_else(|| ApiError::not_found(Kind::ServiceAccount, &account.name))?;
    let account_uid = stored.object().meta().uid.clone().unwrap_or_default();
    let spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
    let seconds = spec.get("expirationSeconds").and_then(Value::as_i64).unwrap_or(DEFAULT_SECONDS);
    // Upstream validates the request object, which has no name of its own.
    let invalid = |error: FieldError| ApiError::invalid_of("authentication.k8s.io", "TokenRequest", "", vec![error]);
    if seconds < MIN_SECONDS {
        return Err(invalid(FieldError::invalid(
            "spec.expirationSeconds",
            seconds,
            "may not specify a duration less than 10 minutes",
        )));
    }
    if seconds > MAX_SECONDS {
        return Err(invalid(FieldError::invalid(
            "spec.expirationSeconds",
            seconds,
            "may not specify a duration larger than 2^32 seconds",
        )));
    }
    let mut audiences = themelios_api::json::strings_of(&spec, "audiences");
    if audiences.is_empty() {
        audiences.push(ISSUER.to_string());
    }
    let bound = match spec.get("boundObjectRef").filter(|b| b.is_object()) {
        None => None,
        Some(reference) => Some(bound_object(&state, &account.namespace, reference)?),
    };
    let now = server.now();
    let claims = Claims {
        namespace: account.namespace.clone(),
        account: account.name.clone(),
        account_uid,
        bound: bound.clone(),
        audiences: audiences.clone(),
        issued: now,
        seconds,
    };
    let token = issuer.issue(&claims).map_err(|e| ApiError::new(Reason::InternalError, e))?;
    // As upstream's create handler: the writer's fields of the request, under the `token` subresource.
    let typed = crate::fieldmanager::Typed {
        definition: "io.k8s.api.authentication.v1.TokenRequest".into(),
        api_version: "authentication.k8s.io/v1",
        zero: &json!({"metadata": {}, "spec": {}}),
    };
    let mut recorded = json!({"metadata": {}, "spec": body.get("spec").cloned().unwrap_or_else(|| json!({}))});
    crate::fieldmanager::record_update_of(None, &mut recorded, &typed, manager, now, Some("token"));
    crate::packed_fields::unpack(&mut recorded);
    let mut spec = spec;
    spec["audiences"] = json!(audiences);
    spec["expirationSeconds"] = seconds.into();
    spec["boundObjectRef"] = match bound {
        Some((kind, name, uid)) => json!({"kind": kind, "apiVersion": "v1", "name": name, "uid": uid}),
        None => Value::Null,
    };
    body["apiVersion"] = "authentication.k8s.io/v1".into();
    body["kind"] = "TokenRequest".into();
    let mut metadata = recorded["metadata"].take();
    metadata["name"] = account.name.clone().into();
    metadata["namespace"] = account.namespace.clone().into();
    metadata["creationTimestamp"] = themelios_api::json::to_value(&now.to_k8s());
    body["metadata"] = metadata;
    body["spec"] = spec;
    let expires = themelios_api::json::to_value(&now.plus_seconds(seconds).to_k8s());
    body["status"] = json!({"token": token, "expirationTimestamp": expires});
    Ok(respond::json(StatusCode::CREATED, &body))
}

/// The pod or secret a token is bound to: kind, name and uid, checked against the stored object.
fn bound_object(
    state: &impl StateRead,
    namespace: &str,
    reference: &Value,
) -> Result<(String, String, String), ApiError> {
    let text = |field: &str| reference.get(field).and_then(Value::as_str).unwrap_or_default().to_string();
    let (kind_name, name, uid) = (text("kind"), text("name"), text("uid"));
    let kind = match kind_name.as_str() {
        "Pod" => Kind::Pod,
        "Secret" => Kind::Secret,
        other => {
            return Err(ApiError::bad_request(format!(
                "cannot bind token for object of kind {other:?}: tokens can be bound to a Pod or a Secret"
            )))
        }
    };
    let stored =
        state.get(kind, &ObjectName::new(namespace, name.clone())).ok_or_else(|| ApiError::not_found(kind, &name))?;
    let stored_uid = stored.object().meta().uid.clone().unwrap_or_default();
    if !uid.is_empty() && uid != stored_uid {
        return Err(ApiError::conflict(
            kind,
            &name,
            &format!("the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"),
        ));
    }
    Ok((kind_name, name, stored_uid))
}
