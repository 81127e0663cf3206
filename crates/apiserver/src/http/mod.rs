//! The HTTP layer: authentication, routing, and the handlers for discovery and resources.

pub mod collection;
pub mod decode;
pub mod discovery;
pub mod objects;
pub mod openapi;
pub mod path;
pub mod protobuf;
pub mod request;
pub mod respond;
pub mod reviews;
pub mod table;
pub mod token_request;

use crate::store::Store;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Response, StatusCode};
use path::Endpoint;
use request::{Query, ResourceRequest};
use respond::Body;
use std::sync::Arc;
use themelios_api::{ApiError, Reason, Time};

/// The Kubernetes version whose types the server serves (k8s-openapi's `v1_33`); kubectl's dispatcher
/// picks its binary by this minor version.
pub const KUBERNETES_MAJOR: &str = "1";
/// See [`KUBERNETES_MAJOR`].
pub const KUBERNETES_MINOR: &str = "33";

/// The state every request handler shares.
pub struct Server {
    /// The objects.
    pub store: Store,
    /// The admin's bearer token.
    pub token: String,
    /// Bearer tokens and their users (the admin's among them).
    pub authenticator: crate::auth::Authenticator,
}

impl Server {
    /// The server's clock.
    pub fn now(&self) -> Time {
        Time::wall_clock()
    }
}

async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(body, decode::MAX_BODY);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            Reason::RequestEntityTooLarge,
            format!("the request body is larger than the limit of {} bytes", decode::MAX_BODY),
        )),
        Err(error) => Err(ApiError::bad_request(format!("error reading the request body: {error}"))),
    }
}

/// Serves one request. `require_token` is false only on the loopback plain-HTTP listener, whose requests
/// act as the admin.
pub async fn handle(server: Arc<Server>, request: hyper::Request<Incoming>, require_token: bool) -> Response<Body> {
    // Parsed once: authorization reads the endpoint's attributes before routing serves it.
    let endpoint = path::parse(request.uri().path());
    let user = match authenticate(&server, &request, endpoint.as_ref(), require_token) {
        Ok(user) => user,
        Err(error) => return respond::error(&error),
    };
    match route(server, request, endpoint, user).await {
        Ok(response) => response,
        Err(error) => respond::error(&error),
    }
}

/// Who the request acts as (after impersonation), if they may make it.
fn authenticate(
    server: &Server,
    request: &hyper::Request<Incoming>,
    endpoint: Option<&Endpoint>,
    require_token: bool,
) -> Result<crate::auth::UserInfo, ApiError> {
    let state = server.store.snapshot();
    let user = if require_token {
        match request.headers().get(hyper::header::AUTHORIZATION) {
            // As upstream's default (--anonymous-auth=true): no credentials at all is the anonymous user,
            // whom RBAC lets read only the health and version endpoints; wrong credentials are 401.
            None => crate::auth::UserInfo::anonymous(),
            Some(header) => {
                let user = server.authenticator.authenticate(header.to_str().ok(), &state, server.now());
                user.ok_or_else(|| ApiError::new(Reason::Unauthorized, "Unauthorized"))?
            }
        }
    } else {
        crate::auth::UserInfo::admin()
    };
    let user = crate::auth::impersonated(&state, user, request.headers())?;
    let attributes = attributes_of(request, endpoint);
    if !crate::auth::authorize(&state, &user, &attributes).allowed {
        return Err(crate::auth::forbidden(&user, &attributes));
    }
    Ok(user)
}

/// The authorization attributes of a request.
fn attributes_of(
    request: &hyper::Request<Incoming>,
    endpoint: Option<&Endpoint>,
) -> crate::auth::attributes::Attributes {
    use crate::auth::attributes::Attributes;
    let method = request.method();
    match endpoint {
        Some(Endpoint::Resource(resource)) => {
            let query = Query::parse(request.uri().query());
            let watching = resource.watch_prefix || query.flag("watch");
            let verb = Attributes::resource_verb(method, resource.name.is_some(), watching);
            let name = resource.name.clone().unwrap_or_default();
            // A namespace is its own scope, as upstream's request info has it.
            let namespace = match (resource.kind, &resource.namespace) {
                (themelios_api::Kind::Namespace, _) => name.clone(),
                (_, namespace) => namespace.clone().unwrap_or_default(),
            };
            let subresource = resource.subresource.clone().unwrap_or_default();
            Attributes::resource(verb, resource.kind.group(), resource.kind.plural(), &subresource, &namespace, &name)
        }
        Some(Endpoint::Review { review, namespace }) => Attributes::resource(
            Attributes::resource_verb(method, false, false),
            review.group(),
            review.resource(),
            "",
            namespace.as_deref().unwrap_or_default(),
            "",
        ),
        _ => Attributes::non_resource(method, request.uri().path()),
    }
}

