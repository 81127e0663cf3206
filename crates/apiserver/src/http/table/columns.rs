//! Each kind's columns, as upstream prints them: every column carries its own reader of the typed object,
//! so a column and its cell cannot fall out of step, and a field is named by the compiler, not by a JSON
//! pointer a typo would turn into 0.

use super::human_duration;
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::autoscaling::v2 as autoscaling;
use k8s_openapi::api::batch::v1 as batch;
use k8s_openapi::api::coordination::v1 as coordination;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::policy::v1 as policy;
use k8s_openapi::api::rbac::v1 as rbac;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::Metadata;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use themelios_api::{selector, Kind, Object, Resource, Time};

/// How a column's cells are read: text, or a whole number (the column's type follows from it).
enum Reader<T> {
    Text(fn(&T, Time) -> String),
    Int(fn(&T, Time) -> i64),
}

/// One column of a kind's table.
struct Column<T> {
    name: &'static str,
    /// `name` for the object's name column (kubectl links it), else empty.
    format: &'static str,
    /// 0: always shown; 1: only with `-o wide`.
    priority: u8,
    read: Reader<T>,
}

fn text<T>(name: &'static str, read: fn(&T, Time) -> String) -> Column<T> {
    Column { name, format: "", priority: 0, read: Reader::Text(read) }
}
fn int<T>(name: &'static str, read: fn(&T, Time) -> i64) -> Column<T> {
    Column { name, format: "", priority: 0, read: Reader::Int(read) }
}
fn wide<T>(name: &'static str, read: fn(&T, Time) -> String) -> Column<T> {
    Column { priority: 1, ..text(name, read) }
}
fn name<T: Metadata<Ty = ObjectMeta>>() -> Column<T> {
    Column { format: "name", ..text("Name", |o: &T, _| o.metadata().name.clone().unwrap_or_default()) }
}
fn age<T: Metadata<Ty = ObjectMeta>>() -> Column<T> {
    text("Age", |o: &T, now| match &o.metadata().creation_timestamp {
        Some(created) => human_duration(now.seconds_since(Time::from_k8s(created))),
        None => "<unknown>".into(),
    })
}

/// When the object was created, as RBAC objects print it (upstream's `Created At` column).
fn created_at<T: Metadata<Ty = ObjectMeta>>() -> Column<T> {
    Column {
        format: "date",
        ..text("Created At", |o: &T, _| {
            let created = o.metadata().creation_timestamp.as_ref().map(serde_json::to_value);
            created.and_then(Result::ok).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
        })
    }
}

/// A binding's subjects of one kind, comma-separated (service accounts as `namespace/name`).
fn subjects(subjects: &Option<Vec<rbac::Subject>>, kind: &str) -> String {
    let names: Vec<String> = subjects
        .iter()
        .flatten()
        .filter(|s| s.kind == kind)
        .map(|s| match &s.namespace {
            Some(namespace) if kind == "ServiceAccount" => format!("{namespace}/{}", s.name),
            _ => s.name.clone(),
        })
        .collect();
    names.join(", ")
}

/// A kind's columns, with the type erased.
pub(super) trait Printer {
    /// `columnDefinitions`.
    fn definitions(&self) -> Vec<Value>;
    /// One row's cells for `object` (of this printer's kind) at `now`.
    fn cells(&self, object: &Object, now: Time) -> Vec<Value>;
}

impl<T: Resource + Default> Printer for Vec<Column<T>> {
    fn definitions(&self) -> Vec<Value> {
        self.iter()
            .map(|c| {
                let kind = match c.read {
                    Reader::Text(_) => "string",
                    Reader::Int(_) => "integer",
                };
                json!({"name": c.name, "type": kind, "format": c.format, "description": c.name, "priority": c.priority})
            })
            .collect()
    }

    fn cells(&self, object: &Object, now: Time) -> Vec<Value> {
        let empty = T::default();
        // A printer is chosen by the object's kind, so the object is always a `T`.
        let typed = T::from_object(object).unwrap_or(&empty);
        self.iter()
            .map(|c| match c.read {
                Reader::Text(read) => json!(read(typed, now)),
                Reader::Int(read) => json!(read(typed, now)),
            })
            .collect()
    }
}

