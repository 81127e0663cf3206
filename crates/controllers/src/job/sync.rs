//! One sync of a Job: account for finished pods, decide the outcome, stop or create pods, write status.
//!
//! Accounting is the upstream finalizer protocol: a finished pod (or one deleted by someone else) still
//! carrying the tracking finalizer is first recorded in `status.uncountedTerminatedPods`, then loses the
//! finalizer, then moves into the counters — so it is counted exactly once even across controller
//! restarts. Pods the controller stops itself lose the finalizer before they are deleted and are not
//! counted. A Job gets Failed or Complete only once every pod is terminal; until then it shows
//! FailureTarget or SuccessCriteriaMet.

use super::indexes::{
    format_intervals, index_of, parse_intervals, prior_failures, COMPLETION_INDEX, INDEX_FAILURE_COUNT,
};
use super::policy::{self, Action};
use super::Local;
use crate::common::owner;
use crate::common::template::{pod_from_template, PodName};
use crate::framework::Timers;
use crate::framework::{status_update, ClusterView};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use std::collections::{BTreeMap, BTreeSet};
use themelios_api::{pod as podutil, Kind, ObjectRef, Op, Resource, Time};

/// The finalizer that keeps a Job's pods until they are counted.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// The environment variable an Indexed Job's containers read their index from.
pub const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// The `spec.managedBy` value of the built-in controller.
pub const MANAGED_BY: &str = "kubernetes.io/job-controller";
/// The first retry delay after a failure, doubled per consecutive failure.
pub const BACKOFF_SECONDS: i64 = 10;
/// The longest retry delay.
pub const MAX_BACKOFF_SECONDS: i64 = 360;

fn has_tracking(pod: &Pod) -> bool {
    pod.metadata.finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER)
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

/// The container restarts of a Job whose pods restart OnFailure: every restart so far of a pod still
/// Pending or Running, init containers included (0 under any other restart policy). A pod that fails in
/// place never reaches the failed count, so this is how its retries meet the backoff limit.
fn restarts_on_failure(job: &Job, pods: &[&Pod]) -> i32 {
    let policy = job.spec.as_ref().and_then(|s| s.template.spec.as_ref()?.restart_policy.as_deref());
    if policy != Some("OnFailure") {
        return 0;
    }
    let unfinished = pods.iter().filter(|p| matches!(podutil::phase(p), "Pending" | "Running"));
    let statuses = unfinished
        .filter_map(|p| p.status.as_ref())
        .flat_map(|s| s.init_container_statuses.iter().flatten().chain(s.container_statuses.iter().flatten()));
    statuses.map(|c| c.restart_count).fold(0, i32::saturating_add)
}

/// Whether a pod has finished for the Job: terminal, or deleted before finishing (counted as failed).
fn finished(pod: &Pod) -> Option<bool> {
    match podutil::phase(pod) {
        "Succeeded" => Some(true),
        "Failed" => Some(false),
        _ if podutil::is_deleting(pod) => Some(false),
        _ => None,
    }
}

/// A condition of the Job with status True.
pub fn condition<'a>(job: &'a Job, type_: &str) -> Option<&'a JobCondition> {
    job.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_ && c.status == "True")
}

/// When a finished Job finished: its completionTime, else when its terminal condition was set.
pub fn finished_at(job: &Job) -> Option<Time> {
    let done = condition(job, "Complete").or_else(|| condition(job, "Failed"))?;
    job.status
        .as_ref()
        .and_then(|s| s.completion_time.as_ref())
        .or(done.last_transition_time.as_ref())
        .map(Time::from_k8s)
}

/// A delete of the Job with background propagation (its pods go through the garbage collector), guarded
/// by its uid.
pub fn delete_in_background(job: &Job) -> Op {
    Op::Delete {
        target: ObjectRef::new(
            Kind::Job,
            job.metadata.namespace.clone().unwrap_or_default(),
            job.metadata.name.clone().unwrap_or_default(),
        ),
        options: themelios_api::DeleteOptions {
            propagation: Some(themelios_api::Propagation::Background),
            uid: job.metadata.uid.clone(),
            ..Default::default()
        },
    }
}

