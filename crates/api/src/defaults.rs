//! Defaulting, as the API server does it before validation, and the status reset on create.

use crate::kind::Object;
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec, Toleration};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The scheduler name pods get when they name none.
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";
/// The seconds the DefaultTolerationSeconds admission plugin lets a pod stay on a not-ready or unreachable node.
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// Clears the status a client sent with a create, as each kind's create strategy does.
pub fn reset_status_on_create(object: &mut Object) {
    match &mut *object {
        // A kubelet registers its node with status; the node strategy keeps it.
        Object::Node(_) => {}
        Object::Pod(p) => {
            p.status = Some(k8s_openapi::api::core::v1::PodStatus {
                phase: Some("Pending".into()),
                qos_class: Some(qos_class(p.spec.as_ref()).into()),
                ..Default::default()
            });
        }
        Object::Namespace(n) => {
            n.status = Some(k8s_openapi::api::core::v1::NamespaceStatus {
                phase: Some("Active".into()),
                ..Default::default()
            });
            // Required on create only: the namespace controller removes it, through the finalize
            // subresource, once the namespace is empty.
            let finalizers = n.spec.get_or_insert_with(Default::default).finalizers.get_or_insert_with(Vec::new);
            if !finalizers.iter().any(|f| f == "kubernetes") {
                finalizers.push("kubernetes".into());
            }
        }
        Object::PersistentVolumeClaim(c) => {
            c.status = Some(k8s_openapi::api::core::v1::PersistentVolumeClaimStatus {
                phase: Some("Pending".into()),
                ..Default::default()
            });
        }
        Object::PersistentVolume(v) => {
            v.status = Some(k8s_openapi::api::core::v1::PersistentVolumeStatus {
                phase: Some("Pending".into()),
                ..Default::default()
            });
        }
        other => {
            let blank = blank_of(other);
            other.copy_status_from(&blank);
        }
    }
}

/// The mutating admission upstream runs on pod creates and updates (not on subresources):
/// DefaultTolerationSeconds. A client that replaces a pod without the tolerations added at create gets
/// them back, rather than a forbidden spec change.
pub fn admit_pod(object: &mut Object) {
    if let Object::Pod(p) = object {
        add_default_tolerations(p.spec.get_or_insert_with(Default::default));
    }
}

fn blank_of(object: &Object) -> Object {
    let mut blank = object.clone();
    match &mut blank {
        Object::Deployment(o) => o.status = None,
        Object::ReplicationController(o) => o.status = None,
        Object::ReplicaSet(o) => o.status = None,
        Object::StatefulSet(o) => o.status = None,
        Object::DaemonSet(o) => o.status = None,
        Object::Job(o) => o.status = None,
        Object::CronJob(o) => o.status = None,
        Object::Service(o) => o.status = None,
        Object::PodDisruptionBudget(o) => o.status = None,
        Object::HorizontalPodAutoscaler(o) => o.status = None,
        _ => {}
    }
    blank
}

