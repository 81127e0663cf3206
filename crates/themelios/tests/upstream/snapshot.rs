//! What a case left in its namespace, in a form two clusters can be compared by: generated names, uids,
//! resourceVersions, times, addresses and messages masked; pods counted per node rather than named by it;
//! Events reduced to the reasons each kind of object got.

use super::Kubectl;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The kinds a case's outcome is read from.
const KINDS: &str =
    "deployments,replicasets,statefulsets,daemonsets,jobs,cronjobs,pods,persistentvolumeclaims,serviceaccounts,configmaps";

/// A namespace's objects after masking, by kind and masked name (several objects can share a masked name:
/// the pods of one ReplicaSet), plus the Event reasons and the pod placement.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub objects: BTreeMap<String, Vec<Value>>,
    pub events: BTreeSet<String>,
    /// Pods per node, per owner, as sorted counts (`[1, 1, 2]`): where pods went, without node names.
    pub placement: BTreeMap<String, Vec<usize>>,
}

/// Reads and masks what is in `namespace`.
pub fn take(kubectl: &Kubectl, namespace: &str) -> Snapshot {
    let listed: Value = serde_json::from_str(&kubectl.ok(&["get", KINDS, "-n", namespace, "-o", "json"]))
        .expect("kubectl -o json prints JSON");
    let items = listed["items"].as_array().cloned().unwrap_or_default();
    let names: BTreeMap<String, (String, String)> = items
        .iter()
        .filter_map(|o| {
            let uid = o["metadata"]["uid"].as_str()?.to_string();
            Some((uid, (o["kind"].as_str()?.to_string(), o["metadata"]["name"].as_str()?.to_string())))
        })
        .collect();
    let mut snapshot = Snapshot::default();
    let mut per_node: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for item in items {
        let kind = item["kind"].as_str().unwrap_or("").to_string();
        let name = masked_name(&item, &names);
        if kind == "Pod" {
            if let Some(node) = item["spec"]["nodeName"].as_str() {
                *per_node.entry(owner_key(&item, &names)).or_default().entry(node.to_string()).or_default() += 1;
            }
        }
        let mut value = item;
        mask(&mut value, "");
        value["metadata"]["name"] = Value::String(name.clone());
        if kind == "ConfigMap" && name == "kube-root-ca.crt" {
            // Each control plane has a CA of its own.
            value["data"] = Value::String("the control plane's CA".into());
        }
        let objects = snapshot.objects.entry(format!("{kind} {name}")).or_default();
        objects.push(value);
        objects.sort_by_key(|v| v.to_string());
    }
    snapshot.placement =
        per_node.into_iter().map(|(owner, nodes)| (owner, sorted(nodes.into_values().collect()))).collect();
    let events: Value = serde_json::from_str(&kubectl.ok(&["get", "events", "-n", namespace, "-o", "json"]))
        .expect("kubectl -o json prints JSON");
    for event in events["items"].as_array().into_iter().flatten() {
        let kind = event["involvedObject"]["kind"].as_str().unwrap_or("");
        let reason = event["reason"].as_str().unwrap_or("");
        snapshot.events.insert(format!("{kind}: {reason}"));
    }
    snapshot
}

fn sorted(mut counts: Vec<usize>) -> Vec<usize> {
    counts.sort_unstable();
    counts
}

/// The name with what a controller generated replaced by `*`: a ReplicaSet's template hash, a pod's
/// random suffix, a CronJob's Job's minute. StatefulSet pods keep their ordinal: it is their identity.
fn masked_name(object: &Value, names: &BTreeMap<String, (String, String)>) -> String {
    let name = object["metadata"]["name"].as_str().unwrap_or("");
    let generated = object["metadata"]["generateName"].as_str().filter(|g| !g.is_empty() && name.starts_with(g));
    let Some((owner_kind, owner_name)) = controller_of(object, names) else {
        return generated.map_or_else(|| name.to_string(), |prefix| format!("{prefix}*"));
    };
    if owner_kind == "StatefulSet" || !name.starts_with(&format!("{owner_name}-")) {
        return name.to_string();
    }
    format!("{}-*", masked_owner(&owner_kind, &owner_name))
}

/// An owner's name as masked when it is itself generated (`web-7d4b9c` of Deployment `web` → `web-*`).
fn masked_owner(kind: &str, name: &str) -> String {
    match kind {
        "ReplicaSet" | "Job" => match name.rsplit_once('-') {
            Some((base, suffix)) if suffix.len() >= 5 && suffix.chars().all(|c| c.is_ascii_alphanumeric()) => {
                format!("{base}-*")
            }
            _ => name.to_string(),
        },
        _ => name.to_string(),
    }
}

fn controller_of(object: &Value, names: &BTreeMap<String, (String, String)>) -> Option<(String, String)> {
    let owner = object["metadata"]["ownerReferences"].as_array()?.iter().find(|r| r["controller"] == true)?;
    let uid = owner["uid"].as_str()?;
    names.get(uid).cloned().or_else(|| Some((owner["kind"].as_str()?.into(), owner["name"].as_str()?.into())))
}

fn owner_key(object: &Value, names: &BTreeMap<String, (String, String)>) -> String {
    match controller_of(object, names) {
        Some((kind, name)) => format!("{kind} {}", masked_owner(&kind, &name)),
        None => "no owner".into(),
    }
}