/// Whether the Job has a terminal condition (Complete or Failed).
pub fn is_finished(job: &Job) -> bool {
    condition(job, "Complete").is_some() || condition(job, "Failed").is_some()
}

fn set_condition(status: &mut JobStatus, type_: &str, value: bool, reason: &str, message: &str, now: Time) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let value = if value { "True" } else { "False" };
    if let Some(c) = conditions.iter_mut().find(|c| c.type_ == type_) {
        if c.status != value || c.reason.as_deref() != Some(reason) {
            c.status = value.into();
            c.reason = Some(reason.into());
            c.message = Some(message.into());
            c.last_transition_time = Some(now.to_k8s());
            c.last_probe_time = Some(now.to_k8s());
        }
        return;
    }
    conditions.push(JobCondition {
        type_: type_.into(),
        status: value.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(now.to_k8s()),
        last_transition_time: Some(now.to_k8s()),
    });
}

/// The outcome a Job is heading for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Fail { reason: String, message: String },
    Succeed { reason: String, message: String },
}

/// The first write a Job needs.
pub fn sync(view: &ClusterView, job: &Job, local: &mut Local, timers: &mut Timers) -> Option<Op> {
    let job_uid = job.metadata.uid.clone()?;
    let namespace = job.metadata.namespace.clone()?;
    let spec = job.spec.as_ref()?;
    let now = view.now();
    let pods: Vec<&Pod> =
        view.list_in::<Pod>(&namespace).filter(|p| owner::is_controlled_by(&p.metadata, &job_uid)).collect();
    local.removed.retain(|u| pods.iter().any(|p| uid(p) == *u && has_tracking(p)));
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let completions = spec.completions;
    let old = job.status.clone().unwrap_or_default();
    let uncounted = old.uncounted_terminated_pods.clone().unwrap_or_default();
    let (mut u_succeeded, mut u_failed): (BTreeSet<String>, BTreeSet<String>) = (
        uncounted.succeeded.clone().unwrap_or_default().into_iter().collect(),
        uncounted.failed.clone().unwrap_or_default().into_iter().collect(),
    );
    let persisted: BTreeSet<String> = u_succeeded.union(&u_failed).cloned().collect();
    let mut succeeded = old.succeeded.unwrap_or(0);
    let mut failed = old.failed.unwrap_or(0);
    let mut completed = parse_intervals(old.completed_indexes.as_deref().unwrap_or(""));
    let mut failed_indexes = parse_intervals(old.failed_indexes.as_deref().unwrap_or(""));
    let per_index_limit = spec.backoff_limit_per_index;

    // Accounting: newly finished pods join the uncounted lists; ones whose finalizer is gone are counted.
    let mut fail_job: Option<String> = condition(job, "FailureTarget").and_then(|c| c.message.clone());
    let mut ignored: Vec<&Pod> = Vec::new();
    for pod in pods.iter().filter(|p| has_tracking(p) && !local.removed.contains(&uid(p))) {
        let id = uid(pod);
        if persisted.contains(&id) || u_succeeded.contains(&id) || u_failed.contains(&id) {
            continue;
        }
        let Some(ok) = finished(pod) else { continue };
        if ok {
            if let Some(i) = index_of(pod).filter(|_| indexed) {
                completed.insert(i);
            }
            u_succeeded.insert(id);
            continue;
        }
        let action = if podutil::phase(pod) == "Failed" { policy::on_failure(job, pod) } else { None };
        match action {
            Some(Action::Ignore) => {
                ignored.push(pod);
                continue;
            }
            Some(Action::FailJob(message)) => {
                fail_job.get_or_insert(message);
            }
            Some(Action::FailIndex) => {
                if let Some(i) = index_of(pod) {
                    failed_indexes.insert(i);
                }
            }
            Some(Action::Count) | None => {
                if let (Some(limit), Some(i)) = (per_index_limit, index_of(pod)) {
                    if prior_failures(pod) + 1 > limit {
                        failed_indexes.insert(i);
                    }
                }
            }
        }
        u_failed.insert(id);
    }
    let alive = |id: &String| pods.iter().any(|p| uid(p) == *id && has_tracking(p) && !local.removed.contains(id));
    for id in persisted.iter().filter(|id| !alive(id)) {
        if u_succeeded.remove(id) {
            succeeded += 1;
        }
        if u_failed.remove(id) {
            failed += 1;
        }
    }
    if indexed {
        completed.retain(|i| completions.is_none_or(|c| *i < c));
        succeeded = completed.len() as i32;
    }
    let succeeded_total = if indexed { succeeded } else { succeeded + u_succeeded.len() as i32 };
    let failed_total = failed + u_failed.len() as i32;

    let active: Vec<&Pod> = pods.iter().copied().filter(|p| podutil::is_active(p)).collect();
    let terminating = pods.iter().filter(|p| podutil::is_deleting(p) && !podutil::is_terminal(p)).count() as i32;

    // The outcome.
    let mut target = condition(job, "FailureTarget")
        .map(|c| Target::Fail {
            reason: c.reason.clone().unwrap_or_default(),
            message: c.message.clone().unwrap_or_default(),
        })
        .or_else(|| {
            condition(job, "SuccessCriteriaMet").map(|c| Target::Succeed {
                reason: c.reason.clone().unwrap_or_default(),
                message: c.message.clone().unwrap_or_default(),
            })
        });
    let suspended = spec.suspend == Some(true);
    let start_time = if suspended { None } else { old.start_time.as_ref().map(Time::from_k8s).or(Some(now)) };
    if target.is_none() && !is_finished(job) {
        target = decide(
            job,
            fail_job,
            failed_total,
            succeeded_total,
            active.len() as i32,
            restarts_on_failure(job, &pods),
            &completed,
            &failed_indexes,
            start_time,
            view,
            timers,
        );
    }

    // The status this sync arrives at.
    let mut status = old.clone();
    status.succeeded = Some(succeeded);
    status.failed = Some(failed);
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods {
        succeeded: Some(u_succeeded.iter().cloned().collect()),
        failed: Some(u_failed.iter().cloned().collect()),
    });
    status.completed_indexes = indexed.then(|| format_intervals(&completed));
    status.failed_indexes = per_index_limit.map(|_| format_intervals(&failed_indexes));
    status.active = Some(active.len() as i32);
    status.ready = Some(active.iter().filter(|p| podutil::is_ready(p)).count() as i32);
    status.terminating = Some(terminating);
    status.start_time = if is_finished(job) { old.start_time.clone() } else { start_time.map(Time::to_k8s) };
    if suspended {
        set_condition(&mut status, "Suspended", true, "JobSuspended", "Job suspended", now);
    } else if old.conditions.iter().flatten().any(|c| c.type_ == "Suspended" && c.status == "True") {
        set_condition(&mut status, "Suspended", false, "JobResumed", "Job resumed", now);
    }
    let all_stopped = active.is_empty() && terminating == 0 && u_succeeded.is_empty() && u_failed.is_empty();
    match &target {
        Some(Target::Fail { reason, message }) => {
            set_condition(&mut status, "FailureTarget", true, reason, message, now);
            if all_stopped {
                set_condition(&mut status, "Failed", true, reason, message, now);
            }
        }
        Some(Target::Succeed { reason, message }) => {
            set_condition(&mut status, "SuccessCriteriaMet", true, reason, message, now);
            if all_stopped {
                set_condition(&mut status, "Complete", true, reason, message, now);
                status.completion_time.get_or_insert_with(|| now.to_k8s());
            }
        }
        None => {}
    }
    if let Some(op) = status_update(job, |job| job.status = Some(status)) {
        return Some(op);
    }

    // Finalizers of counted (and ignored) pods. With backoffLimitPerIndex a failed pod is kept until its
    // index has a replacement, which inherits its failure count from it (upstream's delayed deletion).
    let replaced = |pod: &Pod| {
        let index = index_of(pod);
        let created = pod.metadata.creation_timestamp.as_ref().map(Time::from_k8s);
        pods.iter().any(|q| {
            index_of(q) == index
                && uid(q) != uid(pod)
                && q.metadata.creation_timestamp.as_ref().map(Time::from_k8s) >= created
                && finished(q).is_none()
        })
    };
    let delay_release = |pod: &Pod| {
        per_index_limit.is_some()
            && target.is_none()
            && finished(pod) == Some(false)
            && index_of(pod).is_some_and(|i| !failed_indexes.contains(&i))
            && !replaced(pod)
    };
    if let Some(pod) =
        pods.iter().find(|p| has_tracking(p) && persisted.contains(&uid(p)) && !delay_release(p)).or(ignored.first())
    {
        return Some(remove_finalizer(pod, local));
    }
    if is_finished(job) || job.metadata.deletion_timestamp.is_some() {
        // A finished or deleted Job keeps no pod tracked.
        return pods
            .iter()
            .find(|p| {
                has_tracking(p) && podutil::is_terminal(p)
                    || has_tracking(p) && job.metadata.deletion_timestamp.is_some()
            })
            .map(|p| remove_finalizer(p, local));
    }
    // Stop what must stop: everything when finishing or suspended.
    if target.is_some() || suspended {
        return active.first().map(|p| stop(p, local));
    }
    manage(view, job, &active, &pods, succeeded_total, &completed, &failed_indexes, local, timers)
}

