//! Reading kube-apiserver's audit log: how many writes each component made to each object, and which of
//! them changed nothing.
//!
//! A write that changes nothing is visible in the log without knowing the object's content: etcd's
//! compare-and-swap stores nothing for an identical object and kube-apiserver answers with the stored
//! object unchanged, so the response's resourceVersion is the one the object already had — the request's,
//! for an update that names it, or the one the previous write of that object returned. (Except for an
//! update that takes the last finalizer off a deleting object: that removes it, and the answer is the
//! object's last version.)

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One write the log shows.
#[derive(Clone, Debug)]
pub struct Write {
    /// `update`, `patch`, `create`, `delete`.
    pub verb: String,
    /// `replicasets/status`, `pods`, …
    pub resource: String,
    /// `namespace/name`.
    pub object: String,
    /// The client's User-Agent up to its first `/` (`themelios-controller-manager`, `kubectl`).
    pub agent: String,
    /// The full User-Agent.
    pub user_agent: String,
    /// Whether the object was left as it was.
    pub changed_nothing: bool,
}

/// Every successful write in the log, in order, with whether it changed anything.
pub fn writes(log: &Path) -> Vec<Write> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut last_version: BTreeMap<String, String> = BTreeMap::new();
    let mut writes = Vec::new();
    for line in text.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else { continue };
        if event["stage"] != "ResponseComplete" {
            continue;
        }
        let verb = event["verb"].as_str().unwrap_or("").to_string();
        if !matches!(verb.as_str(), "create" | "update" | "patch" | "delete") {
            continue;
        }
        let code = event["responseStatus"]["code"].as_u64().unwrap_or(0);
        if !(200..300).contains(&code) {
            continue;
        }
        let reference = &event["objectRef"];
        let resource = match reference["subresource"].as_str() {
            Some(sub) => format!("{}/{sub}", reference["resource"].as_str().unwrap_or("")),
            None => reference["resource"].as_str().unwrap_or("").to_string(),
        };
        let response_version = event["responseObject"]["metadata"]["resourceVersion"].as_str().map(str::to_string);
        let name = reference["name"]
            .as_str()
            .or_else(|| event["responseObject"]["metadata"]["name"].as_str())
            .unwrap_or("")
            .to_string();
        let object = format!("{}/{}", reference["namespace"].as_str().unwrap_or(""), name);
        // Keyed by the main resource: a status write and a spec write share the object's versions.
        let key = format!("{}/{object}", reference["resource"].as_str().unwrap_or(""));
        // An update that takes the last finalizer off a deleting object removes it; the response is its
        // last version, unchanged in resourceVersion, but something happened.
        let response = &event["responseObject"];
        let empty = |v: &Value| v.as_array().is_none_or(|a| a.is_empty());
        let removed = response["metadata"]["deletionTimestamp"].is_string()
            && empty(&response["metadata"]["finalizers"])
            && empty(&response["spec"]["finalizers"]);
        let changed_nothing = !removed
            && match (verb.as_str(), &response_version) {
                ("update", Some(after)) => {
                    let before = event["requestObject"]["metadata"]["resourceVersion"]
                        .as_str()
                        .map(str::to_string)
                        .or_else(|| last_version.get(&key).cloned());
                    before.as_deref() == Some(after.as_str())
                }
                ("patch", Some(after)) => last_version.get(&key) == Some(after),
                _ => false,
            };
        if let Some(version) = response_version {
            last_version.insert(key, version);
        }
        let user_agent = event["userAgent"].as_str().unwrap_or("").to_string();
        let agent = user_agent.split('/').next().unwrap_or("").to_string();
        writes.push(Write { verb, resource, object, agent, user_agent, changed_nothing });
    }
    writes
}

/// The writes of clients whose User-Agent starts with `agent_prefix` that changed nothing.
pub fn wasted_by<'a>(writes: &'a [Write], agent_prefix: &str) -> Vec<&'a Write> {
    writes.iter().filter(|w| w.changed_nothing && w.agent.starts_with(agent_prefix)).collect()
}

/// Writes per component and resource, most first: `(agent, resource, writes, of which changed nothing)`.
pub fn table(writes: &[Write], agent_prefix: &str) -> Vec<(String, String, usize, usize)> {
    let mut counts: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for w in writes.iter().filter(|w| w.agent.starts_with(agent_prefix)) {
        let entry = counts.entry((w.agent.clone(), format!("{} {}", w.verb, w.resource))).or_default();
        entry.0 += 1;
        entry.1 += usize::from(w.changed_nothing);
    }
    let mut rows: Vec<_> = counts.into_iter().map(|((a, r), (n, wasted))| (a, r, n, wasted)).collect();
    rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.cmp(b)));
    rows
}

#[cfg(test)]
#[allow(unused_imports)] // the upstream suites run without libtest, which drops these tests
mod tests {
    use super::{table, wasted_by, writes};

    fn event(verb: &str, resource: &str, sub: Option<&str>, request_rv: Option<&str>, response_rv: &str) -> String {
        serde_json::json!({
            "stage": "ResponseComplete", "verb": verb, "userAgent": "themelios-controller-manager/0.1.0",
            "objectRef": {"resource": resource, "namespace": "ns", "name": "web", "subresource": sub},
            "responseStatus": {"code": 200},
            "requestObject": {"metadata": {"resourceVersion": request_rv}},
            "responseObject": {"metadata": {"name": "web", "resourceVersion": response_rv}},
        })
        .to_string()
    }

    #[test]
    fn an_update_answered_with_its_own_version_changed_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.log");
        let removal = serde_json::json!({
            "stage": "ResponseComplete", "verb": "update", "userAgent": "themelios-controller-manager/0.1.0",
            "objectRef": {"resource": "replicasets", "namespace": "ns", "name": "web"},
            "responseStatus": {"code": 200},
            "requestObject": {"metadata": {"resourceVersion": "12"}},
            "responseObject": {"metadata": {"name": "web", "resourceVersion": "12",
                                            "deletionTimestamp": "2026-01-01T00:00:00Z"}},
        });
        let lines = [
            event("create", "replicasets", None, None, "10"),
            event("update", "replicasets", Some("status"), Some("10"), "11"),
            event("update", "replicasets", Some("status"), Some("11"), "11"),
            event("patch", "replicasets", None, None, "11"),
            event("patch", "replicasets", None, None, "12"),
            removal.to_string(),
        ];
        std::fs::write(&log, lines.join("\n")).unwrap();
        let all = writes(&log);
        let wasted: Vec<bool> = all.iter().map(|w| w.changed_nothing).collect();
        assert_eq!(wasted, [false, false, true, true, false, false], "the last update removed the object");
        assert_eq!(wasted_by(&all, "themelios").len(), 2);
        assert_eq!(wasted_by(&all, "kube-controller-manager").len(), 0);
        let rows = table(&all, "themelios");
        let status_row = ("themelios-controller-manager".to_string(), "update replicasets/status".to_string(), 2, 1);
        assert!(rows.contains(&status_row), "{rows:?}");
    }
}
