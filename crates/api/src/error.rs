//! API errors. Each [`ApiError`] is exactly one Kubernetes `Status`: code, reason, message and details.

use crate::kind::Kind;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use serde::Serialize;
use std::fmt;

/// `Status.reason`, as upstream names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Reason {
    /// 400
    BadRequest,
    /// 401
    Unauthorized,
    /// 403
    Forbidden,
    /// 404
    NotFound,
    /// 405
    MethodNotAllowed,
    /// 406
    NotAcceptable,
    /// 409, an object with that name exists.
    AlreadyExists,
    /// 409, a precondition (resourceVersion, uid) failed.
    Conflict,
    /// 410, a watch or list asked for a compacted revision.
    Expired,
    /// 413
    RequestEntityTooLarge,
    /// 415
    UnsupportedMediaType,
    /// 422, validation failed.
    Invalid,
    /// 429
    TooManyRequests,
    /// 500
    InternalError,
    /// 504, the request may still take effect.
    Timeout,
    /// 500 with no reason: what upstream answers for an error that is not an API error (such as a
    /// resourceVersion that is not a number reaching its storage layer).
    Unknown,
}

impl Reason {
    /// The HTTP status code upstream pairs with this reason.
    pub fn code(self) -> u16 {
        match self {
            Reason::BadRequest => 400,
            Reason::Unauthorized => 401,
            Reason::Forbidden => 403,
            Reason::NotFound => 404,
            Reason::MethodNotAllowed => 405,
            Reason::NotAcceptable => 406,
            Reason::AlreadyExists | Reason::Conflict => 409,
            Reason::Expired => 410,
            Reason::RequestEntityTooLarge => 413,
            Reason::UnsupportedMediaType => 415,
            Reason::Invalid => 422,
            Reason::TooManyRequests => 429,
            Reason::InternalError | Reason::Unknown => 500,
            Reason::Timeout => 504,
        }
    }

    /// The reason a `Status` from a server carries, falling back on its code for reasons this enum does
    /// not name (`ServerTimeout` is a `Timeout`, `Gone` an `Expired`).
    ///
    /// ```
    /// use themelios_api::Reason;
    /// assert_eq!(Reason::from_status("AlreadyExists", 409), Reason::AlreadyExists);
    /// assert_eq!(Reason::from_status("", 422), Reason::Invalid);
    /// assert_eq!(Reason::from_status("", 409), Reason::Conflict);
    /// ```
    pub fn from_status(reason: &str, code: u16) -> Reason {
        const ALL: &[Reason] = &[
            Reason::BadRequest,
            Reason::Unauthorized,
            Reason::Forbidden,
            Reason::NotFound,
            Reason::MethodNotAllowed,
            Reason::NotAcceptable,
            Reason::Conflict,
            Reason::AlreadyExists,
            Reason::Expired,
            Reason::RequestEntityTooLarge,
            Reason::UnsupportedMediaType,
            Reason::Invalid,
            Reason::TooManyRequests,
            Reason::InternalError,
            Reason::Timeout,
        ];
        let reason = match reason {
            "ServerTimeout" => "Timeout",
            "Gone" => "Expired",
            other => other,
        };
        // By name, else by code (a bare 409 is a Conflict: it is listed before AlreadyExists).
        ALL.iter()
            .copied()
            .find(|r| r.as_str() == reason)
            .or_else(|| ALL.iter().copied().find(|r| r.code() == code))
            .unwrap_or(Reason::InternalError)
    }

    /// The reason as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadRequest => "BadRequest",
            Reason::Unauthorized => "Unauthorized",
            Reason::Forbidden => "Forbidden",
            Reason::NotFound => "NotFound",
            Reason::MethodNotAllowed => "MethodNotAllowed",
            Reason::NotAcceptable => "NotAcceptable",
            Reason::AlreadyExists => "AlreadyExists",
            Reason::Conflict => "Conflict",
            Reason::Expired => "Expired",
            Reason::RequestEntityTooLarge => "RequestEntityTooLarge",
            Reason::UnsupportedMediaType => "UnsupportedMediaType",
            Reason::Invalid => "Invalid",
            Reason::TooManyRequests => "TooManyRequests",
            Reason::InternalError => "InternalError",
            Reason::Timeout => "Timeout",
            Reason::Unknown => "",
        }
    }
}