#[allow(clippy::too_many_arguments)]
fn decide(
    job: &Job,
    fail_job: Option<String>,
    failed_total: i32,
    succeeded_total: i32,
    active: i32,
    restarts: i32,
    completed: &BTreeSet<i32>,
    failed_indexes: &BTreeSet<i32>,
    start_time: Option<Time>,
    view: &ClusterView,
    timers: &mut Timers,
) -> Option<Target> {
    let spec = job.spec.as_ref()?;
    let fail = |reason: &str, message: &str| Some(Target::Fail { reason: reason.into(), message: message.into() });
    if let Some(message) = fail_job {
        return fail("PodFailurePolicy", &message);
    }
    let backoff_limit = spec.backoff_limit.unwrap_or(6);
    // Restarts in place count as retries too, and reaching the limit is enough (failures must exceed it).
    let restarted_out = if backoff_limit == 0 { restarts > 0 } else { restarts >= backoff_limit };
    if failed_total > backoff_limit || restarted_out {
        return fail("BackoffLimitExceeded", "Job has reached the specified backoff limit");
    }
    if let (Some(deadline), Some(start)) = (spec.active_deadline_seconds, start_time) {
        if view.now().seconds_since(start) >= deadline {
            return fail("DeadlineExceeded", "Job was active longer than specified deadline");
        }
        timers.wake_at(start.plus_seconds(deadline));
    }
    if let Some(max) = spec.max_failed_indexes {
        if failed_indexes.len() as i32 > max {
            return fail("MaxFailedIndexesExceeded", "Job has exceeded the specified maximal number of failed indexes");
        }
    }
    let succeed =
        |reason: &str, message: &str| Some(Target::Succeed { reason: reason.into(), message: message.into() });
    if spec.completion_mode.as_deref() == Some("Indexed") {
        let n = spec.completions.unwrap_or(0);
        if policy::success_policy_met(job, completed) {
            return succeed("SuccessPolicy", "Matched rules at index 0");
        }
        if (0..n).all(|i| completed.contains(&i) || failed_indexes.contains(&i)) {
            if !failed_indexes.is_empty() {
                return fail("FailedIndexes", "Job has failed indexes");
            }
            return succeed("CompletionsReached", "Reached expected number of succeeded pods");
        }
        return None;
    }
    match spec.completions {
        Some(n) if succeeded_total >= n => succeed("CompletionsReached", "Reached expected number of succeeded pods"),
        None if succeeded_total > 0 && active == 0 => {
            succeed("CompletionsReached", "Reached expected number of succeeded pods")
        }
        _ => None,
    }
}

