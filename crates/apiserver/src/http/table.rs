//! Server-side printing: the `Table` kubectl shows for `get`, with upstream's columns for each kind.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::{json, Value};
use themelios_api::{selector, Kind, StoredObject, Time};

/// What a Table row carries besides its cells (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// `PartialObjectMetadata` (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the query parameter.
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// Whether an `Accept` header asks for a Table.
pub fn wants_table(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').next().is_some_and(|first| first.contains("as=Table") && first.contains("g=meta.k8s.io"))
    })
}

struct Column {
    name: &'static str,
    kind: &'static str,
    format: &'static str,
    priority: u8,
}

const fn col(name: &'static str) -> Column {
    Column { name, kind: "string", format: "", priority: 0 }
}
const fn int(name: &'static str) -> Column {
    Column { name, kind: "integer", format: "", priority: 0 }
}
const fn wide(name: &'static str) -> Column {
    Column { name, kind: "string", format: "", priority: 1 }
}
const NAME: Column = Column { name: "Name", kind: "string", format: "name", priority: 0 };

fn columns(kind: Kind) -> Vec<Column> {
    let workload = |mut head: Vec<Column>, selector: bool| {
        head.extend([wide("Containers"), wide("Images")]);
        if selector {
            head.push(wide("Selector"));
        }
        head
    };
    match kind {
        Kind::Pod => vec![
            NAME,
            col("Ready"),
            col("Status"),
            col("Restarts"),
            col("Age"),
            wide("IP"),
            wide("Node"),
            wide("Nominated Node"),
            wide("Readiness Gates"),
        ],
        Kind::Deployment => workload(vec![NAME, col("Ready"), int("Up-to-date"), int("Available"), col("Age")], true),
        Kind::ReplicaSet | Kind::ReplicationController => {
            workload(vec![NAME, int("Desired"), int("Current"), int("Ready"), col("Age")], true)
        }
        Kind::StatefulSet => workload(vec![NAME, col("Ready"), col("Age")], false),
        Kind::DaemonSet => workload(
            vec![
                NAME,
                int("Desired"),
                int("Current"),
                int("Ready"),
                int("Up-to-date"),
                int("Available"),
                col("Node Selector"),
                col("Age"),
            ],
            true,
        ),
        Kind::Job => workload(vec![NAME, col("Status"), col("Completions"), col("Duration"), col("Age")], true),
        Kind::CronJob => workload(
            vec![
                NAME,
                col("Schedule"),
                col("Timezone"),
                col("Suspend"),
                int("Active"),
                col("Last Schedule"),
                col("Age"),
            ],
            true,
        ),
        Kind::Node => vec![
            NAME,
            col("Status"),
            col("Roles"),
            col("Age"),
            col("Version"),
            wide("Internal-IP"),
            wide("External-IP"),
            wide("OS-Image"),
            wide("Kernel-Version"),
            wide("Container-Runtime"),
        ],
        Kind::Namespace => vec![NAME, col("Status"), col("Age")],
        Kind::Service => {
            vec![NAME, col("Type"), col("Cluster-IP"), col("External-IP"), col("Port(s)"), col("Age"), wide("Selector")]
        }
        Kind::ConfigMap => vec![NAME, int("Data"), col("Age")],
        Kind::Secret => vec![NAME, col("Type"), int("Data"), col("Age")],
        Kind::Endpoints => vec![NAME, col("Endpoints"), col("Age")],
        Kind::Event => vec![col("Last Seen"), col("Type"), col("Reason"), col("Object"), col("Message")],
        Kind::Lease => vec![NAME, col("Holder"), col("Age")],
        Kind::ControllerRevision => vec![NAME, col("Controller"), int("Revision"), col("Age")],
        Kind::PodDisruptionBudget => {
            vec![NAME, col("Min Available"), col("Max Unavailable"), int("Allowed Disruptions"), col("Age")]
        }
        Kind::HorizontalPodAutoscaler => {
            vec![NAME, col("Reference"), col("Targets"), col("MinPods"), int("MaxPods"), int("Replicas"), col("Age")]
        }
        Kind::PersistentVolumeClaim => vec![
            NAME,
            col("Status"),
            col("Volume"),
            col("Capacity"),
            col("Access Modes"),
            col("StorageClass"),
            col("Age"),
        ],
        Kind::PersistentVolume => vec![
            NAME,
            col("Capacity"),
            col("Access Modes"),
            col("Reclaim Policy"),
            col("Status"),
            col("Claim"),
            col("StorageClass"),
            col("Age"),
        ],
        Kind::ServiceAccount => vec![NAME, col("Age")],
    }
}

