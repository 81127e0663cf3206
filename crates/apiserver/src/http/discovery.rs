//! Discovery: `/api`, `/apis` (aggregated v2 and the legacy forms), and each group-version's resources.

use serde_json::{json, Value};
use themelios_api::Kind;

/// The content type of an aggregated discovery response; kubectl ignores the body without it.
pub const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

const VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// The kinds `kubectl get all` lists.
fn categories(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Pod
        | Kind::Service
        | Kind::ReplicationController
        | Kind::Deployment
        | Kind::ReplicaSet
        | Kind::StatefulSet
        | Kind::DaemonSet
        | Kind::HorizontalPodAutoscaler
        | Kind::Job
        | Kind::CronJob => &["all"],
        _ => &[],
    }
}

/// A subresource a kind serves: name, response group/version/kind, verbs.
struct Subresource {
    name: &'static str,
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    verbs: &'static [&'static str],
}

/// Whether a kind serves the scale subresource.
pub fn has_scale(kind: Kind) -> bool {
    matches!(kind, Kind::Deployment | Kind::ReplicaSet | Kind::StatefulSet)
}

fn subresources(kind: Kind) -> Vec<Subresource> {
    let mut out = Vec::new();
    if kind.has_status() {
        out.push(Subresource {
            name: "status",
            group: kind.group(),
            version: kind.version(),
            kind: kind.name(),
            verbs: &["get", "patch", "update"],
        });
    }
    if has_scale(kind) {
        out.push(Subresource {
            name: "scale",
            group: "autoscaling",
            version: "v1",
            kind: "Scale",
            verbs: &["get", "patch", "update"],
        });
    }
    if kind == Kind::Namespace {
        out.push(Subresource { name: "finalize", group: "", version: "v1", kind: "Namespace", verbs: &["update"] });
    }
    if kind == Kind::Pod {
        out.push(Subresource { name: "binding", group: "", version: "v1", kind: "Binding", verbs: &["create"] });
        out.push(Subresource {
            name: "eviction",
            group: "policy",
            version: "v1",
            kind: "Eviction",
            verbs: &["create"],
        });
    }
    out
}

/// The groups served, the core group (`""`) first, each with its one version.
fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for kind in Kind::ALL {
        if !out.contains(&(kind.group(), kind.version())) {
            out.push((kind.group(), kind.version()));
        }
    }
    for review in super::reviews::ALL {
        if !out.contains(&(review.group(), "v1")) {
            out.push((review.group(), "v1"));
        }
    }
    out
}

/// The reviews served in a group-version: create-only resources.
fn reviews_of<'a>(group: &'a str, version: &'a str) -> impl Iterator<Item = super::reviews::Review> + 'a {
    super::reviews::ALL.into_iter().filter(move |r| r.group() == group && version == "v1")
}

fn kinds_of<'a>(group: &'a str, version: &'a str) -> impl Iterator<Item = Kind> + 'a {
    Kind::ALL.iter().copied().filter(move |k| k.group() == group && k.version() == version)
}

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// `APIVersions` for `/api`.
pub fn core_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
}

/// `APIGroup` for one group.
fn api_group(group: &str, version: &str) -> Value {
    let preferred = json!({"groupVersion": group_version(group, version), "version": version});
    json!({"name": group, "versions": [preferred.clone()], "preferredVersion": preferred})
}