fn remove_finalizer(pod: &Pod, local: &mut Local) -> Op {
    let mut updated = pod.clone();
    if let Some(f) = updated.metadata.finalizers.as_mut() {
        f.retain(|x| x != TRACKING_FINALIZER);
    }
    local.pending_removal = Some(uid(pod));
    Op::Update(updated.into_object())
}

/// Stops a pod the controller no longer wants: its finalizer goes first, so it is not counted.
fn stop(pod: &Pod, local: &mut Local) -> Op {
    if has_tracking(pod) {
        return remove_finalizer(pod, local);
    }
    Op::delete(ObjectRef::new(
        Kind::Pod,
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
    ))
}

/// When the pod finished (its containers' latest finish, else its deletion).
fn finish_time(pod: &Pod) -> Option<Time> {
    let status = pod.status.as_ref();
    status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref().map(Time::from_k8s))
        .max()
        .or_else(|| pod.metadata.deletion_timestamp.as_ref().map(Time::from_k8s))
}

/// When new pods may be created: consecutive failures since the last success delay them exponentially.
fn backoff_until(pods: &[&Pod]) -> Option<Time> {
    let mut done: Vec<(Time, bool)> = pods.iter().filter_map(|p| Some((finish_time(p)?, finished(p)?))).collect();
    done.sort();
    let after_success: Vec<Time> = done.iter().rev().take_while(|(_, ok)| !ok).map(|(t, _)| *t).collect();
    let last = *after_success.first()?;
    let n = after_success.len() as u32;
    let delay = (BACKOFF_SECONDS.saturating_mul(1i64.checked_shl(n - 1).unwrap_or(i64::MAX))).min(MAX_BACKOFF_SECONDS);
    Some(last.plus_seconds(delay))
}