/// Fields that differ between any two runs of the same thing.
const VOLATILE: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "managedFields",
    "generateName",
    "lastTransitionTime",
    "lastUpdateTime",
    "lastProbeTime",
    "lastHeartbeatTime",
    "startTime",
    "completionTime",
    "lastScheduleTime",
    "lastSuccessfulTime",
    "startedAt",
    "finishedAt",
    "podIP",
    "podIPs",
    "hostIP",
    "hostIPs",
    "nodeName",
    "message",
    "containerID",
    "imageID",
    "selfLink",
];

/// Labels and annotations whose values are generated.
const GENERATED_VALUES: &[&str] = &[
    "pod-template-hash",
    "controller-revision-hash",
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "statefulset.kubernetes.io/pod-name",
    "job-name",
    "batch.kubernetes.io/job-name",
    "kubectl.kubernetes.io/last-applied-configuration",
    "kube-api-access",
];

fn mask(value: &mut Value, key: &str) {
    match value {
        Value::Object(fields) => {
            fields.retain(|k, _| !VOLATILE.contains(&k.as_str()));
            for (k, v) in fields.iter_mut() {
                if GENERATED_VALUES.iter().any(|g| k == g) && v.is_string() {
                    *v = Value::String("*".into());
                } else {
                    mask(v, k);
                }
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                mask(item, key);
            }
            if key == "volumes" || key == "volumeMounts" || key == "ownerReferences" {
                items.sort_by_key(|v| v.to_string());
            }
        }
        Value::String(s) if key == "name" || key == "claimName" || key == "secretName" => *s = mask_generated(s),
        _ => {}
    }
}

/// `web-7d4b9c8f6d-x2k9p` → `web-*-*`: suffixes of five or more letters and digits that contain a
/// digit; ordinals and plain words stay. A service-account token volume's suffix is always generated.
fn mask_generated(name: &str) -> String {
    if name.starts_with("kube-api-access-") {
        return "kube-api-access-*".into();
    }
    name.split('-')
        .enumerate()
        .map(|(i, part)| {
            let generated = i > 0
                && part.len() >= 5
                && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part.chars().any(|c| c.is_ascii_digit());
            if generated {
                "*".to_string()
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// How two snapshots differ, one line per difference (empty: the same).
pub fn differences(ours: &Snapshot, theirs: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    let keys: BTreeSet<&String> = ours.objects.keys().chain(theirs.objects.keys()).collect();
    for key in keys {
        match (ours.objects.get(key), theirs.objects.get(key)) {
            (Some(a), Some(b)) if a.len() != b.len() => out.push(format!("{key}: {} objects vs {}", a.len(), b.len())),
            (Some(a), Some(b)) => {
                for (x, y) in a.iter().zip(b) {
                    diff_values(key, "", x, y, &mut out);
                }
            }
            (Some(a), None) => out.push(format!("{key}: {} only with Themelios", a.len())),
            (None, Some(b)) => out.push(format!("{key}: {} only upstream", b.len())),
            (None, None) => {}
        }
    }
    for only in ours.events.difference(&theirs.events) {
        out.push(format!("event {only}: only with Themelios"));
    }
    for only in theirs.events.difference(&ours.events) {
        out.push(format!("event {only}: only upstream"));
    }
    // Where upstream's scheduler spreads (the pods of a ReplicaSet, StatefulSet or ReplicationController:
    // its default topology spreading) placement is decided; elsewhere equal nodes are picked at random.
    let spread = |placement: &BTreeMap<String, Vec<usize>>| -> BTreeMap<String, Vec<usize>> {
        placement
            .iter()
            .filter(|(owner, _)| {
                ["ReplicaSet ", "StatefulSet ", "ReplicationController "].iter().any(|k| owner.starts_with(k))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    if spread(&ours.placement) != spread(&theirs.placement) {
        out.push(format!(
            "placement (pods per node): {:?} vs {:?}",
            spread(&ours.placement),
            spread(&theirs.placement)
        ));
    }
    out
}

pub fn diff_values(key: &str, path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let fields: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for f in fields {
                let sub = if path.is_empty() { f.clone() } else { format!("{path}.{f}") };
                diff_values(key, &sub, x.get(f).unwrap_or(&Value::Null), y.get(f).unwrap_or(&Value::Null), out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff_values(key, &format!("{path}[{}]", label(p).unwrap_or_else(|| i.to_string())), p, q, out);
            }
        }
        _ if a == b => {}
        _ => out.push(format!("{key}: {path}: {} vs {}", short(a), short(b))),
    }
}

/// A list item's name for a path: a condition's type, a container's name.
fn label(item: &Value) -> Option<String> {
    let fields: &Map<String, Value> = item.as_object()?;
    fields.get("type").or_else(|| fields.get("name")).and_then(Value::as_str).map(str::to_string)
}

fn short(value: &Value) -> String {
    let text = if value.is_null() { "(absent)".to_string() } else { value.to_string() };
    if text.len() > 80 {
        format!("{}…", &text[..text.char_indices().nth(80).map_or(text.len(), |(i, _)| i)])
    } else {
        text
    }
}
