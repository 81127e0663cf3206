//! A request as the handlers see it: the endpoint, query parameters, negotiated formats and the body.

use super::decode::{self, FieldValidation};
use super::path::ResourcePath;
use bytes::Bytes;
use hyper::Method;
use themelios_api::ApiError;

/// Query parameters, in order.
#[derive(Clone, Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses `a=b&c=d`.
    pub fn parse(query: Option<&str>) -> Self {
        Query(form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect())
    }
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// Whether `name` is `true` or `1`.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1"))
    }
}

/// A write's field manager: `fieldManager`, else the user agent up to its first `/`, as upstream.
pub fn field_manager(query: &Query, user_agent: Option<&str>) -> String {
    match query.get("fieldManager").filter(|m| !m.is_empty()) {
        Some(manager) => manager.to_string(),
        None => user_agent.and_then(|ua| ua.split('/').next()).unwrap_or("unknown").to_string(),
    }
}

/// One resource request.
pub struct ResourceRequest {
    /// GET, POST, …
    pub method: Method,
    /// What the URL names.
    pub path: ResourcePath,
    /// The query.
    pub query: Query,
    /// The `Accept` header.
    pub accept: Option<String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body (at most [`decode::MAX_BODY`] bytes).
    pub body: Bytes,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The body, decoded ahead (off the async threads) when it is large.
    pub parsed: Option<Parsed>,
    /// Who the request acts as.
    pub user: crate::auth::UserInfo,
}

/// A body decoded ahead of its handler.
pub struct Parsed {
    format: decode::Format,
    value: Result<serde_json::Value, ApiError>,
}

/// Bodies larger than this are decoded on a blocking thread, so a large or costly body does not hold an
/// async worker that other clients' requests (and `/readyz`) need.
pub const DECODE_OFF_THREAD_ABOVE: usize = 64 * 1024;

impl ResourceRequest {
    /// `fieldValidation`
    pub fn field_validation(&self) -> Result<FieldValidation, ApiError> {
        FieldValidation::parse(self.query.get("fieldValidation"))
    }
    /// Whether `dryRun=All` was asked.
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.query.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => {
                Err(ApiError::bad_request(format!("unsupported dryRun value {other:?}: supported values are \"All\"")))
            }
        }
    }
    /// The body as a JSON value, decoded by its content type.
    pub fn body_value(&self) -> Result<serde_json::Value, ApiError> {
        self.body_as(decode::object_format(self.content_type.as_deref())?)
    }
    /// The body decoded as `format` (decoded ahead, or now).
    pub fn body_as(&self, format: decode::Format) -> Result<serde_json::Value, ApiError> {
        match &self.parsed {
            Some(parsed) if parsed.format == format => parsed.value.clone(),
            _ => decode::to_value(&self.body, format),
        }
    }
    /// How the handler will decode the body, if it is a document: a patch as JSON (an apply as YAML),
    /// anything else by its content type.
    fn body_format(&self) -> Option<decode::Format> {
        let media = self.content_type.as_deref().map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        match (&self.method, media.as_deref()) {
            (&Method::PATCH, Some("application/apply-patch+yaml")) => Some(decode::Format::Yaml),
            (&Method::PATCH, _) => Some(decode::Format::Json),
            _ => decode::object_format(media.as_deref()).ok(),
        }
    }
    /// Decodes a large body on a blocking thread, ahead of the handler.
    pub async fn decode_large_body(&mut self) {
        if self.body.len() <= DECODE_OFF_THREAD_ABOVE {
            return;
        }
        let Some(format) = self.body_format() else { return };
        let body = self.body.clone();
        let value = tokio::task::spawn_blocking(move || decode::to_value(&body, format)).await.unwrap_or_else(|e| {
            Err(ApiError::new(themelios_api::Reason::InternalError, format!("decoding the body: {e}")))
        });
        self.parsed = Some(Parsed { format, value });
    }
    /// The field manager: `fieldManager`, else the user agent up to its first `/`, as upstream.
    pub fn field_manager(&self) -> String {
        field_manager(&self.query, self.user_agent.as_deref())
    }
    /// The namespace and name the URL addresses (empty namespace for cluster-scoped kinds).
    pub fn object_name(&self) -> themelios_api::ObjectName {
        themelios_api::ObjectName::new(
            self.path.namespace.clone().unwrap_or_default(),
            self.path.name.clone().unwrap_or_default(),
        )
    }
}
