//! The pod statuses a simulated kubelet writes: started, ready, finished, stopped.

use super::node::node_ip;
use super::{NodeConfig, DEFAULT_RUN_SECONDS, EXIT_CODE_ANNOTATION, RUN_SECONDS_ANNOTATION, TERMINATED_EXIT_CODE};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus, Pod, PodIP,
};
use themelios_api::{pod, Time};

/// Container ids of simulated containers start with this, which is how the kubelet knows a pod is its own.
const CONTAINER_ID_SCHEME: &str = "themelios://";

/// Whether this kubelet started the pod's containers.
pub(super) fn started_by_kubelet(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).is_some_and(|cs| {
        cs.iter().any(|c| c.container_id.as_deref().is_some_and(|id| id.starts_with(CONTAINER_ID_SCHEME)))
    })
}

fn container_names(p: &Pod) -> Vec<String> {
    p.spec.as_ref().map(|s| s.containers.iter().map(|c| c.name.clone()).collect()).unwrap_or_default()
}

fn annotation<T: std::str::FromStr>(p: &Pod, key: &str) -> Option<T> {
    p.metadata.annotations.as_ref()?.get(key)?.parse().ok()
}

fn restart_policy(p: &Pod) -> &str {
    p.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always")
}

fn running_state(at: Time) -> ContainerState {
    ContainerState { running: Some(ContainerStateRunning { started_at: Some(at.to_k8s()) }), ..Default::default() }
}

fn not_ready_message(p: &Pod) -> String {
    format!("containers with unready status: [{}]", container_names(p).join(" "))
}

/// The pod with its containers started but not yet ready.
pub(super) fn started(p: &Pod, now: Time, node: &NodeConfig) -> Pod {
    let mut out = p.clone();
    let uid = p.metadata.uid.clone().unwrap_or_default();
    let images: Vec<(String, String)> = p
        .spec
        .as_ref()
        .map(|s| s.containers.iter().map(|c| (c.name.clone(), c.image.clone().unwrap_or_default())).collect())
        .unwrap_or_default();
    let status = out.status.get_or_insert_with(Default::default);
    status.phase = Some("Running".into());
    status.start_time = Some(now.to_k8s());
    status.host_ip = Some(node_ip(&node.name));
    let pod_ip = pod_ip(&uid);
    status.pod_ip = Some(pod_ip.clone());
    status.pod_ips = Some(vec![PodIP { ip: pod_ip }]);
    status.container_statuses = Some(
        images
            .into_iter()
            .map(|(name, image)| ContainerStatus {
                container_id: Some(format!("{CONTAINER_ID_SCHEME}{uid}/{name}")),
                image_id: format!("{image}@sha256:simulated"),
                image,
                name,
                ready: false,
                restart_count: 0,
                started: Some(true),
                state: Some(running_state(now)),
                ..Default::default()
            })
            .collect(),
    );
    let message = not_ready_message(p);
    for (type_, ok) in
        [("PodReadyToStartContainers", true), ("Initialized", true), ("Ready", false), ("ContainersReady", false)]
    {
        let reason = if ok { "" } else { "ContainersNotReady" };
        let msg = if ok { "" } else { message.as_str() };
        pod::set_condition(&mut out, pod::new_condition(type_, ok, reason, msg), now);
    }
    out
}

/// The pod marked Ready, if the kubelet itself left it not ready after starting it (a Ready=False someone
/// else wrote is theirs to keep).
pub(super) fn made_ready(p: &Pod, now: Time) -> Option<Pod> {
    let ready = pod::condition(p, "Ready")?;
    if ready.status != "False"
        || ready.reason.as_deref() != Some("ContainersNotReady")
        || ready.message.as_deref() != Some(not_ready_message(p).as_str())
    {
        return None;
    }
    let mut out = p.clone();
    for c in out.status.as_mut()?.container_statuses.iter_mut().flatten() {
        c.ready = true;
    }
    pod::set_condition(&mut out, pod::new_condition("ContainersReady", true, "", ""), now);
    pod::set_condition(&mut out, pod::new_condition("Ready", true, "", ""), now);
    Some(out)
}

/// When the running containers exit, if they ever do.
pub(super) fn finishes_at(p: &Pod) -> Option<Time> {
    let run_seconds = annotation::<i64>(p, RUN_SECONDS_ANNOTATION)
        .or_else(|| (restart_policy(p) != "Always").then_some(DEFAULT_RUN_SECONDS))?;
    let started = p
        .status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .filter_map(|c| c.state.as_ref()?.running.as_ref()?.started_at.as_ref().map(Time::from_k8s))
        .max()?;
    Some(started.plus_seconds(run_seconds))
}

/// The pod after its containers exited with the annotated exit code: restarted where the restart policy
/// says so, otherwise Succeeded or Failed.
pub(super) fn finished(p: &Pod, now: Time) -> Pod {
    let exit_code = annotation::<i32>(p, EXIT_CODE_ANNOTATION).unwrap_or(0);
    let restart = match restart_policy(p) {
        "Always" => true,
        "OnFailure" => exit_code != 0,
        _ => false,
    };
    let mut out = p.clone();
    let status = out.status.get_or_insert_with(Default::default);
    for c in status.container_statuses.iter_mut().flatten() {
        let terminated = terminated_state(c, exit_code, now);
        if restart {
            c.restart_count += 1;
            c.last_state = Some(terminated);
            c.state = Some(running_state(now));
        } else {
            c.state = Some(terminated);
            c.ready = false;
            c.started = Some(false);
        }
    }
    if !restart {
        status.phase = Some(if exit_code == 0 { "Succeeded" } else { "Failed" }.into());
        pod::set_condition(&mut out, pod::new_condition("Ready", false, "PodCompleted", ""), now);
        pod::set_condition(&mut out, pod::new_condition("ContainersReady", false, "PodCompleted", ""), now);
    }
    out
}

/// The pod after a deletion stopped its containers: Failed, each container terminated with exit code 143.
pub(super) fn stopped(p: &Pod, now: Time) -> Pod {
    let mut out = p.clone();
    let status = out.status.get_or_insert_with(Default::default);
    for c in status.container_statuses.iter_mut().flatten() {
        c.state = Some(terminated_state(c, TERMINATED_EXIT_CODE, now));
        c.ready = false;
        c.started = Some(false);
    }
    status.phase = Some("Failed".into());
    pod::set_condition(&mut out, pod::new_condition("Ready", false, "PodCompleted", ""), now);
    pod::set_condition(&mut out, pod::new_condition("ContainersReady", false, "PodCompleted", ""), now);
    out
}

fn terminated_state(c: &ContainerStatus, exit_code: i32, now: Time) -> ContainerState {
    let started_at = c.state.as_ref().and_then(|s| s.running.as_ref()).and_then(|r| r.started_at.clone());
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code,
            reason: Some(if exit_code == 0 { "Completed" } else { "Error" }.into()),
            started_at,
            finished_at: Some(now.to_k8s()),
            container_id: c.container_id.clone(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A stable pod address in 10.244.0.0/16.
fn pod_ip(uid: &str) -> String {
    let h = uid.bytes().fold(7u32, |h, b| h.wrapping_mul(131).wrapping_add(u32::from(b)));
    format!("10.244.{}.{}", (h >> 8) % 256, h % 254 + 1)
}
