//! Reviews: resources that answer a POST with a decision and store nothing — access reviews (`kubectl
//! auth can-i`), rules reviews (`can-i --list`), the self-subject review (`kubectl auth whoami`) and token
//! reviews.

use super::respond::{self, Body};
use super::Server;
use crate::auth::{self, attributes::Attributes, UserInfo};
use hyper::{Response, StatusCode};
use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::{json, Value};
use themelios_api::{ApiError, StateRead};

/// A review resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Review {
    /// May I …? (`authorization.k8s.io/v1 selfsubjectaccessreviews`)
    SelfSubjectAccess,
    /// What may I do in a namespace? (`selfsubjectrulesreviews`)
    SelfSubjectRules,
    /// May this user …? (`subjectaccessreviews`)
    SubjectAccess,
    /// May this user … in this namespace? (`namespaces/<ns>/localsubjectaccessreviews`)
    LocalSubjectAccess,
    /// Who am I? (`authentication.k8s.io/v1 selfsubjectreviews`)
    SelfSubject,
    /// Whom does this token authenticate? (`tokenreviews`)
    Token,
}

const AUTHORIZATION: &str = "authorization.k8s.io";
const AUTHENTICATION: &str = "authentication.k8s.io";

/// Every review, for discovery.
pub const ALL: [Review; 6] = [
    Review::LocalSubjectAccess,
    Review::SelfSubjectAccess,
    Review::SelfSubjectRules,
    Review::SubjectAccess,
    Review::SelfSubject,
    Review::Token,
];

impl Review {
    /// The review at `/apis/<group>/<version>/<resource>`.
    pub fn named(group: &str, version: &str, resource: &str) -> Option<Review> {
        (version == "v1").then_some(())?;
        ALL.into_iter().find(|r| r.group() == group && r.resource() == resource)
    }
    /// Its API group.
    pub fn group(self) -> &'static str {
        match self {
            Review::SelfSubject | Review::Token => AUTHENTICATION,
            _ => AUTHORIZATION,
        }
    }
    /// Its plural resource.
    pub fn resource(self) -> &'static str {
        match self {
            Review::SelfSubjectAccess => "selfsubjectaccessreviews",
            Review::SelfSubjectRules => "selfsubjectrulesreviews",
            Review::SubjectAccess => "subjectaccessreviews",
            Review::LocalSubjectAccess => "localsubjectaccessreviews",
            Review::SelfSubject => "selfsubjectreviews",
            Review::Token => "tokenreviews",
        }
    }
    /// Its kind.
    pub fn kind(self) -> &'static str {
        match self {
            Review::SelfSubjectAccess => "SelfSubjectAccessReview",
            Review::SelfSubjectRules => "SelfSubjectRulesReview",
            Review::SubjectAccess => "SubjectAccessReview",
            Review::LocalSubjectAccess => "LocalSubjectAccessReview",
            Review::SelfSubject => "SelfSubjectReview",
            Review::Token => "TokenReview",
        }
    }
    /// Whether it is served under a namespace.
    pub fn namespaced(self) -> bool {
        self == Review::LocalSubjectAccess
    }
}

/// Whether `group` is one of the review groups.
pub fn serves_group(group: &str) -> bool {
    group == AUTHORIZATION || group == AUTHENTICATION
}

