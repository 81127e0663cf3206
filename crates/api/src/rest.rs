//! The REST layout of the Kubernetes API: where each kind's collections, objects and subresources live.
//! Spelled and parsed here only — the live runtime's requests, the API server's routing and its OpenAPI
//! paths all use it, so the three cannot drift apart.
//!
//! ```
//! use themelios_api::rest::{self, ResourcePath};
//! use themelios_api::Kind;
//! let path = ResourcePath::object(Kind::Deployment, "default", "web").with_subresource("scale");
//! assert_eq!(path.to_string(), "/apis/apps/v1/namespaces/default/deployments/web/scale");
//! assert_eq!(rest::parse_resource_path(&path.to_string()), Some(path));
//! assert_eq!(rest::collection_path(Kind::Node, None), "/api/v1/nodes");
//! ```

use crate::kind::Kind;
use std::fmt;

/// `/api/<version>` for the core group, `/apis/<group>/<version>` for the others.
pub fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// The collection URL of a kind in a namespace (`None`, or any namespace for a cluster-scoped kind: the
/// cluster-wide collection).
pub fn collection_path(kind: Kind, namespace: Option<&str>) -> String {
    ResourcePath::collection(kind, namespace).to_string()
}

/// The URL of one object.
pub fn object_path(kind: Kind, namespace: &str, name: &str) -> String {
    ResourcePath::object(kind, namespace, name).to_string()
}

/// The URL template of one object of `kind`, as OpenAPI documents name it
/// (`…/namespaces/{namespace}/<plural>/{name}`).
pub fn object_path_template(kind: Kind) -> String {
    ResourcePath::object(kind, "{namespace}", "{name}").to_string()
}

/// The kind a group-version serves under `plural`.
pub fn kind_for(group: &str, version: &str, plural: &str) -> Option<Kind> {
    Kind::ALL.iter().copied().find(|k| k.group() == group && k.version() == version && k.plural() == plural)
}

/// A resource URL: a collection, an object, or an object's subresource, possibly under the legacy
/// `/watch/` prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourcePath {
    /// The kind the resource serves.
    pub kind: Kind,
    /// The namespace in the URL (`None` for cluster-scoped kinds and all-namespace collections).
    pub namespace: Option<String>,
    /// The object name; `None` for a collection.
    pub name: Option<String>,
    /// `status`, `scale`, `binding`, `eviction`…
    pub subresource: Option<String>,
    /// Whether the path used the legacy `/watch/` prefix.
    pub watch_prefix: bool,
}

impl ResourcePath {
    /// A kind's collection in a namespace (ignored for a cluster-scoped kind; `None` or empty: every
    /// namespace).
    pub fn collection(kind: Kind, namespace: Option<&str>) -> Self {
        let namespace = namespace.filter(|n| kind.namespaced() && !n.is_empty()).map(str::to_string);
        Self { kind, namespace, name: None, subresource: None, watch_prefix: false }
    }

    /// One object (`namespace` is ignored for a cluster-scoped kind).
    pub fn object(kind: Kind, namespace: &str, name: &str) -> Self {
        Self { name: Some(name.to_string()), ..Self::collection(kind, Some(namespace)) }
    }

    /// The same object's subresource.
    pub fn with_subresource(mut self, subresource: &str) -> Self {
        self.subresource = Some(subresource.to_string());
        self
    }
}

impl fmt::Display for ResourcePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind;
        let base = group_version_path(kind.group(), kind.version());
        write!(f, "{base}")?;
        if self.watch_prefix {
            write!(f, "/watch")?;
        }
        if let Some(namespace) = &self.namespace {
            write!(f, "/namespaces/{namespace}")?;
        }
        write!(f, "/{}", kind.plural())?;
        if let Some(name) = &self.name {
            write!(f, "/{name}")?;
            if let Some(sub) = &self.subresource {
                write!(f, "/{sub}")?;
            }
        }
        Ok(())
    }
}

/// The resource a whole path names, if it names one.
pub fn parse_resource_path(path: &str) -> Option<ResourcePath> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match segments.as_slice() {
        ["api", version, rest @ ..] => parse_resource("", version, rest),
        ["apis", group, version, rest @ ..] => parse_resource(group, version, rest),
        _ => None,
    }
}

/// The resource named by the segments after `/api/<version>` or `/apis/<group>/<version>`.
pub fn parse_resource(group: &str, version: &str, rest: &[&str]) -> Option<ResourcePath> {
    let (watch_prefix, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    let lookup = |plural: &str| kind_for(group, version, plural);
    let path = |kind: Kind, namespace: Option<&str>, name: Option<&str>, sub: Option<&str>| {
        Some(ResourcePath {
            kind,
            namespace: namespace.map(str::to_string),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
            watch_prefix,
        })
    };
    match rest {
        // namespaces/<ns>/<plural>... when <plural> is a namespaced resource of this group-version.
        ["namespaces", namespace, plural, tail @ ..] if lookup(plural).is_some_and(Kind::namespaced) => {
            let kind = lookup(plural)?;
            match tail {
                [] => path(kind, Some(namespace), None, None),
                [name] => path(kind, Some(namespace), Some(name), None),
                [name, sub] => path(kind, Some(namespace), Some(name), Some(sub)),
                _ => None,
            }
        }
        [plural, tail @ ..] => {
            let kind = lookup(plural)?;
            match (tail, kind.namespaced()) {
                ([], _) => path(kind, None, None, None),
                ([name], false) => path(kind, None, Some(name), None),
                ([name, sub], false) => path(kind, None, Some(name), Some(sub)),
                _ => None,
            }
        }
        [] => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_spelled_parses_back_to_itself() {
        for kind in Kind::ALL.iter().copied() {
            let mut paths = vec![
                ResourcePath::collection(kind, None),
                ResourcePath::collection(kind, Some("team-a")),
                ResourcePath::object(kind, "team-a", "web-0"),
                ResourcePath::object(kind, "team-a", "web-0").with_subresource("status"),
            ];
            paths.push(ResourcePath { watch_prefix: true, ..ResourcePath::collection(kind, Some("team-a")) });
            for path in paths {
                let spelled = path.to_string();
                assert_eq!(parse_resource_path(&spelled), Some(path.clone()), "{spelled}");
                assert_eq!(spelled.contains("/namespaces/team-a"), kind.namespaced() && path.namespace.is_some());
            }
        }
    }

    #[test]
    fn the_layout_is_upstreams() {
        assert_eq!(collection_path(Kind::Pod, Some("default")), "/api/v1/namespaces/default/pods");
        assert_eq!(collection_path(Kind::Pod, None), "/api/v1/pods");
        assert_eq!(collection_path(Kind::Node, Some("default")), "/api/v1/nodes");
        assert_eq!(object_path(Kind::Deployment, "d", "web"), "/apis/apps/v1/namespaces/d/deployments/web");
        assert_eq!(object_path(Kind::Namespace, "", "d"), "/api/v1/namespaces/d");
        assert_eq!(
            object_path_template(Kind::Lease),
            "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        );
        // `namespaces` is both a resource and a scope.
        let ns = parse_resource_path("/api/v1/namespaces/default").expect("a namespace");
        assert_eq!((ns.kind, ns.name.as_deref()), (Kind::Namespace, Some("default")));
        assert_eq!(parse_resource_path("/apis/apps/v1/widgets"), None);
    }
}
