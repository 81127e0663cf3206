//! What a request asks to do, in the terms authorization rules use: a verb on a resource (group,
//! resource, subresource, namespace, name) or on a non-resource path.

use hyper::Method;

/// The attributes of one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, `impersonate`,
    /// … (for a non-resource path, the HTTP method in lower case).
    pub verb: String,
    /// Whether the request is on a resource (else on a non-resource path such as `/version`).
    pub is_resource: bool,
    /// The API group (`""` for core).
    pub group: String,
    /// The plural resource.
    pub resource: String,
    /// The subresource, or `""`.
    pub subresource: String,
    /// The namespace, or `""`.
    pub namespace: String,
    /// The object's name, or `""` for a collection.
    pub name: String,
    /// The path of a non-resource request.
    pub path: String,
}

impl Attributes {
    /// A request on a resource.
    pub fn resource(verb: &str, group: &str, resource: &str, subresource: &str, namespace: &str, name: &str) -> Self {
        Attributes {
            verb: verb.into(),
            is_resource: true,
            group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: namespace.into(),
            name: name.into(),
            path: String::new(),
        }
    }

    /// The check that impersonating `name` (a user, group, uid or service account) needs.
    pub fn impersonate(group: &str, resource: &str, name: &str, namespace: &str) -> Self {
        Attributes::resource("impersonate", group, resource, "", namespace, name)
    }

    /// A request on a non-resource path.
    pub fn non_resource(method: &Method, path: &str) -> Self {
        Attributes {
            verb: method.as_str().to_ascii_lowercase(),
            is_resource: false,
            path: path.to_string(),
            ..Attributes::default()
        }
    }

    /// The verb of a request on a resource, from its method and whether it names an object.
    pub fn resource_verb(method: &Method, named: bool, watching: bool) -> &'static str {
        match (method, named) {
            (&Method::GET, _) if watching => "watch",
            (&Method::GET, true) | (&Method::HEAD, true) => "get",
            (&Method::GET, false) | (&Method::HEAD, false) => "list",
            (&Method::POST, _) => "create",
            (&Method::PUT, _) => "update",
            (&Method::PATCH, _) => "patch",
            (&Method::DELETE, true) => "delete",
            (&Method::DELETE, false) => "deletecollection",
            _ => "",
        }
    }
}