fn header(request: &hyper::Request<Incoming>, name: hyper::header::HeaderName) -> Option<String> {
    request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

async fn route(
    server: Arc<Server>,
    request: hyper::Request<Incoming>,
    endpoint: Option<Endpoint>,
    user: crate::auth::UserInfo,
) -> Result<Response<Body>, ApiError> {
    let endpoint = endpoint.ok_or_else(respond::not_found_path)?;
    let accept = header(&request, hyper::header::ACCEPT);
    let aggregated = accept.as_deref().is_some_and(|a| a.contains("as=APIGroupDiscoveryList"));
    let method = request.method().clone();
    if method != Method::GET && !matches!(endpoint, Endpoint::Resource(_) | Endpoint::Review { .. }) {
        return Err(ApiError::new(Reason::MethodNotAllowed, format!("{method} is not supported here")));
    }
    let ok = |value: serde_json::Value| Ok(respond::json(StatusCode::OK, &value));
    match endpoint {
        Endpoint::Version => ok(serde_json::json!({
            "major": KUBERNETES_MAJOR,
            "minor": KUBERNETES_MINOR,
            "gitVersion": format!("v{KUBERNETES_MAJOR}.{KUBERNETES_MINOR}.0-themelios"),
            "gitCommit": "themelios",
            "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "none (Rust)",
            "compiler": "rustc",
            "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        })),
        Endpoint::Health => Ok(respond::with_body(StatusCode::OK, "text/plain; charset=utf-8", "ok")),
        Endpoint::CoreRoot if aggregated => {
            Ok(respond::with_body(StatusCode::OK, discovery::AGGREGATED, discovery::aggregated(true).to_string()))
        }
        Endpoint::GroupsRoot if aggregated => {
            Ok(respond::with_body(StatusCode::OK, discovery::AGGREGATED, discovery::aggregated(false).to_string()))
        }
        Endpoint::CoreRoot => ok(discovery::core_versions()),
        Endpoint::GroupsRoot => ok(discovery::group_list()),
        Endpoint::OpenApiRoot => ok(openapi::root()),
        Endpoint::OpenIdConfiguration => ok(serde_json::json!({
            "issuer": crate::auth::tokens::ISSUER,
            "jwks_uri": format!("{}/openid/v1/jwks", crate::auth::tokens::ISSUER),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })),
        Endpoint::Jwks => {
            let issuer = server.authenticator.service_accounts.as_ref().ok_or_else(respond::not_found_path)?;
            Ok(respond::with_body(StatusCode::OK, "application/jwk-set+json", issuer.jwks().to_string()))
        }
        Endpoint::OpenApi(path) => {
            let document = openapi::documents().iter().find(|d| d.path == path).ok_or_else(respond::not_found_path)?;
            Ok(respond::with_body(StatusCode::OK, respond::JSON, document.body.clone()))
        }
        Endpoint::Group(group) => ok(discovery::group(&group).ok_or_else(respond::not_found_path)?),
        Endpoint::GroupVersion { group, version } => ok(discovery::resource_list(&group, &version)),
        Endpoint::Review { review, namespace } => {
            if method != Method::POST {
                return Err(ApiError::new(
                    Reason::MethodNotAllowed,
                    format!(
                        "{method} is not supported on {}.{}: reviews only answer POST",
                        review.resource(),
                        review.group()
                    ),
                ));
            }
            let content_type = header(&request, hyper::header::CONTENT_TYPE);
            let user_agent = header(&request, hyper::header::USER_AGENT);
            let manager = request::field_manager(&Query::parse(request.uri().query()), user_agent.as_deref());
            let body = read_body(request.into_body()).await?;
            let body = decode::to_value(&body, decode::object_format(content_type.as_deref())?)?;
            reviews::create(&server, body, review, namespace.as_deref(), &user, &manager)
        }
        Endpoint::Resource(path) => {
            let query = Query::parse(request.uri().query());
            let content_type = header(&request, hyper::header::CONTENT_TYPE);
            let user_agent = header(&request, hyper::header::USER_AGENT);
            let body = read_body(request.into_body()).await?;
            let mut resource =
                ResourceRequest { method, path, query, accept, content_type, body, user_agent, parsed: None, user };
            resource.decode_large_body().await;
            resource_request(server, resource).await
        }
    }
}

async fn resource_request(server: Arc<Server>, request: ResourceRequest) -> Result<Response<Body>, ApiError> {
    let has_name = request.path.name.is_some();
    let watching = request.path.watch_prefix || request.query.flag("watch");
    match (&request.method, has_name) {
        (&Method::GET, _) if watching => collection::watch(server, &request),
        (&Method::GET, true) => objects::get(&server, &request),
        (&Method::GET, false) => collection::list(&server, &request).await,
        (&Method::POST, false) => objects::create(&server, &request).await,
        (&Method::POST, true) if request.path.subresource.is_some() => {
            objects::create_subresource(&server, &request).await
        }
        (&Method::PUT, true) => objects::update(&server, &request).await,
        (&Method::PATCH, true) => objects::patch(&server, &request).await,
        (&Method::DELETE, true) => objects::delete(&server, &request).await,
        (&Method::DELETE, false) => collection::delete_collection(&server, &request).await,
        (method, _) => Err(ApiError::new(
            Reason::MethodNotAllowed,
            format!("{method} is not supported on {}", request.path.kind.qualified_resource()),
        )),
    }
}