/// `APIGroupList` for `/apis`.
pub fn group_list() -> Value {
    let groups: Vec<Value> =
        groups().into_iter().filter(|(g, _)| !g.is_empty()).map(|(g, v)| api_group(g, v)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `APIGroup` for `/apis/<group>`.
pub fn group(name: &str) -> Option<Value> {
    groups().into_iter().find(|(g, _)| *g == name).map(|(g, v)| {
        let mut value = api_group(g, v);
        value["kind"] = "APIGroup".into();
        value["apiVersion"] = "v1".into();
        value
    })
}

/// `APIResourceList` for `/api/v1` or `/apis/<group>/<version>`.
pub fn resource_list(group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for kind in kinds_of(group, version) {
        let mut resource = json!({
            "name": kind.plural(),
            "singularName": kind.name().to_ascii_lowercase(),
            "namespaced": kind.namespaced(),
            "kind": kind.name(),
            "verbs": VERBS,
        });
        if !kind.short_names().is_empty() {
            resource["shortNames"] = json!(kind.short_names());
        }
        if !categories(kind).is_empty() {
            resource["categories"] = json!(categories(kind));
        }
        resources.push(resource);
        for sub in subresources(kind) {
            let mut entry = json!({
                "name": format!("{}/{}", kind.plural(), sub.name),
                "singularName": "",
                "namespaced": kind.namespaced(),
                "kind": sub.kind,
                "verbs": sub.verbs,
            });
            if (sub.group, sub.version) != (group, version) {
                entry["group"] = sub.group.into();
                entry["version"] = sub.version.into();
            }
            resources.push(entry);
        }
    }
    for review in reviews_of(group, version) {
        resources.push(json!({
            "name": review.resource(), "singularName": review.kind().to_ascii_lowercase(),
            "namespaced": review.namespaced(), "kind": review.kind(), "verbs": ["create"],
        }));
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version(group, version), "resources": resources})
}

/// `APIGroupDiscoveryList` (aggregated discovery v2) for `/api` (`core: true`) or `/apis`.
pub fn aggregated(core: bool) -> Value {
    let items: Vec<Value> = groups()
        .into_iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(group, version)| {
            let resources: Vec<Value> = kinds_of(group, version)
                .map(|kind| {
                    let subresources: Vec<Value> = subresources(kind)
                        .iter()
                        .map(|s| {
                            json!({
                                "subresource": s.name,
                                "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                                "verbs": s.verbs,
                            })
                        })
                        .collect();
                    let mut resource = json!({
                        "resource": kind.plural(),
                        "responseKind": {"group": kind.group(), "version": kind.version(), "kind": kind.name()},
                        "scope": if kind.namespaced() { "Namespaced" } else { "Cluster" },
                        "singularResource": kind.name().to_ascii_lowercase(),
                        "verbs": VERBS,
                        "subresources": subresources,
                    });
                    if !kind.short_names().is_empty() {
                        resource["shortNames"] = json!(kind.short_names());
                    }
                    if !categories(kind).is_empty() {
                        resource["categories"] = json!(categories(kind));
                    }
                    resource
                })
                .chain(reviews_of(group, version).map(|review| {
                    json!({
                        "resource": review.resource(),
                        "responseKind": {"group": review.group(), "version": "v1", "kind": review.kind()},
                        "scope": if review.namespaced() { "Namespaced" } else { "Cluster" },
                        "singularResource": review.kind().to_ascii_lowercase(),
                        "verbs": ["create"],
                    })
                }))
                .collect();
            json!({
                "metadata": {"name": group},
                "versions": [{"version": version, "freshness": "Current", "resources": resources}],
            })
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_discoverable_once() {
        let core = aggregated(true);
        let groups = aggregated(false);
        let mut found = Vec::new();
        for list in [&core, &groups] {
            for item in list["items"].as_array().unwrap() {
                for resource in item["versions"][0]["resources"].as_array().unwrap() {
                    found.push(resource["resource"].as_str().unwrap().to_string());
                }
            }
        }
        assert_eq!(found.len(), Kind::ALL.len() + crate::http::reviews::ALL.len());
        assert_eq!(core["items"][0]["metadata"]["name"], "");
    }

    #[test]
    fn pods_list_eviction_for_drain() {
        let list = resource_list("", "v1");
        let eviction = list["resources"].as_array().unwrap().iter().find(|r| r["name"] == "pods/eviction").unwrap();
        assert_eq!(eviction["group"], "policy");
        assert_eq!(eviction["kind"], "Eviction");
    }
}