/// POST of a review: the request's object with its `status` filled in, 201.
pub fn create(
    server: &Server,
    mut body: Value,
    review: Review,
    namespace: Option<&str>,
    user: &UserInfo,
    manager: &str,
) -> Result<Response<Body>, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(format!("{} in body must be a JSON object", review.kind())));
    }
    let api_version = format!("{}/v1", review.group());
    body["apiVersion"] = api_version.clone().into();
    body["kind"] = review.kind().into();
    if let Some(spec) = body.get_mut("spec") {
        drop_empty_strings(spec);
    }
    // As upstream's create handler, which records the writer's fields on a review too.
    let mut metadata = body.get("metadata").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
    metadata["creationTimestamp"] = Value::Null;
    body["metadata"] = metadata;
    let group = review.group().split('.').next().unwrap_or_default();
    let typed = crate::fieldmanager::Typed {
        definition: format!("io.k8s.api.{group}.v1.{}", review.kind()),
        api_version: &api_version,
        // Go's zero review holds an empty spec (a struct, not a pointer): only the fields in it are new.
        zero: &json!({"spec": {}}),
    };
    crate::fieldmanager::record_update_of(None, &mut body, &typed, manager, server.now(), None);
    crate::packed_fields::unpack(&mut body);
    let state = server.store.snapshot();
    let status = match review {
        Review::SelfSubject => json!({"userInfo": user_info(user)}),
        Review::Token => {
            let token = body.pointer("/spec/token").and_then(Value::as_str).unwrap_or_default();
            match server.authenticator.authenticate(Some(&format!("Bearer {token}")), &state, server.now()) {
                Some(found) => json!({"authenticated": true, "user": user_info(&found), "audiences": []}),
                None => json!({"user": {}, "error": "invalid bearer token"}),
            }
        }
        Review::SelfSubjectRules => {
            let namespace = body.pointer("/spec/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
            rules_status(&state, user, &namespace)
        }
        Review::SelfSubjectAccess => access_status(&state, user, &body)?,
        Review::SubjectAccess | Review::LocalSubjectAccess => {
            let spec = body.get("spec").cloned().unwrap_or_default();
            let name = spec.get("user").and_then(Value::as_str).unwrap_or_default();
            let subject = UserInfo {
                name: name.to_string(),
                uid: spec.get("uid").and_then(Value::as_str).unwrap_or_default().to_string(),
                groups: themelios_api::json::strings_of(&spec, "groups"),
            };
            if name.is_empty() && subject.groups.is_empty() {
                return Err(invalid_review(review, "spec.user", "at least one of user or group must be specified"));
            }
            if let (Some(url_namespace), Review::LocalSubjectAccess) = (namespace, review) {
                let asked = spec.pointer("/resourceAttributes/namespace").and_then(Value::as_str).unwrap_or_default();
                if asked != url_namespace {
                    return Err(invalid_review(
                        review,
                        "spec.resourceAttributes.namespace",
                        "must match metadata.namespace",
                    ));
                }
            }
            access_status(&state, &subject, &body)?
        }
    };
    body["status"] = status;
    Ok(respond::json(StatusCode::CREATED, &body))
}

/// Removes empty strings, as Go's `omitempty` leaves them out of the echoed request.
fn drop_empty_strings(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            fields.retain(|_, v| v.as_str() != Some(""));
            fields.values_mut().for_each(drop_empty_strings);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty_strings),
        _ => {}
    }
}

fn invalid_review(review: Review, field: &str, why: &str) -> ApiError {
    let error = themelios_api::FieldError::invalid(field, "", why);
    ApiError::invalid_of(review.group(), review.kind(), "", vec![error])
}

fn user_info(user: &UserInfo) -> Value {
    let mut info = json!({"username": user.name, "groups": user.groups});
    if !user.uid.is_empty() {
        info["uid"] = user.uid.clone().into();
    }
    info
}

/// The decision on an access review's `spec.resourceAttributes` or `spec.nonResourceAttributes`.
fn access_status(state: &impl StateRead, user: &UserInfo, body: &Value) -> Result<Value, ApiError> {
    let text = |value: Option<&Value>, field: &str| -> String {
        value.and_then(|v| v.get(field)).and_then(Value::as_str).unwrap_or_default().to_string()
    };
    let resource = body.pointer("/spec/resourceAttributes");
    let non_resource = body.pointer("/spec/nonResourceAttributes");
    let attributes = match (resource, non_resource) {
        (Some(r), _) => Attributes::resource(
            &text(Some(r), "verb"),
            &text(Some(r), "group"),
            &text(Some(r), "resource"),
            &text(Some(r), "subresource"),
            &text(Some(r), "namespace"),
            &text(Some(r), "name"),
        ),
        (None, Some(n)) => {
            Attributes { verb: text(Some(n), "verb"), path: text(Some(n), "path"), ..Attributes::default() }
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            ))
        }
    };
    let decision = auth::authorize(state, user, &attributes);
    let mut status = json!({"allowed": decision.allowed});
    if !decision.reason.is_empty() {
        status["reason"] = decision.reason.into();
    }
    Ok(status)
}

/// What `user` may do in `namespace`: the rules of every role bound to them there or cluster-wide.
fn rules_status(state: &impl StateRead, user: &UserInfo, namespace: &str) -> Value {
    let rules = crate::auth::rbac::rules_for(state, user, namespace);
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for rule in rules {
        let PolicyRule { verbs, api_groups, resources, resource_names, non_resource_urls } = rule;
        if let Some(urls) = non_resource_urls.filter(|u| !u.is_empty()) {
            non_resource_rules.push(json!({"verbs": verbs, "nonResourceURLs": urls}));
        } else {
            let mut entry = json!({"verbs": verbs, "apiGroups": api_groups.unwrap_or_default(), "resources": resources.unwrap_or_default()});
            if let Some(names) = resource_names.filter(|n| !n.is_empty()) {
                entry["resourceNames"] = json!(names);
            }
            resource_rules.push(entry);
        }
    }
    json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false})
}