/// The type of one field error, as upstream's `field.ErrorType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldErrorType {
    /// `Invalid value`
    Invalid,
    /// `Required value`
    Required,
    /// `Forbidden`
    Forbidden,
    /// `Unsupported value`
    NotSupported,
    /// `Duplicate value`
    Duplicate,
    /// `Too long`
    TooLong,
}

impl FieldErrorType {
    fn cause_reason(self) -> &'static str {
        match self {
            FieldErrorType::Invalid => "FieldValueInvalid",
            FieldErrorType::Required => "FieldValueRequired",
            FieldErrorType::Forbidden => "FieldValueForbidden",
            FieldErrorType::NotSupported => "FieldValueNotSupported",
            FieldErrorType::Duplicate => "FieldValueDuplicate",
            FieldErrorType::TooLong => "FieldValueTooLong",
        }
    }
}

/// One validation failure on one field, e.g. `spec.replicas: Invalid value: -1: must be greater than or equal to 0`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldError {
    /// What kind of failure.
    pub error_type: FieldErrorType,
    /// The field path, e.g. `spec.template.spec.containers[0].image`.
    pub field: String,
    /// The offending value, already rendered as upstream prints it (strings quoted).
    pub value: Option<String>,
    /// Why it is wrong.
    pub detail: String,
}

impl FieldError {
    /// `field: Invalid value: value: detail`
    pub fn invalid(field: impl Into<String>, value: impl fmt::Debug, detail: impl Into<String>) -> Self {
        Self {
            error_type: FieldErrorType::Invalid,
            field: field.into(),
            value: Some(render(&value)),
            detail: detail.into(),
        }
    }
    /// `field: Invalid value: shown: detail`, the value already written as upstream prints it (Go's `%#v`
    /// of a list or a struct).
    pub fn invalid_shown(field: impl Into<String>, shown: String, detail: impl Into<String>) -> Self {
        Self { error_type: FieldErrorType::Invalid, field: field.into(), value: Some(shown), detail: detail.into() }
    }
    /// `field: Required value[: detail]`
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { error_type: FieldErrorType::Required, field: field.into(), value: None, detail: detail.into() }
    }
    /// `field: Forbidden: detail`
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { error_type: FieldErrorType::Forbidden, field: field.into(), value: None, detail: detail.into() }
    }
    /// `field: Unsupported value: "x": supported values: "a", "b"`
    pub fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let list = supported.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
        Self {
            error_type: FieldErrorType::NotSupported,
            field: field.into(),
            value: Some(format!("{value:?}")),
            detail: format!("supported values: {list}"),
        }
    }
    /// `field: Duplicate value: value`
    pub fn duplicate(field: impl Into<String>, value: impl fmt::Debug) -> Self {
        Self {
            error_type: FieldErrorType::Duplicate,
            field: field.into(),
            value: Some(render(&value)),
            detail: String::new(),
        }
    }
    /// `field: Too long: may not be more than N bytes`
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        Self {
            error_type: FieldErrorType::TooLong,
            field: field.into(),
            value: None,
            detail: format!("may not be more than {max} bytes"),
        }
    }

    /// The message without the field, as it appears in a `Status` cause.
    pub fn message_body(&self) -> String {
        let head = match self.error_type {
            FieldErrorType::Invalid => "Invalid value",
            FieldErrorType::Required => "Required value",
            FieldErrorType::Forbidden => "Forbidden",
            FieldErrorType::NotSupported => "Unsupported value",
            FieldErrorType::Duplicate => "Duplicate value",
            FieldErrorType::TooLong => "Too long",
        };
        let mut out = head.to_string();
        if let Some(value) = &self.value {
            out.push_str(": ");
            out.push_str(value);
        }
        if !self.detail.is_empty() {
            out.push_str(": ");
            out.push_str(&self.detail);
        }
        out
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message_body())
    }
}

/// Renders a value as upstream's `%#v`-style messages do: strings quoted, numbers bare.
fn render(value: &dyn fmt::Debug) -> String {
    format!("{value:?}")
}

