//! Builders for the objects tests and scenarios start from.

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::{
    Container, Node, NodeCondition, NodeSpec, NodeStatus, Pod, PodSpec, PodTemplateSpec, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use std::collections::BTreeMap;

/// A label map from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Metadata with a namespace, name and labels.
pub fn meta(namespace: &str, name: &str, label_pairs: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
        name: Some(name.to_string()),
        labels: (!label_pairs.is_empty()).then(|| labels(label_pairs)),
        ..Default::default()
    }
}

/// A pod spec with one container running `image`.
pub fn pod_spec(image: &str) -> PodSpec {
    PodSpec {
        containers: vec![Container { name: "app".into(), image: Some(image.into()), ..Default::default() }],
        ..Default::default()
    }
}

/// A selector on exactly these labels.
pub fn selector(label_pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector { match_labels: Some(labels(label_pairs)), match_expressions: None }
}

/// A pod template with these labels and one container running `image`.
pub fn template(label_pairs: &[(&str, &str)], image: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta { labels: Some(labels(label_pairs)), ..Default::default() }),
        spec: Some(pod_spec(image)),
    }
}

/// A pod with one container.
pub fn pod(namespace: &str, name: &str, label_pairs: &[(&str, &str)]) -> Pod {
    Pod { metadata: meta(namespace, name, label_pairs), spec: Some(pod_spec("nginx:1.27")), status: None }
}

/// A pod bound to `node` that mounts the PersistentVolumeClaim `claim` as a volume of the same name.
pub fn pod_using_claim(namespace: &str, name: &str, node: &str, claim: &str) -> Pod {
    let mut p = pod(namespace, name, &[]);
    if let Some(spec) = p.spec.as_mut() {
        spec.node_name = Some(node.into());
        spec.volumes = Some(vec![k8s_openapi::api::core::v1::Volume {
            name: claim.into(),
            persistent_volume_claim: Some(k8s_openapi::api::core::v1::PersistentVolumeClaimVolumeSource {
                claim_name: claim.into(),
                read_only: None,
            }),
            ..Default::default()
        }]);
    }
    p
}

/// A pod whose container requests `cpu` and `memory` (empty strings request nothing).
pub fn pod_requesting(namespace: &str, name: &str, cpu: &str, memory: &str) -> Pod {
    let mut p = pod(namespace, name, &[]);
    let requests: BTreeMap<String, Quantity> = [("cpu", cpu), ("memory", memory)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect();
    if let Some(spec) = p.spec.as_mut() {
        spec.containers[0].resources = Some(ResourceRequirements { requests: Some(requests), ..Default::default() });
    }
    p
}

/// A ReplicaSet selecting and templating `label_pairs`.
pub fn replica_set(namespace: &str, name: &str, replicas: i32, label_pairs: &[(&str, &str)]) -> ReplicaSet {
    ReplicaSet {
        metadata: meta(namespace, name, label_pairs),
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            selector: selector(label_pairs),
            template: Some(template(label_pairs, "nginx:1.27")),
            min_ready_seconds: None,
        }),
        status: None,
    }
}

/// A Ready node with the given cpu, memory and pod capacity, as a test registers it without a kubelet.
pub fn node(name: &str, cpu: &str, memory: &str, pods: u32) -> Node {
    let capacity: BTreeMap<String, Quantity> =
        [("cpu", cpu.to_string()), ("memory", memory.to_string()), ("pods", pods.to_string())]
            .into_iter()
            .map(|(k, v)| (k.to_string(), Quantity(v)))
            .collect();
    Node {
        metadata: meta("", name, &[("kubernetes.io/hostname", name)]),
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            capacity: Some(capacity),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

/// Marks a pod Running and Ready since `since`, as upstream's integration tests do through UpdateStatus.
pub fn make_ready(pod: &mut Pod, since: themelios_api::Time) {
    let status = pod.status.get_or_insert_with(Default::default);
    status.phase = Some("Running".into());
    let ready = k8s_openapi::api::core::v1::PodCondition {
        type_: "Ready".into(),
        status: "True".into(),
        last_transition_time: Some(since.to_k8s()),
        ..Default::default()
    };
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    conditions.retain(|c| c.type_ != "Ready");
    conditions.push(ready);
}

/// A running pod's readiness flips at `at`, as a readiness probe that starts failing (or passes again)
/// makes it: the Ready and ContainersReady conditions and the containers' `ready`. A probe failure's
/// message is not the simulated kubelet's own, so the kubelet leaves it alone.
pub fn set_ready(pod: &mut Pod, ready: bool, at: themelios_api::Time) {
    let (reason, message) = if ready { ("", "") } else { ("ContainersNotReady", "readiness probe failed") };
    for c in pod.status.get_or_insert_with(Default::default).container_statuses.iter_mut().flatten() {
        c.ready = ready;
    }
    themelios_api::pod::set_condition(
        pod,
        themelios_api::pod::new_condition("ContainersReady", ready, reason, message),
        at,
    );
    themelios_api::pod::set_condition(pod, themelios_api::pod::new_condition("Ready", ready, reason, message), at);
}

/// Marks each pending pod Running and Ready, one per step, as upstream's integration tests do by hand
/// (they run no kubelet). Pods named in `hold` are left pending.
#[derive(Clone, Debug, Default)]
pub struct PodReadier {
    /// Pod name prefixes to leave alone.
    pub hold: Vec<String>,
}

impl crate::framework::Controller for PodReadier {
    type Local = ();

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // It only stamps the time a pod became ready.
            time_use: crate::framework::TimeUse::Relative { longest_seconds: 0 },
            reads: Some(&[themelios_api::Kind::Pod]),
            role: crate::framework::Role::Environment,
            ..Default::default()
        }
    }
    fn name(&self) -> String {
        "test-pod-readier".into()
    }
    fn step(
        &self,
        view: &crate::framework::ClusterView,
        _: &mut (),
        _timers: &mut crate::framework::Timers,
    ) -> Option<themelios_api::Op> {
        use themelios_api::Resource;
        let p = view.list::<Pod>().find(|p| {
            themelios_api::pod::is_active(p)
                && !themelios_api::pod::is_ready(p)
                && !self.hold.iter().any(|h| p.metadata.name.as_deref().unwrap_or("").starts_with(h.as_str()))
        })?;
        let mut ready = p.clone();
        make_ready(&mut ready, view.now());
        Some(themelios_api::Op::UpdateStatus(ready.into_object()))
    }
}