/// The columns of `kind`.
pub(super) fn printer(kind: Kind) -> Box<dyn Printer> {
    match kind {
        Kind::Pod => Box::new(pod()),
        Kind::Deployment => Box::new(deployment()),
        Kind::ReplicaSet => Box::new(replica_set()),
        Kind::ReplicationController => Box::new(replication_controller()),
        Kind::StatefulSet => Box::new(stateful_set()),
        Kind::DaemonSet => Box::new(daemon_set()),
        Kind::Job => Box::new(job()),
        Kind::CronJob => Box::new(cron_job()),
        Kind::Node => Box::new(node()),
        Kind::Namespace => Box::new(vec![
            name::<core::Namespace>(),
            text("Status", |n: &core::Namespace, _| {
                n.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default()
            }),
            age(),
        ]),
        Kind::Service => Box::new(service()),
        Kind::ConfigMap => Box::new(vec![
            name::<core::ConfigMap>(),
            int("Data", |c: &core::ConfigMap, _| {
                (c.data.as_ref().map_or(0, BTreeMap::len) + c.binary_data.as_ref().map_or(0, BTreeMap::len)) as i64
            }),
            age(),
        ]),
        Kind::Secret => Box::new(vec![
            name::<core::Secret>(),
            text("Type", |s: &core::Secret, _| s.type_.clone().filter(|t| !t.is_empty()).unwrap_or("Opaque".into())),
            int("Data", |s: &core::Secret, _| s.data.as_ref().map_or(0, BTreeMap::len) as i64),
            age(),
        ]),
        Kind::Endpoints => Box::new(vec![name::<core::Endpoints>(), text("Endpoints", endpoints), age()]),
        Kind::Event => Box::new(event()),
        Kind::Lease => Box::new(vec![
            name::<coordination::Lease>(),
            text("Holder", |l: &coordination::Lease, _| {
                l.spec.as_ref().and_then(|s| s.holder_identity.clone()).unwrap_or_default()
            }),
            age(),
        ]),
        Kind::ControllerRevision => Box::new(vec![
            name::<apps::ControllerRevision>(),
            text("Controller", |r: &apps::ControllerRevision, _| controller_of(&r.metadata)),
            int("Revision", |r: &apps::ControllerRevision, _| r.revision),
            age(),
        ]),
        Kind::PodDisruptionBudget => Box::new(pod_disruption_budget()),
        Kind::HorizontalPodAutoscaler => Box::new(horizontal_pod_autoscaler()),
        Kind::PersistentVolumeClaim => Box::new(persistent_volume_claim()),
        Kind::PersistentVolume => Box::new(persistent_volume()),
        Kind::ServiceAccount => Box::new(vec![name::<core::ServiceAccount>(), age()]),
        Kind::Role => Box::new(vec![name::<rbac::Role>(), created_at()]),
        Kind::ClusterRole => Box::new(vec![name::<rbac::ClusterRole>(), created_at()]),
        Kind::RoleBinding => Box::new(vec![
            name::<rbac::RoleBinding>(),
            text("Role", |b: &rbac::RoleBinding, _| format!("{}/{}", b.role_ref.kind, b.role_ref.name)),
            age(),
            wide("Users", |b: &rbac::RoleBinding, _| subjects(&b.subjects, "User")),
            wide("Groups", |b: &rbac::RoleBinding, _| subjects(&b.subjects, "Group")),
            wide("ServiceAccounts", |b: &rbac::RoleBinding, _| subjects(&b.subjects, "ServiceAccount")),
        ]),
        Kind::ClusterRoleBinding => Box::new(vec![
            name::<rbac::ClusterRoleBinding>(),
            text("Role", |b: &rbac::ClusterRoleBinding, _| format!("{}/{}", b.role_ref.kind, b.role_ref.name)),
            age(),
            wide("Users", |b: &rbac::ClusterRoleBinding, _| subjects(&b.subjects, "User")),
            wide("Groups", |b: &rbac::ClusterRoleBinding, _| subjects(&b.subjects, "Group")),
            wide("ServiceAccounts", |b: &rbac::ClusterRoleBinding, _| subjects(&b.subjects, "ServiceAccount")),
        ]),
    }
}