/// A label map as Go's `%#v` prints it in upstream's field errors: `map[string]string{"app":"web"}`.
pub struct GoMap<'a>(pub Option<&'a std::collections::BTreeMap<String, String>>);

impl fmt::Debug for GoMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("map[string]string(nil)"),
            Some(map) => {
                let entries: Vec<String> = map.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
                write!(f, "map[string]string{{{}}}", entries.join(", "))
            }
        }
    }
}

/// A label selector as Go's `%#v` prints it in upstream's field errors.
pub struct GoLabelSelector<'a>(pub &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector);

impl fmt::Debug for GoLabelSelector<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let expressions = match self.0.match_expressions.as_deref() {
            None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
            Some(list) => {
                let items: Vec<String> = list
                    .iter()
                    .map(|r| {
                        let values = match r.values.as_deref() {
                            None => "[]string(nil)".to_string(),
                            Some(v) => format!(
                                "[]string{{{}}}",
                                v.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", ")
                            ),
                        };
                        format!(
                            "v1.LabelSelectorRequirement{{Key:{:?}, Operator:{:?}, Values:{values}}}",
                            r.key, r.operator
                        )
                    })
                    .collect();
                format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
            }
        };
        write!(
            f,
            "v1.LabelSelector{{MatchLabels:{:?}, MatchExpressions:{expressions}}}",
            GoMap(self.0.match_labels.as_ref())
        )
    }
}

/// One `Status.details.causes` entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cause {
    /// e.g. `FieldValueInvalid`
    pub reason: String,
    /// The message without the field.
    pub message: String,
    /// The field path.
    pub field: String,
}

/// `Status.details`
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Details {
    /// The object's name.
    pub name: String,
    /// The API group.
    pub group: String,
    /// The kind (for Invalid) or the plural resource (for NotFound, AlreadyExists, Conflict), as upstream.
    pub kind: String,
    /// Field-level causes.
    pub causes: Vec<Cause>,
    /// Seconds to wait before retrying (429, 504).
    pub retry_after_seconds: Option<i32>,
}

/// An API request's failure: one-to-one with a Kubernetes `Status`.
///
/// ```
/// use themelios_api::{ApiError, Kind, Reason};
/// let err = ApiError::not_found(Kind::ReplicaSet, "web");
/// assert_eq!(err.reason, Reason::NotFound);
/// assert_eq!(err.message, r#"replicasets.apps "web" not found"#);
/// assert_eq!(err.to_status().code, Some(404));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The reason; its code is `reason.code()`.
    pub reason: Reason,
    /// The human-readable message.
    pub message: String,
    /// Structured details (boxed: errors travel in every `Result` of the request path).
    pub details: Option<Box<Details>>,
}