/// A Deployment selecting and templating `label_pairs`, with the API defaults left to the server.
pub fn deployment(
    namespace: &str,
    name: &str,
    replicas: i32,
    label_pairs: &[(&str, &str)],
) -> k8s_openapi::api::apps::v1::Deployment {
    k8s_openapi::api::apps::v1::Deployment {
        metadata: meta(namespace, name, label_pairs),
        spec: Some(k8s_openapi::api::apps::v1::DeploymentSpec {
            replicas: Some(replicas),
            selector: selector(label_pairs),
            template: template(label_pairs, "nginx:1.27"),
            ..Default::default()
        }),
        status: None,
    }
}

/// A StatefulSet with a headless service name, selecting and templating `label_pairs`.
pub fn stateful_set(
    namespace: &str,
    name: &str,
    replicas: i32,
    label_pairs: &[(&str, &str)],
    parallel: bool,
) -> k8s_openapi::api::apps::v1::StatefulSet {
    k8s_openapi::api::apps::v1::StatefulSet {
        metadata: meta(namespace, name, label_pairs),
        spec: Some(k8s_openapi::api::apps::v1::StatefulSetSpec {
            replicas: Some(replicas),
            service_name: Some(format!("{name}-svc")),
            pod_management_policy: Some(if parallel { "Parallel" } else { "OrderedReady" }.into()),
            selector: selector(label_pairs),
            template: template(label_pairs, "nginx:1.27"),
            ..Default::default()
        }),
        status: None,
    }
}

/// A Job whose pods run `busybox` once (restartPolicy Never).
pub fn job(
    namespace: &str,
    name: &str,
    parallelism: i32,
    completions: Option<i32>,
) -> k8s_openapi::api::batch::v1::Job {
    let mut spec = pod_spec("busybox:1.36");
    spec.restart_policy = Some("Never".into());
    k8s_openapi::api::batch::v1::Job {
        metadata: meta(namespace, name, &[]),
        spec: Some(k8s_openapi::api::batch::v1::JobSpec {
            parallelism: Some(parallelism),
            completions,
            template: PodTemplateSpec { metadata: None, spec: Some(spec) },
            ..Default::default()
        }),
        status: None,
    }
}

/// Finishes a pod as its kubelet would report it: phase Succeeded or Failed, its container terminated
/// with `exit_code` at `at`.
pub fn finish(pod: &mut Pod, exit_code: i32, at: themelios_api::Time) {
    let status = pod.status.get_or_insert_with(Default::default);
    status.phase = Some(if exit_code == 0 { "Succeeded" } else { "Failed" }.into());
    status.container_statuses = Some(vec![k8s_openapi::api::core::v1::ContainerStatus {
        name: "app".into(),
        state: Some(k8s_openapi::api::core::v1::ContainerState {
            terminated: Some(k8s_openapi::api::core::v1::ContainerStateTerminated {
                exit_code,
                finished_at: Some(at.to_k8s()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }]);
}

/// A CronJob running `job`-like pods (restartPolicy Never) on `schedule`.
pub fn cron_job(namespace: &str, name: &str, schedule: &str) -> k8s_openapi::api::batch::v1::CronJob {
    let job = job(namespace, name, 1, Some(1));
    k8s_openapi::api::batch::v1::CronJob {
        metadata: meta(namespace, name, &[]),
        spec: Some(k8s_openapi::api::batch::v1::CronJobSpec {
            schedule: schedule.into(),
            job_template: k8s_openapi::api::batch::v1::JobTemplateSpec { metadata: None, spec: job.spec },
            ..Default::default()
        }),
        status: None,
    }
}

/// A DaemonSet selecting and templating `label_pairs`.
pub fn daemon_set(namespace: &str, name: &str, label_pairs: &[(&str, &str)]) -> k8s_openapi::api::apps::v1::DaemonSet {
    k8s_openapi::api::apps::v1::DaemonSet {
        metadata: meta(namespace, name, label_pairs),
        spec: Some(k8s_openapi::api::apps::v1::DaemonSetSpec {
            selector: selector(label_pairs),
            template: template(label_pairs, "fluentd:1.17"),
            ..Default::default()
        }),
        status: None,
    }
}