#[allow(clippy::too_many_arguments)]
fn manage(
    view: &ClusterView,
    job: &Job,
    active: &[&Pod],
    pods: &[&Pod],
    succeeded_total: i32,
    completed: &BTreeSet<i32>,
    failed_indexes: &BTreeSet<i32>,
    local: &mut Local,
    timers: &mut Timers,
) -> Option<Op> {
    let spec = job.spec.as_ref()?;
    let job_uid = job.metadata.uid.clone()?;
    let now = view.now();
    if let Some(exp) = local.expectations.get_mut(&job_uid) {
        exp.observe(
            |name| pods.iter().any(|p| p.metadata.name.as_deref() == Some(name)),
            |u| active.iter().any(|p| uid(p) == u),
        );
        if !exp.satisfied(now) {
            return None;
        }
    }
    let parallelism = spec.parallelism.unwrap_or(1);
    let replace_only_failed = spec.pod_replacement_policy.as_deref() == Some("Failed")
        || spec.pod_replacement_policy.is_none() && spec.pod_failure_policy.is_some();
    let terminating = pods.iter().filter(|p| podutil::is_deleting(p) && !podutil::is_terminal(p)).count() as i32;
    let occupied = active.len() as i32 + if replace_only_failed { terminating } else { 0 };
    let mut create_at = |index: Option<i32>| -> bool {
        let relevant: Vec<&Pod> = pods.iter().copied().filter(|p| index.is_none() || index_of(p) == index).collect();
        match backoff_until(&relevant) {
            Some(at) if at > now => {
                timers.wake_at(at);
                false
            }
            _ => true,
        }
    };

    if spec.completion_mode.as_deref() == Some("Indexed") {
        let n = spec.completions.unwrap_or(0);
        let mut by_index: BTreeMap<i32, Vec<&Pod>> = BTreeMap::new();
        for p in active {
            by_index.entry(index_of(p).unwrap_or(-1)).or_default().push(p);
        }
        // Duplicates and pods outside the range (or of finished indexes) go.
        for (index, group) in &by_index {
            let out_of_range = *index < 0 || *index >= n || completed.contains(index) || failed_indexes.contains(index);
            let surplus = if out_of_range { group.len() } else { group.len().saturating_sub(1) };
            if let Some(p) = group.iter().rev().take(surplus).next() {
                return Some(stop(p, local));
            }
        }
        let busy: BTreeSet<i32> = by_index.keys().copied().collect();
        let waiting: BTreeSet<i32> = if replace_only_failed {
            pods.iter()
                .filter(|p| podutil::is_deleting(p) && !podutil::is_terminal(p))
                .filter_map(|p| index_of(p))
                .collect()
        } else {
            BTreeSet::new()
        };
        if occupied >= parallelism {
            return None;
        }
        let next = (0..n).find(|i| {
            !completed.contains(i)
                && !failed_indexes.contains(i)
                && !busy.contains(i)
                && !waiting.contains(i)
                && create_at(Some(*i))
        })?;
        let failures = pods
            .iter()
            .filter(|p| index_of(p) == Some(next) && finished(p) == Some(false))
            .map(|p| prior_failures(p) + 1)
            .max()
            .unwrap_or(0);
        return Some(create(job, Some(next), failures, local));
    }

    let want = match spec.completions {
        None if succeeded_total > 0 => return None,
        None => parallelism,
        Some(c) => parallelism.min(c - succeeded_total).max(0),
    };
    if active.len() as i32 > want {
        // Not-ready and newer pods go first.
        let mut ranked: Vec<&Pod> = active.to_vec();
        ranked.sort_by_key(|p| {
            (podutil::is_ready(p), std::cmp::Reverse(p.metadata.creation_timestamp.as_ref().map(Time::from_k8s)))
        });
        return ranked.first().map(|p| stop(p, local));
    }
    if occupied < want && create_at(None) {
        return Some(create(job, None, 0, local));
    }
    None
}