/// `columnDefinitions` for a kind.
pub fn column_definitions(kind: Kind) -> Value {
    Value::Array(
        columns(kind)
            .into_iter()
            .map(|c| {
                json!({"name": c.name, "type": c.kind, "format": c.format, "description": c.name, "priority": c.priority})
            })
            .collect(),
    )
}

/// One row: the cells and the object (as asked).
pub fn row(object: &StoredObject, now: Time, include: IncludeObject) -> Value {
    let value = crate::packed_fields::object_value(object.object());
    let cells = cells(object.object().kind(), &value, now);
    let mut row = json!({"cells": cells});
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": value.get("metadata").cloned().unwrap_or_default()});
        }
        IncludeObject::Object => row["object"] = value,
    }
    row
}

/// A Table of `objects`.
pub fn table(kind: Kind, objects: &[&StoredObject], revision: u64, now: Time, include: IncludeObject) -> Value {
    let rows: Vec<Value> = objects.iter().map(|o| row(o, now, include)).collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": revision.to_string()},
        "columnDefinitions": column_definitions(kind),
        "rows": rows,
    })
}

/// Upstream's `HumanDuration`: `45s`, `3m20s`, `5h`, `2d3h`, `400d`, `3y20d`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    let seconds = seconds.max(0);
    let minutes = seconds / 60;
    let hours = minutes / 60;
    let days = hours / 24;
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        }
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        }
    } else if days < 365 * 2 {
        format!("{days}d")
    } else if days < 365 * 8 {
        match days % 365 {
            0 => format!("{}y", days / 365),
            d => format!("{}y{d}d", days / 365),
        }
    } else {
        format!("{}y", days / 365)
    }
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}
fn number(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}
fn or_none(s: String) -> String {
    if s.is_empty() {
        "<none>".into()
    } else {
        s
    }
}
fn timestamp(v: &Value, pointer: &str) -> Option<Time> {
    let s = v.pointer(pointer)?.as_str()?;
    let t: k8s_openapi::jiff::Timestamp = s.parse().ok()?;
    Some(Time(t.as_second()))
}
fn age(v: &Value, pointer: &str, now: Time) -> String {
    timestamp(v, pointer).map_or_else(|| "<unknown>".into(), |t| human_duration(now.seconds_since(t)))
}

/// A LabelSelector as kubectl prints it (`a=b,c in (d,e)`), or `<none>`.
pub(crate) fn selector(v: Option<&Value>) -> String {
    let parsed = v
        .and_then(|v| serde_json::from_value::<LabelSelector>(v.clone()).ok())
        .and_then(|s| selector::LabelSelector::from_k8s(Some(&s)).ok());
    or_none(parsed.map(|s| s.to_string()).unwrap_or_default())
}

fn containers_and_images(v: &Value, pointer: &str) -> [String; 2] {
    let containers: Vec<&Value> = v.pointer(pointer).and_then(Value::as_array).into_iter().flatten().collect();
    let names: Vec<&str> = containers.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| text(c, "/image")).collect();
    [or_none(names.join(",")), or_none(images.join(","))]
}

fn map_len(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_object).map_or(0, |m| m.len() as i64)
}