/// `BestEffort`, `Burstable` or `Guaranteed`, from the containers' requests and limits.
pub fn qos_class(spec: Option<&PodSpec>) -> &'static str {
    let Some(spec) = spec else { return "BestEffort" };
    let mut any = false;
    let mut guaranteed = true;
    for c in &spec.containers {
        let resources = c.resources.clone().unwrap_or_default();
        let requests = resources.requests.unwrap_or_default();
        let limits = resources.limits.unwrap_or_default();
        if !requests.is_empty() || !limits.is_empty() {
            any = true;
        }
        for resource in ["cpu", "memory"] {
            match (requests.get(resource), limits.get(resource)) {
                (_, None) => guaranteed = false,
                (Some(r), Some(l)) if r != l => guaranteed = false,
                _ => {}
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// The DefaultTolerationSeconds admission plugin: tolerate not-ready and unreachable nodes for 300 s.
fn add_default_tolerations(spec: &mut PodSpec) {
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
        let covered = tolerations.iter().any(|t| {
            (t.key.as_deref() == Some(key) || t.key.is_none() && t.operator.as_deref() == Some("Exists"))
                && t.effect.as_deref().is_none_or(|e| e == "NoExecute")
        });
        if !covered {
            tolerations.push(Toleration {
                key: Some(key.into()),
                operator: Some("Exists".into()),
                effect: Some("NoExecute".into()),
                toleration_seconds: Some(DEFAULT_TOLERATION_SECONDS),
                value: None,
            });
        }
    }
}

/// Fills in the defaults upstream's defaulting functions set, so that controllers compare like with like.
pub fn apply_defaults(object: &mut Object) {
    match object {
        Object::Pod(p) => {
            let spec = p.spec.get_or_insert_with(Default::default);
            default_pod_spec(spec);
            // Only pods, not the templates of workloads, get these (upstream's SetDefaults_Pod).
            spec.enable_service_links.get_or_insert(true);
            for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
                if let Some(resources) = c.resources.as_mut() {
                    if let Some(limits) = resources.limits.clone() {
                        let requests = resources.requests.get_or_insert_with(Default::default);
                        for (name, quantity) in limits {
                            requests.entry(name).or_insert(quantity);
                        }
                    }
                }
            }
        }
        Object::ReplicationController(rc) => {
            if let Some(spec) = rc.spec.as_mut() {
                spec.replicas.get_or_insert(1);
                spec.min_ready_seconds.get_or_insert(0);
                if let Some(labels) =
                    spec.template.as_ref().and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.clone())
                {
                    if spec.selector.as_ref().is_none_or(|s| s.is_empty()) {
                        spec.selector = Some(labels.clone());
                    }
                    if rc.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
                        rc.metadata.labels = Some(labels);
                    }
                }
                default_template(&mut spec.template);
            }
        }
        Object::Service(svc) => {
            if let Some(spec) = svc.spec.as_mut() {
                let affinity = spec.session_affinity.get_or_insert_with(|| "None".into()).clone();
                if affinity == "None" {
                    spec.session_affinity_config = None;
                }
                let type_ = spec.type_.get_or_insert_with(|| "ClusterIP".into()).clone();
                for port in spec.ports.iter_mut().flatten() {
                    port.protocol.get_or_insert_with(|| "TCP".into());
                    let unset = match &port.target_port {
                        None => true,
                        Some(IntOrString::Int(0)) => true,
                        Some(IntOrString::String(s)) => s.is_empty(),
                        _ => false,
                    };
                    if unset {
                        port.target_port = Some(IntOrString::Int(port.port));
                    }
                }
                if matches!(type_.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
                    spec.internal_traffic_policy.get_or_insert_with(|| "Cluster".into());
                }
                if matches!(type_.as_str(), "NodePort" | "LoadBalancer") {
                    spec.external_traffic_policy.get_or_insert_with(|| "Cluster".into());
                }
                if type_ == "LoadBalancer" {
                    spec.allocate_load_balancer_node_ports.get_or_insert(true);
                }
            }
        }
        Object::Endpoints(e) => {
            for port in e.subsets.iter_mut().flatten().flat_map(|s| s.ports.iter_mut().flatten()) {
                port.protocol.get_or_insert_with(|| "TCP".into());
            }
        }
        Object::PersistentVolumeClaim(c) => {
            if let Some(spec) = c.spec.as_mut() {
                spec.volume_mode.get_or_insert_with(|| "Filesystem".into());
            }
        }
        Object::PersistentVolume(v) => {
            if let Some(spec) = v.spec.as_mut() {
                spec.persistent_volume_reclaim_policy.get_or_insert_with(|| "Retain".into());
                spec.volume_mode.get_or_insert_with(|| "Filesystem".into());
                if let Some(host_path) = spec.host_path.as_mut() {
                    host_path.type_.get_or_insert_with(String::new);
                }
            }
        }
        Object::HorizontalPodAutoscaler(h) => {
            if let Some(spec) = h.spec.as_mut() {
                spec.min_replicas.get_or_insert(1);
                if spec.metrics.as_ref().is_none_or(|m| m.is_empty()) {
                    spec.metrics = Some(vec![k8s_openapi::api::autoscaling::v2::MetricSpec {
                        type_: "Resource".into(),
                        resource: Some(k8s_openapi::api::autoscaling::v2::ResourceMetricSource {
                            name: "cpu".into(),
                            target: k8s_openapi::api::autoscaling::v2::MetricTarget {
                                type_: "Utilization".into(),
                                average_utilization: Some(80),
                                ..Default::default()
                            },
                        }),
                        ..Default::default()
                    }]);
                }
            }
        }
        Object::Namespace(ns) => {
            // Upstream's SetDefaults_Namespace keeps this label equal to the name.
            let name = ns.metadata.name.clone().unwrap_or_default();
            if !name.is_empty() {
                let labels = ns.metadata.labels.get_or_insert_with(Default::default);
                labels.insert(crate::admission::NAMESPACE_NAME_LABEL.into(), name);
            }
        }
        Object::RoleBinding(b) => default_binding(&mut b.role_ref, b.subjects.as_mut()),
        Object::ClusterRoleBinding(b) => default_binding(&mut b.role_ref, b.subjects.as_mut()),
        Object::Secret(s) => {
            s.type_.get_or_insert_with(|| "Opaque".into());
            // stringData is write-only: it is folded into data, as upstream's conversion does.
            if let Some(strings) = s.string_data.take() {
                let data = s.data.get_or_insert_with(Default::default);
                for (key, value) in strings {
                    data.insert(key, k8s_openapi::ByteString(value.into_bytes()));
                }
            }
        }
        Object::ReplicaSet(rs) => {
            if let Some(spec) = rs.spec.as_mut() {
                spec.replicas.get_or_insert(1);
                spec.min_ready_seconds.get_or_insert(0);
                default_template(&mut spec.template);
            }
        }
        Object::Deployment(d) => {
            if let Some(spec) = d.spec.as_mut() {
                spec.replicas.get_or_insert(1);
                spec.revision_history_limit.get_or_insert(10);
                spec.progress_deadline_seconds.get_or_insert(600);
                spec.min_ready_seconds.get_or_insert(0);
                let strategy = spec.strategy.get_or_insert_with(Default::default);
                let type_ = strategy.type_.get_or_insert_with(|| "RollingUpdate".into());
                if type_ == "RollingUpdate" {
                    let ru = strategy.rolling_update.get_or_insert_with(Default::default);
                    ru.max_surge.get_or_insert(IntOrString::String("25%".into()));
                    ru.max_unavailable.get_or_insert(IntOrString::String("25%".into()));
                }
                default_pod_template(&mut spec.template);
            }
        }
        Object::StatefulSet(s) => {
            if let Some(spec) = s.spec.as_mut() {
                spec.replicas.get_or_insert(1);
                spec.revision_history_limit.get_or_insert(10);
                spec.min_ready_seconds.get_or_insert(0);
                spec.pod_management_policy.get_or_insert_with(|| "OrderedReady".into());
                let strategy = spec.update_strategy.get_or_insert_with(Default::default);
                let type_ = strategy.type_.get_or_insert_with(|| "RollingUpdate".into());
                if type_ == "RollingUpdate" {
                    let ru = strategy.rolling_update.get_or_insert_with(Default::default);
                    ru.partition.get_or_insert(0);
                }
                let retention = spec.persistent_volume_claim_retention_policy.get_or_insert_with(Default::default);
                retention.when_deleted.get_or_insert_with(|| "Retain".into());
                retention.when_scaled.get_or_insert_with(|| "Retain".into());
                default_pod_template(&mut spec.template);
            }
        }
        Object::DaemonSet(d) => {
            // The template generation upstream's conversion writes (the server keeps it: see admission).
            let annotations = d.metadata.annotations.get_or_insert_with(Default::default);
            annotations.entry(crate::admission::DAEMONSET_TEMPLATE_GENERATION.into()).or_insert_with(|| "1".into());
            if let Some(spec) = d.spec.as_mut() {
                spec.revision_history_limit.get_or_insert(10);
                spec.min_ready_seconds.get_or_insert(0);
                let strategy = spec.update_strategy.get_or_insert_with(Default::default);
                let type_ = strategy.type_.get_or_insert_with(|| "RollingUpdate".into());
                if type_ == "RollingUpdate" {
                    let ru = strategy.rolling_update.get_or_insert_with(Default::default);
                    ru.max_unavailable.get_or_insert(IntOrString::Int(1));
                    ru.max_surge.get_or_insert(IntOrString::Int(0));
                }
                default_pod_template(&mut spec.template);
            }
        }
        Object::Job(j) => {
            if let Some(spec) = j.spec.as_mut() {
                if spec.completions.is_none() && spec.parallelism.is_none() {
                    spec.completions = Some(1);
                }
                spec.parallelism.get_or_insert(1);
                // With per-index limits the global limit defaults to unlimited.
                let default_backoff = if spec.backoff_limit_per_index.is_some() { i32::MAX } else { 6 };
                spec.backoff_limit.get_or_insert(default_backoff);
                spec.completion_mode.get_or_insert_with(|| "NonIndexed".into());
                spec.suspend.get_or_insert(false);
                let replacement = if spec.pod_failure_policy.is_some() { "Failed" } else { "TerminatingOrFailed" };
                spec.pod_replacement_policy.get_or_insert_with(|| replacement.into());
                spec.manual_selector.get_or_insert(false);
                for rule in spec.pod_failure_policy.iter_mut().flat_map(|p| p.rules.iter_mut()) {
                    for pattern in rule.on_pod_conditions.iter_mut().flatten() {
                        if pattern.status.is_empty() {
                            pattern.status = "True".into();
                        }
                    }
                }
                default_pod_template(&mut spec.template);
                // A Job without labels of its own takes its template's (upstream's defaulting, which also
                // runs when the object is read back, after the selector's labels were added).
                let template_labels = spec.template.metadata.as_ref().and_then(|m| m.labels.clone());
                if let Some(labels) = template_labels.filter(|l| !l.is_empty()) {
                    if j.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
                        j.metadata.labels = Some(labels);
                    }
                }
            }
        }
        Object::CronJob(c) => {
            if let Some(spec) = c.spec.as_mut() {
                spec.concurrency_policy.get_or_insert_with(|| "Allow".into());
                spec.suspend.get_or_insert(false);
                spec.successful_jobs_history_limit.get_or_insert(3);
                spec.failed_jobs_history_limit.get_or_insert(1);
                if let Some(job) = spec.job_template.spec.as_mut() {
                    default_pod_template(&mut job.template);
                }
            }
        }
        _ => {}
    }
}