fn or_none(s: String) -> String {
    if s.is_empty() {
        "<none>".into()
    } else {
        s
    }
}

/// A LabelSelector as kubectl prints it (`a=b,c in (d,e)`), or `<none>`.
pub(super) fn label_selector(selector: Option<&LabelSelector>) -> String {
    let parsed = selector.and_then(|s| selector::LabelSelector::from_k8s(Some(s)).ok());
    or_none(parsed.map(|s| s.to_string()).unwrap_or_default())
}

/// A map as `k=v,k=v` (sorted by key).
fn pairs(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter().flatten().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// The columns every workload adds in `-o wide`: its template's containers and images, and (for most)
/// its selector.
fn workload<T>(
    mut head: Vec<Column<T>>,
    containers: fn(&T, Time) -> String,
    images: fn(&T, Time) -> String,
    selector: Option<fn(&T, Time) -> String>,
) -> Vec<Column<T>> {
    head.push(wide("Containers", containers));
    head.push(wide("Images", images));
    head.extend(selector.map(|read| wide("Selector", read)));
    head
}

fn names(template: Option<&core::PodTemplateSpec>) -> String {
    let containers = template.and_then(|t| t.spec.as_ref()).map(|s| s.containers.as_slice()).unwrap_or_default();
    or_none(containers.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(","))
}

fn images(template: Option<&core::PodTemplateSpec>) -> String {
    let containers = template.and_then(|t| t.spec.as_ref()).map(|s| s.containers.as_slice()).unwrap_or_default();
    or_none(containers.iter().map(|c| c.image.as_deref().unwrap_or("")).collect::<Vec<_>>().join(","))
}

fn since(time: Option<Time>, now: Time) -> String {
    time.map_or_else(|| "<unknown>".into(), |t| human_duration(now.seconds_since(t)))
}

fn pod() -> Vec<Column<core::Pod>> {
    vec![
        name(),
        text("Ready", |p, _| {
            let specs = p.spec.as_ref().map_or(0, |s| s.containers.len());
            let ready = container_statuses(p).filter(|s| s.ready).count();
            format!("{ready}/{specs}")
        }),
        text("Status", |p, _| pod_status(p)),
        text("Restarts", |p, _| container_statuses(p).map(|s| i64::from(s.restart_count)).sum::<i64>().to_string()),
        age(),
        wide("IP", |p, _| or_none(p.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default())),
        wide("Node", |p, _| or_none(p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default())),
        wide("Nominated Node", |p, _| {
            or_none(p.status.as_ref().and_then(|s| s.nominated_node_name.clone()).unwrap_or_default())
        }),
        wide("Readiness Gates", |p, _| {
            match p.spec.as_ref().and_then(|s| s.readiness_gates.as_ref()).map_or(0, Vec::len) {
                0 => "<none>".into(),
                gates => format!("0/{gates}"),
            }
        }),
    ]
}

fn container_statuses(p: &core::Pod) -> impl Iterator<Item = &core::ContainerStatus> {
    p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).into_iter().flatten()
}

/// The pod's phase, or the reason a container waits or ended, as kubectl shows it.
fn pod_status(p: &core::Pod) -> String {
    let status = p.status.as_ref();
    let reason = status.and_then(|s| s.reason.clone()).filter(|r| !r.is_empty());
    let mut shown = reason.or_else(|| status.and_then(|s| s.phase.clone())).unwrap_or_default();
    for s in container_statuses(p) {
        let state = s.state.as_ref();
        let waiting = state.and_then(|st| st.waiting.as_ref()).and_then(|w| w.reason.clone()).filter(|r| !r.is_empty());
        let ended =
            state.and_then(|st| st.terminated.as_ref()).and_then(|t| t.reason.clone()).filter(|r| !r.is_empty());
        if let Some(reason) = waiting.or(ended) {
            shown = reason;
        }
    }
    if p.metadata.deletion_timestamp.is_some() {
        shown = "Terminating".into();
    }
    if shown.is_empty() {
        "Pending".into()
    } else {
        shown
    }
}

