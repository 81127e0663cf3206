//! Request paths: which endpoint a URL names.

use themelios_api::Kind;

/// What a request path addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/version`
    Version,
    /// `/healthz`, `/readyz`, `/livez` (and their `/…/<check>` forms).
    Health,
    /// `/.well-known/openid-configuration`: where service-account tokens' keys are published.
    OpenIdConfiguration,
    /// `/openid/v1/jwks`: the keys that verify service-account tokens.
    Jwks,
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
    /// A review: a resource that only answers a POST, stored nowhere.
    Review {
        /// Which review.
        review: super::reviews::Review,
        /// The namespace of a `LocalSubjectAccessReview`.
        namespace: Option<String>,
    },
}

use themelios_api::rest::parse_resource;
pub use themelios_api::rest::{kind_for, ResourcePath};

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
        [".well-known", "openid-configuration"] => Some(Endpoint::OpenIdConfiguration),
        ["openid", "v1", "jwks"] => Some(Endpoint::Jwks),
        ["openapi", "v3"] => Some(Endpoint::OpenApiRoot),
        ["openapi", "v3", rest @ ..] => Some(Endpoint::OpenApi(rest.join("/"))),
        ["api"] => Some(Endpoint::CoreRoot),
        ["apis"] => Some(Endpoint::GroupsRoot),
        ["api", version] => served_group_version("", version),
        ["apis", group] => {
            let served = Kind::ALL.iter().any(|k| k.group() == *group) || super::reviews::serves_group(group);
            served.then(|| Endpoint::Group(group.to_string()))
        }
        ["apis", group, version] => served_group_version(group, version),
        ["apis", group, version, "namespaces", namespace, resource] => {
            match super::reviews::Review::named(group, version, resource).filter(|r| r.namespaced()) {
                Some(review) => Some(Endpoint::Review { review, namespace: Some(namespace.to_string()) }),
                None => parse_resource(group, version, &["namespaces", namespace, resource]).map(Endpoint::Resource),
            }
        }
        ["apis", group, version, resource] if super::reviews::Review::named(group, version, resource).is_some() => {
            let review = super::reviews::Review::named(group, version, resource).filter(|r| !r.namespaced())?;
            Some(Endpoint::Review { review, namespace: None })
        }
        ["api", version, rest @ ..] => parse_resource("", version, rest).map(Endpoint::Resource),
        ["apis", group, version, rest @ ..] => parse_resource(group, version, rest).map(Endpoint::Resource),
        _ => None,
    }
}

fn served_group_version(group: &str, version: &str) -> Option<Endpoint> {
    let reviewed = super::reviews::serves_group(group) && version == "v1";
    (reviewed || Kind::ALL.iter().any(|k| k.group() == group && k.version() == version))
        .then(|| Endpoint::GroupVersion { group: group.to_string(), version: version.to_string() })
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