fn default_template(template: &mut Option<PodTemplateSpec>) {
    if let Some(t) = template.as_mut() {
        default_pod_template(t);
    }
}

fn default_pod_template(template: &mut PodTemplateSpec) {
    if let Some(spec) = template.spec.as_mut() {
        default_pod_spec(spec);
    }
}

/// The pod spec defaults (upstream's SetDefaults_PodSpec and SetDefaults_Container): restart policy, grace
/// period, DNS policy, scheduler, security context, termination message and pull policy.
pub fn default_pod_spec(spec: &mut PodSpec) {
    spec.restart_policy.get_or_insert_with(|| "Always".into());
    spec.termination_grace_period_seconds.get_or_insert(30);
    spec.dns_policy.get_or_insert_with(|| "ClusterFirst".into());
    spec.scheduler_name.get_or_insert_with(|| DEFAULT_SCHEDULER.into());
    spec.security_context.get_or_insert_with(Default::default);
    // The deprecated `serviceAccount` mirrors `serviceAccountName` (upstream's v1 conversion).
    match (spec.service_account_name.as_deref().filter(|n| !n.is_empty()), spec.service_account.as_deref()) {
        (Some(name), _) => spec.service_account = Some(name.to_string()),
        (None, Some(old)) if !old.is_empty() => spec.service_account_name = Some(old.to_string()),
        _ => {}
    }
    for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
        c.termination_message_path.get_or_insert_with(|| "/dev/termination-log".into());
        c.termination_message_policy.get_or_insert_with(|| "File".into());
        let image = c.image.clone().unwrap_or_default();
        let tag_is_latest = match image.rsplit_once(':') {
            Some((_, tag)) => tag == "latest" || tag.contains('/'),
            None => true,
        };
        c.image_pull_policy.get_or_insert_with(|| if tag_is_latest { "Always" } else { "IfNotPresent" }.into());
    }
}

