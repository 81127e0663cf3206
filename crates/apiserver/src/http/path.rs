//! Request paths: which endpoint a URL names.

use themelios_api::Kind;

/// What a request path addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/version`
    Version,
    /// `/healthz`, `/readyz`, `/livez` (and their `/…/<check>` forms).
    Health,
    /// `/openapi/v3`: where each group-version's document is.
    OpenApiRoot,
    /// `/openapi/v3/<api/v1 | apis/group/version>`: one document.
    OpenApi(String),
    /// `/api`: the core group's versions.
    CoreRoot,
    /// `/apis`: every other group.
    GroupsRoot,
    /// `/apis/<group>`: one group's versions.
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`: the resources of a group-version.
    GroupVersion {
        /// `""` for the core group.
        group: String,
        /// e.g. `v1`
        version: String,
    },
    /// A resource collection or object.
    Resource(ResourcePath),
}

/// A resource URL: `/api/v1/namespaces/default/pods/web-0/status` and the like.
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

/// The kind a group-version serves under `plural`.
pub fn kind_for(group: &str, version: &str, plural: &str) -> Option<Kind> {
    Kind::ALL.iter().copied().find(|k| k.group() == group && k.version() == version && k.plural() == plural)
}

/// Parses a request path (without the query).
///
/// ```
/// use themelios_apiserver::http::path::{parse, Endpoint};
/// let Some(Endpoint::Resource(r)) = parse("/apis/apps/v1/namespaces/default/deployments/web/scale") else { panic!() };
/// assert_eq!((r.namespace.as_deref(), r.name.as_deref(), r.subresource.as_deref()), (Some("default"), Some("web"), Some("scale")));
/// assert_eq!(parse("/apis/apps/v1/widgets"), None);
/// ```
pub fn parse(path: &str) -> Option<Endpoint> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match segments.as_slice() {
        ["version"] => Some(Endpoint::Version),
        ["healthz" | "readyz" | "livez", ..] => Some(Endpoint::Health),
        ["openapi", "v3"] => Some(Endpoint::OpenApiRoot),
        ["openapi", "v3", rest @ ..] => Some(Endpoint::OpenApi(rest.join("/"))),
        ["api"] => Some(Endpoint::CoreRoot),
        ["apis"] => Some(Endpoint::GroupsRoot),
        ["api", version] => served_group_version("", version),
        ["apis", group] => Kind::ALL.iter().any(|k| k.group() == *group).then(|| Endpoint::Group(group.to_string())),
        ["apis", group, version] => served_group_version(group, version),
        ["api", version, rest @ ..] => resource("", version, rest),
        ["apis", group, version, rest @ ..] => resource(group, version, rest),
        _ => None,
    }
}

fn served_group_version(group: &str, version: &str) -> Option<Endpoint> {
    Kind::ALL
        .iter()
        .any(|k| k.group() == group && k.version() == version)
        .then(|| Endpoint::GroupVersion { group: group.to_string(), version: version.to_string() })
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Option<Endpoint> {
    let (watch_prefix, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    let lookup = |plural: &str| kind_for(group, version, plural);
    let path = |kind: Kind, namespace: Option<&str>, name: Option<&str>, sub: Option<&str>| {
        Some(Endpoint::Resource(ResourcePath {
            kind,
            namespace: namespace.map(str::to_string),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
            watch_prefix,
        }))
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

    fn resource_path(path: &str) -> ResourcePath {
        match parse(path) {
            Some(Endpoint::Resource(r)) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn namespaces_are_both_a_resource_and_a_scope() {
        let ns = resource_path("/api/v1/namespaces/demo");
        assert_eq!((ns.kind, ns.name.as_deref(), ns.namespace), (Kind::Namespace, Some("demo"), None));
        let pods = resource_path("/api/v1/namespaces/demo/pods");
        assert_eq!((pods.kind, pods.namespace.as_deref(), pods.name), (Kind::Pod, Some("demo"), None));
        let finalize = resource_path("/api/v1/namespaces/demo/finalize");
        assert_eq!((finalize.kind, finalize.subresource.as_deref()), (Kind::Namespace, Some("finalize")));
    }

    #[test]
    fn cluster_and_namespaced_paths_are_told_apart() {
        assert_eq!(resource_path("/api/v1/nodes/n1/status").subresource.as_deref(), Some("status"));
        assert_eq!(resource_path("/api/v1/pods").namespace, None);
        assert_eq!(parse("/api/v1/pods/x"), None, "a namespaced object needs its namespace");
        assert!(resource_path("/api/v1/watch/namespaces/d/pods").watch_prefix);
        assert_eq!(parse("/apis/batch/v1/namespaces/d/jobs/j/status/extra"), None);
    }

    #[test]
    fn discovery_paths() {
        assert_eq!(parse("/api"), Some(Endpoint::CoreRoot));
        assert_eq!(parse("/apis/apps"), Some(Endpoint::Group("apps".into())));
        assert_eq!(parse("/apis/apps/v2"), None);
        assert_eq!(parse("/readyz/ping"), Some(Endpoint::Health));
    }
}