fn create(job: &Job, index: Option<i32>, failures: i32, local: &mut Local) -> Op {
    let spec = job.spec.clone().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    let prefix = match index {
        Some(i) => format!("{name}-{i}-"),
        None => format!("{name}-"),
    };
    let mut pod = pod_from_template(
        &spec.template,
        job.metadata.namespace.as_deref().unwrap_or(""),
        owner::controller_ref(Kind::Job, &job.metadata),
        PodName::Generate(&prefix),
    );
    pod.metadata.finalizers.get_or_insert_with(Vec::new).push(TRACKING_FINALIZER.into());
    if let Some(i) = index {
        pod.metadata.annotations.get_or_insert_with(BTreeMap::new).insert(COMPLETION_INDEX.into(), i.to_string());
        pod.metadata.labels.get_or_insert_with(BTreeMap::new).insert(COMPLETION_INDEX.into(), i.to_string());
        if let Some(pod_spec) = pod.spec.as_mut() {
            pod_spec.hostname = Some(format!("{name}-{i}"));
            // Upstream hands every container its index through the downward API.
            for container in pod_spec.init_containers.iter_mut().flatten().chain(pod_spec.containers.iter_mut()) {
                let env = container.env.get_or_insert_with(Vec::new);
                if !env.iter().any(|e| e.name == COMPLETION_INDEX_ENV) {
                    env.push(EnvVar {
                        name: COMPLETION_INDEX_ENV.into(),
                        value_from: Some(EnvVarSource {
                            field_ref: Some(ObjectFieldSelector {
                                field_path: format!("metadata.labels['{COMPLETION_INDEX}']"),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    });
                }
            }
        }
        if spec.backoff_limit_per_index.is_some() {
            pod.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(INDEX_FAILURE_COUNT.into(), failures.to_string());
        }
    }
    if let Some(job_uid) = job.metadata.uid.clone() {
        local.pending_create = Some(job_uid);
    }
    Op::Create(pod.into_object())
}