fn cells(kind: Kind, v: &Value, now: Time) -> Vec<Value> {
    let name = json!(text(v, "/metadata/name"));
    let created = json!(age(v, "/metadata/creationTimestamp", now));
    let template = "/spec/template/spec/containers";
    match kind {
        Kind::Pod => pod_cells(v, now),
        Kind::Deployment => {
            let [c, i] = containers_and_images(v, template);
            vec![
                name,
                json!(format!("{}/{}", number(v, "/status/readyReplicas"), number(v, "/spec/replicas"))),
                json!(number(v, "/status/updatedReplicas")),
                json!(number(v, "/status/availableReplicas")),
                created,
                json!(c),
                json!(i),
                json!(selector(v.pointer("/spec/selector"))),
            ]
        }
        Kind::ReplicaSet | Kind::ReplicationController => {
            let [c, i] = containers_and_images(v, template);
            let sel = if kind == Kind::ReplicaSet {
                selector(v.pointer("/spec/selector"))
            } else {
                let labels = v.pointer("/spec/selector").cloned().map(|l| json!({"matchLabels": l}));
                selector(labels.as_ref())
            };
            vec![
                name,
                json!(number(v, "/spec/replicas")),
                json!(number(v, "/status/replicas")),
                json!(number(v, "/status/readyReplicas")),
                created,
                json!(c),
                json!(i),
                json!(sel),
            ]
        }
        Kind::StatefulSet => {
            let [c, i] = containers_and_images(v, template);
            vec![
                name,
                json!(format!("{}/{}", number(v, "/status/readyReplicas"), number(v, "/spec/replicas"))),
                created,
                json!(c),
                json!(i),
            ]
        }
        Kind::DaemonSet => {
            let [c, i] = containers_and_images(v, template);
            let node_selector = v
                .pointer("/spec/template/spec/nodeSelector")
                .and_then(Value::as_object)
                .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>())
                .unwrap_or_default()
                .join(",");
            vec![
                name,
                json!(number(v, "/status/desiredNumberScheduled")),
                json!(number(v, "/status/currentNumberScheduled")),
                json!(number(v, "/status/numberReady")),
                json!(number(v, "/status/updatedNumberScheduled")),
                json!(number(v, "/status/numberAvailable")),
                json!(or_none(node_selector)),
                created,
                json!(c),
                json!(i),
                json!(selector(v.pointer("/spec/selector"))),
            ]
        }
        Kind::Job => {
            let [c, i] = containers_and_images(v, template);
            let completions = v.pointer("/spec/completions").and_then(Value::as_i64);
            let succeeded = number(v, "/status/succeeded");
            let completions = match completions {
                Some(n) => format!("{succeeded}/{n}"),
                None => format!("{succeeded}/1 of {}", number(v, "/spec/parallelism").max(1)),
            };
            let duration = match (timestamp(v, "/status/startTime"), timestamp(v, "/status/completionTime")) {
                (Some(start), Some(end)) => human_duration(end.seconds_since(start)),
                (Some(start), None) => human_duration(now.seconds_since(start)),
                _ => String::new(),
            };
            vec![
                name,
                json!(job_status(v)),
                json!(completions),
                json!(duration),
                created,
                json!(c),
                json!(i),
                json!(selector(v.pointer("/spec/selector"))),
            ]
        }
        Kind::CronJob => {
            let [c, i] = containers_and_images(v, "/spec/jobTemplate/spec/template/spec/containers");
            let last = timestamp(v, "/status/lastScheduleTime")
                .map_or_else(|| "<none>".to_string(), |t| human_duration(now.seconds_since(t)));
            vec![
                name,
                json!(text(v, "/spec/schedule")),
                json!(or_none(text(v, "/spec/timeZone").to_string())),
                json!(if v.pointer("/spec/suspend").and_then(Value::as_bool).unwrap_or(false) {
                    "True"
                } else {
                    "False"
                }),
                json!(v.pointer("/status/active").and_then(Value::as_array).map_or(0, Vec::len)),
                json!(last),
                created,
                json!(c),
                json!(i),
                json!(selector(v.pointer("/spec/jobTemplate/spec/selector"))),
            ]
        }
        Kind::Node => node_cells(v, name, created),
        Kind::Namespace => vec![name, json!(text(v, "/status/phase")), created],
        Kind::Service => {
            let ports: Vec<String> = v
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| {
                    let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                    match p.get("nodePort").and_then(Value::as_i64) {
                        Some(node_port) => format!("{}:{node_port}/{protocol}", number(p, "/port")),
                        None => format!("{}/{protocol}", number(p, "/port")),
                    }
                })
                .collect();
            let external: Vec<&str> = v
                .pointer("/spec/externalIPs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let selector_text = v
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(",")
                })
                .unwrap_or_default();
            vec![
                name,
                json!(match text(v, "/spec/type") {
                    "" => "ClusterIP",
                    t => t,
                }),
                json!(or_none(text(v, "/spec/clusterIP").to_string())),
                json!(or_none(external.join(","))),
                json!(or_none(ports.join(","))),
                created,
                json!(or_none(selector_text)),
            ]
        }
        Kind::ConfigMap => {
            vec![name, json!(map_len(v, "/data") + map_len(v, "/binaryData")), created]
        }
        Kind::Secret => vec![
            name,
            json!(match text(v, "/type") {
                "" => "Opaque",
                t => t,
            }),
            json!(map_len(v, "/data")),
            created,
        ],
        Kind::Endpoints => {
            let mut endpoints = Vec::new();
            for subset in v.pointer("/subsets").and_then(Value::as_array).into_iter().flatten() {
                for address in subset.get("addresses").and_then(Value::as_array).into_iter().flatten() {
                    for port in subset.get("ports").and_then(Value::as_array).into_iter().flatten() {
                        endpoints.push(format!("{}:{}", text(address, "/ip"), number(port, "/port")));
                    }
                }
            }
            vec![name, json!(or_none(endpoints.join(","))), created]
        }
        Kind::Event => {
            let last = timestamp(v, "/lastTimestamp")
                .or_else(|| timestamp(v, "/eventTime"))
                .or_else(|| timestamp(v, "/metadata/creationTimestamp"))
                .map_or_else(|| "<unknown>".to_string(), |t| human_duration(now.seconds_since(t)));
            vec![
                json!(last),
                json!(text(v, "/type")),
                json!(text(v, "/reason")),
                json!(format!(
                    "{}/{}",
                    text(v, "/involvedObject/kind").to_ascii_lowercase(),
                    text(v, "/involvedObject/name")
                )),
                json!(text(v, "/message")),
            ]
        }
        Kind::Lease => vec![name, json!(text(v, "/spec/holderIdentity")), created],
        Kind::ControllerRevision => {
            let owner = v
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .and_then(|refs| refs.iter().find(|r| r.get("controller").and_then(Value::as_bool) == Some(true)))
                .map(|r| {
                    let group = text(r, "/apiVersion").split('/').next().unwrap_or("");
                    format!("{}.{}/{}", text(r, "/kind").to_ascii_lowercase(), group, text(r, "/name"))
                })
                .unwrap_or_else(|| "<none>".into());
            vec![name, json!(owner), json!(number(v, "/revision")), created]
        }
        Kind::PodDisruptionBudget => {
            let show = |p: &str| match v.pointer(p) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => "N/A".into(),
            };
            vec![
                name,
                json!(show("/spec/minAvailable")),
                json!(show("/spec/maxUnavailable")),
                json!(number(v, "/status/disruptionsAllowed")),
                created,
            ]
        }
        Kind::HorizontalPodAutoscaler => vec![
            name,
            json!(format!("{}/{}", text(v, "/spec/scaleTargetRef/kind"), text(v, "/spec/scaleTargetRef/name"))),
            json!("<unknown>"),
            json!(v.pointer("/spec/minReplicas").and_then(Value::as_i64).unwrap_or(1).to_string()),
            json!(number(v, "/spec/maxReplicas")),
            json!(number(v, "/status/currentReplicas")),
            created,
        ],
        Kind::PersistentVolumeClaim => vec![
            name,
            json!(text(v, "/status/phase")),
            json!(text(v, "/spec/volumeName")),
            json!(text(v, "/status/capacity/storage")),
            json!(access_modes(v, "/status/accessModes")),
            json!(or_none(text(v, "/spec/storageClassName").to_string())),
            created,
        ],
        Kind::PersistentVolume => {
            let claim = match text(v, "/spec/claimRef/name") {
                "" => String::new(),
                claim => format!("{}/{claim}", text(v, "/spec/claimRef/namespace")),
            };
            vec![
                name,
                json!(text(v, "/spec/capacity/storage")),
                json!(access_modes(v, "/spec/accessModes")),
                json!(match text(v, "/spec/persistentVolumeReclaimPolicy") {
                    "" => "Retain",
                    p => p,
                }),
                json!(text(v, "/status/phase")),
                json!(claim),
                json!(text(v, "/spec/storageClassName")),
                created,
            ]
        }
        Kind::ServiceAccount => vec![name, created],
    }
}