impl ApiError {
    /// A plain error with no details.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self { reason, message: message.into(), details: None }
    }

    fn about(reason: Reason, kind: Kind, name: &str, message: String) -> Self {
        Self {
            reason,
            message,
            details: Some(Box::new(Details {
                name: name.to_string(),
                group: kind.group().to_string(),
                kind: kind.plural().to_string(),
                ..Details::default()
            })),
        }
    }

    /// `pods "x" not found`
    pub fn not_found(kind: Kind, name: &str) -> Self {
        Self::about(Reason::NotFound, kind, name, format!("{} {name:?} not found", kind.qualified_resource()))
    }

    /// `pods "x" already exists`
    pub fn already_exists(kind: Kind, name: &str) -> Self {
        Self::about(Reason::AlreadyExists, kind, name, format!("{} {name:?} already exists", kind.qualified_resource()))
    }

    /// `Operation cannot be fulfilled on pods "x": <why>`
    pub fn conflict(kind: Kind, name: &str, why: &str) -> Self {
        Self::about(
            Reason::Conflict,
            kind,
            name,
            format!("Operation cannot be fulfilled on {} {name:?}: {why}", kind.qualified_resource()),
        )
    }

    /// A delete's failed precondition: upstream names the kind, not the resource (`ConfigMap "x"`,
    /// `Deployment.apps "x"`).
    pub fn precondition_failed(kind: Kind, name: &str, why: &str) -> Self {
        Self {
            reason: Reason::Conflict,
            message: format!("Operation cannot be fulfilled on {} {name:?}: {why}", kind.qualified_kind()),
            details: Some(Box::new(Details {
                name: name.to_string(),
                group: kind.group().to_string(),
                kind: kind.name().to_string(),
                ..Details::default()
            })),
        }
    }

    /// A subresource's conflict, named after it (`pods/binding "x"`).
    pub fn subresource_conflict(kind: Kind, subresource: &str, name: &str, why: &str) -> Self {
        let resource = format!("{}/{subresource}", kind.qualified_resource());
        Self {
            reason: Reason::Conflict,
            message: format!("Operation cannot be fulfilled on {resource} {name:?}: {why}"),
            details: Some(Box::new(Details {
                name: name.to_string(),
                group: kind.group().to_string(),
                kind: format!("{}/{subresource}", kind.plural()),
                ..Details::default()
            })),
        }
    }

    /// The Conflict for a stale resourceVersion, worded as upstream.
    pub fn stale(kind: Kind, name: &str) -> Self {
        Self::conflict(
            kind,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// `pods "x" is forbidden: <why>`
    pub fn forbidden(kind: Kind, name: &str, why: &str) -> Self {
        Self::about(
            Reason::Forbidden,
            kind,
            name,
            format!("{} {name:?} is forbidden: {why}", kind.qualified_resource()),
        )
    }

    /// A 500: the server failed, not the request.
    pub fn internal(message: &str) -> Self {
        Self::new(Reason::InternalError, format!("Internal error occurred: {message}"))
    }

    /// A 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Reason::BadRequest, message)
    }

    /// A 422 listing every field error, worded as upstream (`Pod "x" is invalid: [a, b]`).
    pub fn invalid(kind: Kind, name: &str, errors: Vec<FieldError>) -> Self {
        Self::invalid_of(kind.group(), kind.name(), name, errors)
    }

    /// [`ApiError::invalid`] for a type that is not a stored kind (a TokenRequest, a review).
    pub fn invalid_of(group: &str, kind: &str, name: &str, errors: Vec<FieldError>) -> Self {
        let qualified = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
        let list = match errors.as_slice() {
            [one] => one.to_string(),
            many => format!("[{}]", many.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
        };
        Self {
            reason: Reason::Invalid,
            message: format!("{qualified} {name:?} is invalid: {list}"),
            details: Some(Box::new(Details {
                name: name.to_string(),
                group: group.to_string(),
                kind: kind.to_string(),
                causes: errors
                    .iter()
                    .map(|e| Cause {
                        reason: e.error_type.cause_reason().to_string(),
                        message: e.message_body(),
                        field: e.field.clone(),
                    })
                    .collect(),
                retry_after_seconds: None,
            })),
        }
    }

    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        self.reason.code()
    }

    /// The field errors of an Invalid error (empty otherwise).
    pub fn causes(&self) -> &[Cause] {
        self.details.as_ref().map(|d| d.causes.as_slice()).unwrap_or_default()
    }

    /// As a Kubernetes `Status` object.
    pub fn to_status(&self) -> meta::Status {
        meta::Status {
            code: Some(i32::from(self.code())),
            reason: Some(self.reason.as_str().to_string()).filter(|r| !r.is_empty()),
            message: Some(self.message.clone()),
            status: Some("Failure".to_string()),
            details: self.details.as_ref().map(|d| meta::StatusDetails {
                name: Some(d.name.clone()).filter(|s| !s.is_empty()),
                group: Some(d.group.clone()).filter(|s| !s.is_empty()),
                kind: Some(d.kind.clone()).filter(|s| !s.is_empty()),
                causes: (!d.causes.is_empty()).then(|| {
                    d.causes
                        .iter()
                        .map(|c| meta::StatusCause {
                            reason: Some(c.reason.clone()),
                            message: Some(c.message.clone()),
                            field: Some(c.field.clone()).filter(|f| !f.is_empty()),
                        })
                        .collect()
                }),
                retry_after_seconds: d.retry_after_seconds,
                uid: None,
            }),
            metadata: meta::ListMeta::default(),
        }
    }
}
