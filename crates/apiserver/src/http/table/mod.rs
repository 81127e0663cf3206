//! Server-side printing: the `Table` kubectl shows for `get`, with upstream's columns for each kind.

mod columns;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::{json, Value};
use themelios_api::{Kind, StoredObject, Time};

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

/// `columnDefinitions` for a kind.
pub fn column_definitions(kind: Kind) -> Value {
    Value::Array(columns::printer(kind).definitions())
}

/// One row: the cells and the object (as asked).
pub fn row(object: &StoredObject, now: Time, include: IncludeObject) -> Value {
    row_with(columns::printer(object.object().kind()).as_ref(), object, now, include)
}

fn row_with(printer: &dyn columns::Printer, object: &StoredObject, now: Time, include: IncludeObject) -> Value {
    let mut row = json!({"cells": printer.cells(object.object(), now)});
    let value = || crate::packed_fields::object_value(object.object());
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": value().get("metadata").cloned().unwrap_or_default()});
        }
        IncludeObject::Object => row["object"] = value(),
    }
    row
}

/// A Table of `objects`.
pub fn table(kind: Kind, objects: &[&StoredObject], revision: u64, now: Time, include: IncludeObject) -> Value {
    let printer = columns::printer(kind);
    let rows: Vec<Value> = objects.iter().map(|o| row_with(printer.as_ref(), o, now, include)).collect();
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

/// A LabelSelector given as JSON, as kubectl prints it (`a=b,c in (d,e)`), or `<none>`.
pub(crate) fn selector(v: Option<&Value>) -> String {
    let parsed = v.and_then(|v| serde_json::from_value::<LabelSelector>(v.clone()).ok());
    columns::label_selector(parsed.as_ref())
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
    fn every_kind_prints_a_cell_of_its_columns_type_for_each_column() {
        for kind in Kind::ALL.iter().copied() {
            let object =
                themelios_api::Object::from_json(kind, json!({"metadata": {"name": "x"}})).expect("a bare object");
            let printer = columns::printer(kind);
            let (definitions, cells) = (printer.definitions(), printer.cells(&object, Time::EPOCH));
            assert_eq!(cells.len(), definitions.len(), "{kind}");
            for (definition, cell) in definitions.iter().zip(&cells) {
                let typed = if definition["type"] == "integer" { cell.is_i64() } else { cell.is_string() };
                assert!(typed, "{kind} {}: {cell}", definition["name"]);
            }
        }
    }

    /// Rows of every kind, in many states, against the cells in `testdata/cells.jsonl` — written by the
    /// printer this one replaced (which read JSON pointers) and checked by the kubectl suites.
    #[test]
    fn each_kind_prints_the_expected_cells() {
        let objects = [
            (
                Kind::Pod,
                json!({"metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:00:00Z", "deletionTimestamp": null},
                "spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b"}], "nodeName": "n1", "readinessGates": [{"conditionType": "x"}]},
                "status": {"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 2, "image": "nginx", "imageID": "", "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                    {"name": "b", "ready": false, "restartCount": 1, "image": "x", "imageID": ""}]}}),
            ),
            (
                Kind::Pod,
                json!({"metadata": {"name": "q", "deletionTimestamp": "2026-01-01T00:00:10Z"}, "spec": {"containers": []}, "status": {"reason": "Evicted"}}),
            ),
            (
                Kind::Pod,
                json!({"metadata": {"name": "r"}, "spec": {"containers": [{"name": "a"}]}, "status": {"containerStatuses": [
                    {"name": "a", "ready": false, "restartCount": 0, "image": "x", "imageID": "", "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}}),
            ),
            (
                Kind::Deployment,
                json!({"metadata": {"name": "d", "creationTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
                    "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1"}, {"name": "d", "image": "busybox"}]}}},
                "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 1}}),
            ),
            (
                Kind::ReplicaSet,
                json!({"metadata": {"name": "rs"}, "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}},
                "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}, "status": {"replicas": 2, "readyReplicas": 1}}),
            ),
            (
                Kind::ReplicationController,
                json!({"metadata": {"name": "rc"}, "spec": {"replicas": 2, "selector": {"a": "b", "c": "d"},
                "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}, "status": {"replicas": 1}}),
            ),
            (
                Kind::StatefulSet,
                json!({"metadata": {"name": "s"}, "spec": {"replicas": 2, "serviceName": "s", "selector": {"matchLabels": {"a": "b"}},
                "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}, "status": {"replicas": 2, "readyReplicas": 2}}),
            ),
            (
                Kind::DaemonSet,
                json!({"metadata": {"name": "ds"}, "spec": {"selector": {"matchLabels": {"a": "b"}},
                "template": {"spec": {"nodeSelector": {"disk": "ssd", "zone": "a"}, "containers": [{"name": "c", "image": "i"}]}}},
                "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 2, "numberReady": 1, "numberMisscheduled": 0, "updatedNumberScheduled": 2, "numberAvailable": 1}}),
            ),
            (
                Kind::Job,
                json!({"metadata": {"name": "j"}, "spec": {"completions": 3, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}, "selector": {"matchLabels": {"x": "y"}}},
                "status": {"succeeded": 2, "startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:05:00Z", "conditions": [{"type": "Complete", "status": "True"}]}}),
            ),
            (
                Kind::Job,
                json!({"metadata": {"name": "k"}, "spec": {"parallelism": 4, "template": {"spec": {"containers": []}}},
                "status": {"startTime": "2026-01-01T00:00:00Z", "conditions": [{"type": "Failed", "status": "False"}, {"type": "Suspended", "status": "True"}]}}),
            ),
            (
                Kind::CronJob,
                json!({"metadata": {"name": "cj"}, "spec": {"schedule": "*/5 * * * *", "timeZone": "Etc/UTC", "suspend": true,
                "jobTemplate": {"spec": {"selector": {"matchLabels": {"q": "r"}}, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}},
                "status": {"active": [{"name": "x"}], "lastScheduleTime": "2026-01-01T00:00:00Z"}}),
            ),
            (
                Kind::CronJob,
                json!({"metadata": {"name": "cj2"}, "spec": {"schedule": "@hourly", "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}}),
            ),
            (
                Kind::Node,
                json!({"metadata": {"name": "n", "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "", "x": "y"}},
                "spec": {"unschedulable": true},
                "status": {"conditions": [{"type": "Ready", "status": "False"}], "addresses": [{"type": "InternalIP", "address": "10.1.1.1"}],
                    "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Linux", "kernelVersion": "6.1", "containerRuntimeVersion": "containerd://1", "machineID": "", "systemUUID": "", "bootID": "", "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"}}}),
            ),
            (
                Kind::Node,
                json!({"metadata": {"name": "m"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            ),
            (Kind::Node, json!({"metadata": {"name": "o"}})),
            (Kind::Namespace, json!({"metadata": {"name": "ns"}, "status": {"phase": "Terminating"}})),
            (
                Kind::Service,
                json!({"metadata": {"name": "svc"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.5", "externalIPs": ["1.2.3.4", "5.6.7.8"],
                "ports": [{"port": 80, "nodePort": 30080}, {"port": 53, "protocol": "UDP"}], "selector": {"app": "web", "b": "c"}}}),
            ),
            (Kind::Service, json!({"metadata": {"name": "bare"}, "spec": {}})),
            (
                Kind::ConfigMap,
                json!({"metadata": {"name": "cm"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
            ),
            (Kind::Secret, json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"a": "AA=="}})),
            (Kind::Secret, json!({"metadata": {"name": "t"}})),
            (
                Kind::Endpoints,
                json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}]}),
            ),
            (
                Kind::Event,
                json!({"metadata": {"name": "ev", "creationTimestamp": "2026-01-01T00:00:00Z"}, "type": "Normal", "reason": "Scheduled",
                "involvedObject": {"kind": "Pod", "name": "p"}, "message": "ok", "lastTimestamp": "2026-01-01T00:01:00Z"}),
            ),
            (
                Kind::Event,
                json!({"metadata": {"name": "ew"}, "involvedObject": {}, "eventTime": "2026-01-01T00:00:30.000000Z"}),
            ),
            (Kind::Lease, json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}})),
            (
                Kind::ControllerRevision,
                json!({"metadata": {"name": "cr", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "s", "uid": "u", "controller": true}]}, "revision": 4}),
            ),
            (Kind::ControllerRevision, json!({"metadata": {"name": "cs"}, "revision": 1})),
            (
                Kind::PodDisruptionBudget,
                json!({"metadata": {"name": "pdb"}, "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}}),
            ),
            (Kind::PodDisruptionBudget, json!({"metadata": {"name": "pdc"}, "spec": {"maxUnavailable": "25%"}})),
            (
                Kind::HorizontalPodAutoscaler,
                json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 5},
                "status": {"currentReplicas": 3, "desiredReplicas": 3}}),
            ),
            (
                Kind::PersistentVolumeClaim,
                json!({"metadata": {"name": "c"}, "spec": {"volumeName": "v", "storageClassName": "fast"},
                "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce", "ReadWriteOncePod"]}}),
            ),
            (Kind::PersistentVolumeClaim, json!({"metadata": {"name": "d"}, "spec": {}})),
            (
                Kind::PersistentVolume,
                json!({"metadata": {"name": "v"}, "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadOnlyMany", "ReadWriteMany"],
                "claimRef": {"namespace": "ns", "name": "c"}, "storageClassName": "fast", "persistentVolumeReclaimPolicy": "Delete"}, "status": {"phase": "Bound"}}),
            ),
            (Kind::PersistentVolume, json!({"metadata": {"name": "w"}, "spec": {}})),
            (Kind::ServiceAccount, json!({"metadata": {"name": "sa", "creationTimestamp": "2026-01-01T00:00:00Z"}})),
            (Kind::Role, json!({"metadata": {"name": "r", "creationTimestamp": "2026-01-01T00:00:00Z"}})),
            (Kind::ClusterRole, json!({"metadata": {"name": "cr"}})),
            (
                Kind::RoleBinding,
                json!({"metadata": {"name": "rb", "creationTimestamp": "2026-01-01T00:00:00Z"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                "subjects": [{"kind": "User", "name": "jane"}, {"kind": "User", "name": "joe"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]}),
            ),
            (
                Kind::ClusterRoleBinding,
                json!({"metadata": {"name": "crb"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "Group", "name": "devs"}]}),
            ),
        ];
        let now = Time(1_767_225_900);
        let expected: Vec<Value> = include_str!("testdata/cells.jsonl")
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect();
        assert_eq!(expected.len(), objects.len());
        let mut kinds = std::collections::BTreeSet::new();
        for ((kind, value), expected) in objects.into_iter().zip(expected) {
            let object = themelios_api::Object::from_json(kind, value).expect("valid");
            let printed = columns::printer(kind).cells(&object, now);
            assert_eq!(expected["kind"], kind.name());
            assert_eq!(Value::Array(printed), expected["cells"], "{kind}");
            kinds.insert(kind);
        }
        assert_eq!(kinds.len(), Kind::ALL.len(), "every kind compared");
    }

    #[test]
    fn tables_are_asked_for_by_the_first_accepted_type() {
        assert!(wants_table(Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")));
        assert!(!wants_table(Some("application/json")));
        assert!(!wants_table(None));
    }
}