fn access_modes(v: &Value, pointer: &str) -> String {
    let modes: Vec<&str> = v
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|m| match m {
            "ReadWriteOnce" => "RWO",
            "ReadOnlyMany" => "ROX",
            "ReadWriteMany" => "RWX",
            "ReadWriteOncePod" => "RWOP",
            other => other,
        })
        .collect();
    modes.join(",")
}

fn job_status(v: &Value) -> &'static str {
    let conditions = v.pointer("/status/conditions").and_then(Value::as_array);
    let holds =
        |t: &str| conditions.into_iter().flatten().any(|c| text(c, "/type") == t && text(c, "/status") == "True");
    if holds("Complete") {
        "Complete"
    } else if holds("Failed") {
        "Failed"
    } else if holds("FailureTarget") {
        "FailureTarget"
    } else if holds("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else if holds("Suspended") {
        "Suspended"
    } else {
        "Running"
    }
}

fn pod_cells(v: &Value, now: Time) -> Vec<Value> {
    let specs = v.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len);
    let statuses: Vec<&Value> =
        v.pointer("/status/containerStatuses").and_then(Value::as_array).into_iter().flatten().collect();
    let ready = statuses.iter().filter(|s| s.get("ready").and_then(Value::as_bool) == Some(true)).count();
    let restarts: i64 = statuses.iter().map(|s| number(s, "/restartCount")).sum();
    let mut status = match text(v, "/status/reason") {
        "" => text(v, "/status/phase").to_string(),
        reason => reason.to_string(),
    };
    for s in &statuses {
        if let Some(reason) = s.pointer("/state/waiting/reason").and_then(Value::as_str).filter(|r| !r.is_empty()) {
            status = reason.to_string();
        } else if let Some(reason) =
            s.pointer("/state/terminated/reason").and_then(Value::as_str).filter(|r| !r.is_empty())
        {
            status = reason.to_string();
        }
    }
    if v.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
        status = "Terminating".into();
    }
    let gates = v.pointer("/spec/readinessGates").and_then(Value::as_array).map_or(0, Vec::len);
    let gates = if gates == 0 { "<none>".to_string() } else { format!("0/{gates}") };
    vec![
        json!(text(v, "/metadata/name")),
        json!(format!("{ready}/{specs}")),
        json!(if status.is_empty() { "Pending".to_string() } else { status }),
        json!(restarts.to_string()),
        json!(age(v, "/metadata/creationTimestamp", now)),
        json!(or_none(text(v, "/status/podIP").to_string())),
        json!(or_none(text(v, "/spec/nodeName").to_string())),
        json!(or_none(text(v, "/status/nominatedNodeName").to_string())),
        json!(gates),
    ]
}