fn deployment() -> Vec<Column<apps::Deployment>> {
    workload(
        vec![
            name(),
            text("Ready", |d, _| {
                let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
                format!("{}/{wanted}", d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0))
            }),
            int("Up-to-date", |d, _| d.status.as_ref().and_then(|s| s.updated_replicas).unwrap_or(0).into()),
            int("Available", |d, _| d.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0).into()),
            age(),
        ],
        |d, _| names(d.spec.as_ref().map(|s| &s.template)),
        |d, _| images(d.spec.as_ref().map(|s| &s.template)),
        Some(|d, _| label_selector(d.spec.as_ref().map(|s| &s.selector))),
    )
}

fn replica_set() -> Vec<Column<apps::ReplicaSet>> {
    workload(
        vec![
            name(),
            int("Desired", |r, _| r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0).into()),
            int("Current", |r, _| r.status.as_ref().map_or(0, |s| s.replicas).into()),
            int("Ready", |r, _| r.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0).into()),
            age(),
        ],
        |r, _| names(r.spec.as_ref().and_then(|s| s.template.as_ref())),
        |r, _| images(r.spec.as_ref().and_then(|s| s.template.as_ref())),
        Some(|r, _| label_selector(r.spec.as_ref().map(|s| &s.selector))),
    )
}

fn replication_controller() -> Vec<Column<core::ReplicationController>> {
    workload(
        vec![
            name(),
            int("Desired", |r, _| r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0).into()),
            int("Current", |r, _| r.status.as_ref().map_or(0, |s| s.replicas).into()),
            int("Ready", |r, _| r.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0).into()),
            age(),
        ],
        |r, _| names(r.spec.as_ref().and_then(|s| s.template.as_ref())),
        |r, _| images(r.spec.as_ref().and_then(|s| s.template.as_ref())),
        Some(|r, _| {
            let labels = r.spec.as_ref().and_then(|s| s.selector.clone());
            label_selector(labels.map(|l| LabelSelector { match_labels: Some(l), ..Default::default() }).as_ref())
        }),
    )
}

fn stateful_set() -> Vec<Column<apps::StatefulSet>> {
    workload(
        vec![
            name(),
            text("Ready", |s, _| {
                let wanted = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
                format!("{}/{wanted}", s.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0))
            }),
            age(),
        ],
        |s, _| names(s.spec.as_ref().map(|s| &s.template)),
        |s, _| images(s.spec.as_ref().map(|s| &s.template)),
        None,
    )
}

fn daemon_set() -> Vec<Column<apps::DaemonSet>> {
    workload(
        vec![
            name(),
            int("Desired", |d, _| d.status.as_ref().map_or(0, |s| s.desired_number_scheduled).into()),
            int("Current", |d, _| d.status.as_ref().map_or(0, |s| s.current_number_scheduled).into()),
            int("Ready", |d, _| d.status.as_ref().map_or(0, |s| s.number_ready).into()),
            int("Up-to-date", |d, _| d.status.as_ref().and_then(|s| s.updated_number_scheduled).unwrap_or(0).into()),
            int("Available", |d, _| d.status.as_ref().and_then(|s| s.number_available).unwrap_or(0).into()),
            text("Node Selector", |d, _| {
                let template = d.spec.as_ref().and_then(|s| s.template.spec.as_ref());
                or_none(pairs(template.and_then(|t| t.node_selector.as_ref())))
            }),
            age(),
        ],
        |d, _| names(d.spec.as_ref().map(|s| &s.template)),
        |d, _| images(d.spec.as_ref().map(|s| &s.template)),
        Some(|d, _| label_selector(d.spec.as_ref().map(|s| &s.selector))),
    )
}