/// The label on a Job's pods naming the Job's uid (the generated selector selects on it).
pub const JOB_CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
/// The label on a Job's pods naming the Job.
pub const JOB_NAME: &str = "batch.kubernetes.io/job-name";

/// A Job without `manualSelector` gets a selector on its own uid, and its template the matching labels
/// (with the legacy unprefixed copies), as the API server does on create.
pub fn generate_job_selector(object: &mut Object) {
    let Object::Job(job) = object else { return };
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    let Some(spec) = job.spec.as_mut() else { return };
    if spec.manual_selector == Some(true) {
        return;
    }
    spec.selector = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
        match_labels: Some([(JOB_CONTROLLER_UID.to_string(), uid.clone())].into()),
        match_expressions: None,
    });
    let labels =
        spec.template.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(Default::default);
    for (key, value) in [(JOB_CONTROLLER_UID, &uid), ("controller-uid", &uid), (JOB_NAME, &name), ("job-name", &name)] {
        labels.insert(key.to_string(), value.clone());
    }
}

/// A binding's role reference and subjects name their API group when the request leaves it out.
fn default_binding(
    role_ref: &mut k8s_openapi::api::rbac::v1::RoleRef,
    subjects: Option<&mut Vec<k8s_openapi::api::rbac::v1::Subject>>,
) {
    use crate::validation::rbac::RBAC_GROUP;
    if role_ref.api_group.is_empty() {
        role_ref.api_group = RBAC_GROUP.into();
    }
    for subject in subjects.into_iter().flatten() {
        if subject.api_group.as_deref().unwrap_or_default().is_empty() {
            match subject.kind.as_str() {
                "User" | "Group" => subject.api_group = Some(RBAC_GROUP.into()),
                "ServiceAccount" => subject.api_group = Some(String::new()),
                _ => {}
            }
        }
    }
}