fn node_cells(v: &Value, name: Value, created: Value) -> Vec<Value> {
    let ready = v
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| text(c, "/type") == "Ready")
        .map(|c| text(c, "/status"));
    let mut status = match ready {
        Some("True") => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if v.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let roles: Vec<&str> = v
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .collect();
    let address = |t: &str| {
        v.pointer("/status/addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|a| text(a, "/type") == t)
            .map_or_else(|| "<none>".to_string(), |a| text(a, "/address").to_string())
    };
    vec![
        name,
        json!(status),
        json!(or_none(roles.join(","))),
        created,
        json!(text(v, "/status/nodeInfo/kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(or_none(text(v, "/status/nodeInfo/osImage").to_string())),
        json!(or_none(text(v, "/status/nodeInfo/kernelVersion").to_string())),
        json!(or_none(text(v, "/status/nodeInfo/containerRuntimeVersion").to_string())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_match_upstream_buckets() {
        let cases = [
            (5, "5s"),
            (119, "119s"),
            (200, "3m20s"),
            (240, "4m"),
            (3600, "60m"),
            (4 * 3600 + 60, "4h1m"),
            (30 * 3600, "30h"),
            (3 * 86400 + 3600, "3d1h"),
            (400 * 86400, "400d"),
            (3 * 365 * 86400 + 86400, "3y1d"),
            (-5, "<invalid>"),
        ];
        for (seconds, shown) in cases {
            assert_eq!(human_duration(seconds), shown, "{seconds}s");
        }
    }

    #[test]
    fn every_kind_has_as_many_cells_as_columns() {
        for kind in Kind::ALL {
            let cells = cells(*kind, &json!({"metadata": {"name": "x"}}), Time::EPOCH);
            assert_eq!(cells.len(), columns(*kind).len(), "{kind}");
        }
    }

    #[test]
    fn tables_are_asked_for_by_the_first_accepted_type() {
        assert!(wants_table(Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")));
        assert!(!wants_table(Some("application/json")));
        assert!(!wants_table(None));
    }
}