fn job() -> Vec<Column<batch::Job>> {
    workload(
        vec![
            name(),
            text("Status", |j, _| job_status(j).into()),
            text("Completions", |j, _| {
                let succeeded = j.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
                let spec = j.spec.as_ref();
                match spec.and_then(|s| s.completions) {
                    Some(n) => format!("{succeeded}/{n}"),
                    None => format!("{succeeded}/1 of {}", spec.and_then(|s| s.parallelism).unwrap_or(0).max(1)),
                }
            }),
            text("Duration", |j, now| {
                let status = j.status.as_ref();
                let start = status.and_then(|s| s.start_time.as_ref()).map(Time::from_k8s);
                let end = status.and_then(|s| s.completion_time.as_ref()).map(Time::from_k8s);
                match (start, end) {
                    (Some(start), Some(end)) => human_duration(end.seconds_since(start)),
                    (Some(start), None) => human_duration(now.seconds_since(start)),
                    _ => String::new(),
                }
            }),
            age(),
        ],
        |j, _| names(j.spec.as_ref().map(|s| &s.template)),
        |j, _| images(j.spec.as_ref().map(|s| &s.template)),
        Some(|j, _| label_selector(j.spec.as_ref().and_then(|s| s.selector.as_ref()))),
    )
}

fn job_status(j: &batch::Job) -> &'static str {
    let conditions = j.status.as_ref().and_then(|s| s.conditions.as_ref());
    let holds = |t: &str| conditions.into_iter().flatten().any(|c| c.type_ == t && c.status == "True");
    ["Complete", "Failed", "FailureTarget", "SuccessCriteriaMet", "Suspended"]
        .into_iter()
        .find(|t| holds(t))
        .unwrap_or("Running")
}

fn cron_job() -> Vec<Column<batch::CronJob>> {
    fn template(c: &batch::CronJob) -> Option<&core::PodTemplateSpec> {
        c.spec.as_ref().and_then(|s| s.job_template.spec.as_ref()).map(|s| &s.template)
    }
    workload(
        vec![
            name(),
            text("Schedule", |c, _| c.spec.as_ref().map(|s| s.schedule.clone()).unwrap_or_default()),
            text("Timezone", |c, _| or_none(c.spec.as_ref().and_then(|s| s.time_zone.clone()).unwrap_or_default())),
            text("Suspend", |c, _| {
                if c.spec.as_ref().and_then(|s| s.suspend).unwrap_or(false) { "True" } else { "False" }.into()
            }),
            int("Active", |c, _| c.status.as_ref().and_then(|s| s.active.as_ref()).map_or(0, Vec::len) as i64),
            text("Last Schedule", |c, now| {
                let last = c.status.as_ref().and_then(|s| s.last_schedule_time.as_ref()).map(Time::from_k8s);
                last.map_or_else(|| "<none>".into(), |t| human_duration(now.seconds_since(t)))
            }),
            age(),
        ],
        |c, _| names(template(c)),
        |c, _| images(template(c)),
        Some(|c, _| {
            label_selector(c.spec.as_ref().and_then(|s| s.job_template.spec.as_ref()).and_then(|s| s.selector.as_ref()))
        }),
    )
}

fn node() -> Vec<Column<core::Node>> {
    fn info(n: &core::Node, field: fn(&core::NodeSystemInfo) -> &String) -> String {
        n.status.as_ref().and_then(|s| s.node_info.as_ref()).map(field).cloned().unwrap_or_default()
    }
    fn address(n: &core::Node, kind: &str) -> String {
        let addresses = n.status.as_ref().and_then(|s| s.addresses.as_ref()).into_iter().flatten();
        addresses.into_iter().find(|a| a.type_ == kind).map_or_else(|| "<none>".into(), |a| a.address.clone())
    }
    vec![
        name(),
        text("Status", |n, _| {
            let conditions = n.status.as_ref().and_then(|s| s.conditions.as_ref()).into_iter().flatten();
            let mut shown = match conditions.into_iter().find(|c| c.type_ == "Ready").map(|c| c.status.as_str()) {
                Some("True") => "Ready".to_string(),
                Some(_) => "NotReady".to_string(),
                None => "Unknown".to_string(),
            };
            if n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
                shown.push_str(",SchedulingDisabled");
            }
            shown
        }),
        text("Roles", |n, _| {
            let labels = n.metadata.labels.iter().flatten();
            or_none(
                labels.filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/")).collect::<Vec<_>>().join(","),
            )
        }),
        age(),
        text("Version", |n, _| info(n, |i| &i.kubelet_version)),
        wide("Internal-IP", |n, _| address(n, "InternalIP")),
        wide("External-IP", |n, _| address(n, "ExternalIP")),
        wide("OS-Image", |n, _| or_none(info(n, |i| &i.os_image))),
        wide("Kernel-Version", |n, _| or_none(info(n, |i| &i.kernel_version))),
        wide("Container-Runtime", |n, _| or_none(info(n, |i| &i.container_runtime_version))),
    ]
}

fn service() -> Vec<Column<core::Service>> {
    vec![
        name(),
        text("Type", |s, _| {
            s.spec.as_ref().and_then(|s| s.type_.clone()).filter(|t| !t.is_empty()).unwrap_or("ClusterIP".into())
        }),
        text("Cluster-IP", |s, _| or_none(s.spec.as_ref().and_then(|s| s.cluster_ip.clone()).unwrap_or_default())),
        text("External-IP", |s, _| {
            or_none(s.spec.as_ref().and_then(|s| s.external_ips.as_ref()).map(|ips| ips.join(",")).unwrap_or_default())
        }),
        text("Port(s)", |s, _| {
            let ports = s.spec.as_ref().and_then(|s| s.ports.as_ref()).into_iter().flatten();
            let shown: Vec<String> = ports
                .map(|p| {
                    let protocol = p.protocol.as_deref().unwrap_or("TCP");
                    match p.node_port {
                        Some(node_port) => format!("{}:{node_port}/{protocol}", p.port),
                        None => format!("{}/{protocol}", p.port),
                    }
                })
                .collect();
            or_none(shown.join(","))
        }),
        age(),
        wide("Selector", |s, _| or_none(pairs(s.spec.as_ref().and_then(|s| s.selector.as_ref())))),
    ]
}

fn endpoints(e: &core::Endpoints, _: Time) -> String {
    let mut shown = Vec::new();
    for subset in e.subsets.iter().flatten() {
        for address in subset.addresses.iter().flatten() {
            for port in subset.ports.iter().flatten() {
                shown.push(format!("{}:{}", address.ip, port.port));
            }
        }
    }
    or_none(shown.join(","))
}

fn event() -> Vec<Column<core::Event>> {
    vec![
        text("Last Seen", |e, now| {
            let last = e.last_timestamp.as_ref().map(Time::from_k8s);
            let at = last.or_else(|| e.event_time.as_ref().map(|t| Time(t.0.as_second())));
            since(at.or_else(|| e.metadata.creation_timestamp.as_ref().map(Time::from_k8s)), now)
        }),
        text("Type", |e, _| e.type_.clone().unwrap_or_default()),
        text("Reason", |e, _| e.reason.clone().unwrap_or_default()),
        text("Object", |e, _| {
            let involved = &e.involved_object;
            let kind = involved.kind.as_deref().unwrap_or("").to_ascii_lowercase();
            format!("{kind}/{}", involved.name.as_deref().unwrap_or(""))
        }),
        text("Message", |e, _| e.message.clone().unwrap_or_default()),
    ]
}

/// The controlling owner as `kind.group/name`, or `<none>`.
fn controller_of(meta: &ObjectMeta) -> String {
    let owners = meta.owner_references.iter().flatten();
    let controller = owners.into_iter().find(|r| r.controller == Some(true));
    controller.map_or_else(
        || "<none>".into(),
        |r| {
            let group = r.api_version.split('/').next().unwrap_or("");
            format!("{}.{group}/{}", r.kind.to_ascii_lowercase(), r.name)
        },
    )
}

fn pod_disruption_budget() -> Vec<Column<policy::PodDisruptionBudget>> {
    fn show(value: Option<&IntOrString>) -> String {
        match value {
            Some(IntOrString::Int(n)) => n.to_string(),
            Some(IntOrString::String(s)) => s.clone(),
            None => "N/A".into(),
        }
    }
    vec![
        name(),
        text("Min Available", |p, _| show(p.spec.as_ref().and_then(|s| s.min_available.as_ref()))),
        text("Max Unavailable", |p, _| show(p.spec.as_ref().and_then(|s| s.max_unavailable.as_ref()))),
        int("Allowed Disruptions", |p, _| p.status.as_ref().map_or(0, |s| s.disruptions_allowed).into()),
        age(),
    ]
}

fn horizontal_pod_autoscaler() -> Vec<Column<autoscaling::HorizontalPodAutoscaler>> {
    vec![
        name(),
        text("Reference", |h, _| {
            let target = h.spec.as_ref().map(|s| &s.scale_target_ref);
            target.map_or_else(|| "/".into(), |t| format!("{}/{}", t.kind, t.name))
        }),
        text("Targets", |_, _| "<unknown>".into()),
        text("MinPods", |h, _| h.spec.as_ref().and_then(|s| s.min_replicas).unwrap_or(1).to_string()),
        int("MaxPods", |h, _| h.spec.as_ref().map_or(0, |s| s.max_replicas).into()),
        int("Replicas", |h, _| h.status.as_ref().and_then(|s| s.current_replicas).unwrap_or(0).into()),
        age(),
    ]
}

/// Access modes as kubectl abbreviates them.
fn access_modes(modes: Option<&Vec<String>>) -> String {
    let short = |m: &String| match m.as_str() {
        "ReadWriteOnce" => "RWO".to_string(),
        "ReadOnlyMany" => "ROX".to_string(),
        "ReadWriteMany" => "RWX".to_string(),
        "ReadWriteOncePod" => "RWOP".to_string(),
        other => other.to_string(),
    };
    modes.into_iter().flatten().map(short).collect::<Vec<_>>().join(",")
}

fn storage(capacity: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>) -> String {
    capacity.and_then(|c| c.get("storage")).map(|q| q.0.clone()).unwrap_or_default()
}

fn persistent_volume_claim() -> Vec<Column<core::PersistentVolumeClaim>> {
    vec![
        name(),
        text("Status", |c, _| c.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default()),
        text("Volume", |c, _| c.spec.as_ref().and_then(|s| s.volume_name.clone()).unwrap_or_default()),
        text("Capacity", |c, _| storage(c.status.as_ref().and_then(|s| s.capacity.as_ref()))),
        text("Access Modes", |c, _| access_modes(c.status.as_ref().and_then(|s| s.access_modes.as_ref()))),
        text("StorageClass", |c, _| {
            or_none(c.spec.as_ref().and_then(|s| s.storage_class_name.clone()).unwrap_or_default())
        }),
        age(),
    ]
}

fn persistent_volume() -> Vec<Column<core::PersistentVolume>> {
    vec![
        name(),
        text("Capacity", |v, _| storage(v.spec.as_ref().and_then(|s| s.capacity.as_ref()))),
        text("Access Modes", |v, _| access_modes(v.spec.as_ref().and_then(|s| s.access_modes.as_ref()))),
        text("Reclaim Policy", |v, _| {
            let policy = v.spec.as_ref().and_then(|s| s.persistent_volume_reclaim_policy.clone());
            policy.filter(|p| !p.is_empty()).unwrap_or("Retain".into())
        }),
        text("Status", |v, _| v.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default()),
        text("Claim", |v, _| {
            let claim = v.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
            match claim.and_then(|c| c.name.as_deref()).filter(|n| !n.is_empty()) {
                Some(name) => format!("{}/{name}", claim.and_then(|c| c.namespace.as_deref()).unwrap_or("")),
                None => String::new(),
            }
        }),
        text("StorageClass", |v, _| v.spec.as_ref().and_then(|s| s.storage_class_name.clone()).unwrap_or_default()),
        age(),
    ]
}
