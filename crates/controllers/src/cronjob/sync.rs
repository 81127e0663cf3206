//! One sync of one CronJob, in upstream's order: reconcile `status.active` with the Jobs, start the Job
//! due (or replace the running ones), delete finished Jobs beyond the history limits, write status.

use super::{Asked, JobRef, Local, Started, MAX_MISSED, SCHEDULED_TIMESTAMP};
use crate::common::owner;
use crate::framework::{ClusterView, Timers};
use crate::job::{condition, delete_in_background, finished_at};
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use themelios_api::schedule::Schedule;
use themelios_api::{Kind, ObjectRef, Op, Resource, Time};

/// The name of the Job for a scheduled time.
pub fn job_name(cj: &CronJob, scheduled: Time) -> String {
    format!("{}-{}", cj.metadata.name.as_deref().unwrap_or(""), scheduled.0.div_euclid(60))
}

pub(super) fn job_ref(job: &Job) -> JobRef {
    JobRef {
        name: job.metadata.name.clone().unwrap_or_default(),
        uid: job.metadata.uid.clone().unwrap_or_default(),
        resource_version: job.metadata.resource_version.clone().unwrap_or_default(),
    }
}

fn reference(job: &JobRef, namespace: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: Some(job.name.clone()),
        namespace: Some(namespace.to_string()),
        uid: Some(job.uid.clone()),
        resource_version: Some(job.resource_version.clone()),
        field_path: None,
    }
}

/// The CronJob this controller works from: its cached version, or a live read of it that is newer.
pub(super) fn effective(cached: &CronJob, local: &Local) -> CronJob {
    let version = |c: &CronJob| c.metadata.resource_version.as_deref().and_then(|v| v.parse::<u64>().ok());
    cached
        .metadata
        .uid
        .as_ref()
        .and_then(|uid| local.fresh.get(uid))
        .and_then(|fresh| CronJob::from_object(fresh.object()))
        .filter(|fresh| version(fresh) > version(cached))
        .unwrap_or(cached)
        .clone()
}

/// The next request one sync of `cached` needs, and what it is for.
pub(super) fn sync(view: &ClusterView, cached: &CronJob, local: &Local, timers: &mut Timers) -> Option<(Op, Asked)> {
    let cj = effective(cached, local);
    let uid = cj.metadata.uid.clone()?;
    let namespace = cj.metadata.namespace.clone()?;
    let name = cj.metadata.name.clone()?;
    let spec = cj.spec.as_ref()?;
    if let Some((_, scheduled)) = local.collided.as_ref().filter(|(c, _)| *c == uid) {
        let target = ObjectRef::new(Kind::Job, namespace, job_name(&cj, *scheduled));
        return Some((Op::Get(target), Asked::JobByName { cron_job: uid, scheduled: *scheduled }));
    }
    let mut jobs: Vec<&Job> =
        view.list_in::<Job>(&namespace).filter(|j| owner::is_controlled_by(&j.metadata, &uid)).collect();
    jobs.sort_by_key(|j| (j.metadata.creation_timestamp.as_ref().map(Time::from_k8s), j.metadata.name.clone()));

    // status.active, as this sync leaves it: what it started, less the Jobs seen finished or gone.
    let mut status: CronJobStatus = cj.status.clone().unwrap_or_default();
    let mut active: Vec<ObjectReference> = status.active.clone().unwrap_or_default();
    let started: Option<&Started> = local.started.as_ref().filter(|s| s.cron_job == uid);
    if let Some(s) = started {
        if !active.iter().any(|r| r.uid.as_deref() == Some(s.job.uid.as_str())) {
            active.push(reference(&s.job, &namespace));
        }
        status.last_schedule_time = Some(s.scheduled.to_k8s());
    }
    let listed = |active: &[ObjectReference], job_uid: &str| active.iter().any(|r| r.uid.as_deref() == Some(job_uid));
    for job in &jobs {
        let job_uid = job.metadata.uid.as_deref().unwrap_or("");
        let finished = finished_at(job).is_some();
        if !listed(&active, job_uid) && !finished && !local.fresh.contains_key(&uid) {
            // A running Job the status does not list: read the CronJob live, in case the cache lags behind
            // this controller's own status write. If the live copy does not list it either, it stays
            // unlisted (upstream's UnexpectedJob).
            let target = ObjectRef::new(Kind::CronJob, namespace, name);
            return Some((Op::Get(target), Asked::Fresh { cron_job: uid }));
        }
        if listed(&active, job_uid) && finished {
            active.retain(|r| r.uid.as_deref() != Some(job_uid));
        }
    }
    let last_success = jobs.iter().filter(|j| condition(j, "Complete").is_some()).filter_map(|j| finished_at(j)).max();
    if last_success > status.last_successful_time.as_ref().map(Time::from_k8s) {
        status.last_successful_time = last_success.map(Time::to_k8s);
    }
    // Listed Jobs the Job cache does not show are read live before they leave the list; Jobs this
    // controller deleted (Replace) or found gone leave it at once.
    for r in active.clone() {
        let job_uid = r.uid.clone().unwrap_or_default();
        if started.is_some_and(|s| s.job.uid == job_uid) {
            // Its own create's response: nothing to confirm.
            continue;
        }
        match local.looked_up.get(&job_uid) {
            Some(false) => active.retain(|a| a.uid.as_deref() != Some(job_uid.as_str())),
            Some(true) => {}
            None if jobs.iter().any(|j| j.metadata.uid.as_deref() == Some(job_uid.as_str())) => {}
            None => {
                let target = ObjectRef::new(Kind::Job, namespace, r.name.clone().unwrap_or_default());
                return Some((Op::Get(target), Asked::ActiveJob { uid: job_uid }));
            }
        }
    }
    status.active = (!active.is_empty()).then_some(active);

    let idle = cj.metadata.deletion_timestamp.is_some() || spec.suspend == Some(true);
    if !idle && started.is_none() {
        if let Some(next) = start_due(&cj, &status, timers, view.now()) {
            return Some(next);
        }
    }
    if cj.metadata.deletion_timestamp.is_none() {
        if let Some(op) = cleanup_history(&cj, &jobs) {
            return Some((op, Asked::Write { cron_job: uid }));
        }
    }
    let names = |s: &CronJobStatus| s.active.iter().flatten().map(|r| r.uid.clone()).collect::<Vec<_>>();
    let old = cj.status.clone().unwrap_or_default();
    let changed = (names(&old), &old.last_schedule_time, &old.last_successful_time)
        != (names(&status), &status.last_schedule_time, &status.last_successful_time);
    if changed {
        let mut updated = cj.clone();
        updated.status = Some(status);
        return Some((Op::UpdateStatus(updated.into_object()), Asked::Status { cron_job: uid }));
    }
    None
}

/// The Job due now, if one is: its create, or first the deletes Replace needs.
fn start_due(cj: &CronJob, status: &CronJobStatus, timers: &mut Timers, now: Time) -> Option<(Op, Asked)> {
    let spec = cj.spec.as_ref()?;
    let uid = cj.metadata.uid.clone()?;
    let schedule = Schedule::parse(&spec.schedule, spec.time_zone.as_deref()).ok()?;
    let last = status.last_schedule_time.as_ref().map(Time::from_k8s);
    let scheduled = due_time(cj, last, &schedule, now, timers)?;
    let active = status.active.clone().unwrap_or_default();
    let name = job_name(cj, scheduled);
    if active.iter().any(|r| r.name.as_deref() == Some(name.as_str())) || last == Some(scheduled) {
        return None;
    }
    match spec.concurrency_policy.as_deref().unwrap_or("Allow") {
        // From status.active: a running Job the status does not list does not stop the next one.
        "Forbid" if !active.is_empty() => return None,
        "Replace" => {
            if let Some(running) = active.first() {
                let target = ObjectRef::new(
                    Kind::Job,
                    cj.metadata.namespace.clone().unwrap_or_default(),
                    running.name.clone().unwrap_or_default(),
                );
                let op = Op::Delete {
                    target,
                    options: themelios_api::DeleteOptions {
                        propagation: Some(themelios_api::Propagation::Background),
                        uid: running.uid.clone(),
                        ..Default::default()
                    },
                };
                return Some((op, Asked::Replaced { cron_job: uid, uid: running.uid.clone().unwrap_or_default() }));
            }
        }
        _ => {}
    }
    Some((Op::Create(new_job(cj, scheduled).into_object()), Asked::Create { cron_job: uid, scheduled }))
}

/// The scheduled time a Job is due for now, if any; asks to be woken at the next one.
fn due_time(cj: &CronJob, last: Option<Time>, schedule: &Schedule, now: Time, timers: &mut Timers) -> Option<Time> {
    let spec = cj.spec.as_ref()?;
    if let Some(next) = schedule.next_after(now) {
        timers.wake_at(next);
    }
    let created = cj.metadata.creation_timestamp.as_ref().map(Time::from_k8s).unwrap_or(now);
    let mut earliest = last.unwrap_or(created);
    if let Some(deadline) = spec.starting_deadline_seconds {
        earliest = earliest.max(now.plus_seconds(-deadline));
    }
    let (missed, latest) = schedule.missed(earliest, now, MAX_MISSED + 1);
    if missed > MAX_MISSED {
        // Too many missed start times: upstream logs an error and starts nothing.
        return None;
    }
    let latest = latest?;
    if spec.starting_deadline_seconds.is_some_and(|d| latest.plus_seconds(d) < now) {
        return None;
    }
    Some(latest)
}

fn new_job(cj: &CronJob, scheduled: Time) -> Job {
    let template = cj.spec.as_ref().map(|s| s.job_template.clone()).unwrap_or_default();
    let tmeta = template.metadata.unwrap_or_default();
    let mut annotations = tmeta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP.into(), scheduled.to_string());
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(cj, scheduled)),
            namespace: cj.metadata.namespace.clone(),
            labels: tmeta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![owner::controller_ref(Kind::CronJob, &cj.metadata)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// Deletes the oldest finished Jobs beyond the history limits.
fn cleanup_history(cj: &CronJob, jobs: &[&Job]) -> Option<Op> {
    let spec = cj.spec.as_ref()?;
    let limits = BTreeMap::from([
        ("Complete", spec.successful_jobs_history_limit.unwrap_or(3)),
        ("Failed", spec.failed_jobs_history_limit.unwrap_or(1)),
    ]);
    for (kind, limit) in limits {
        let mut done: Vec<&&Job> =
            jobs.iter().filter(|j| condition(j, kind).is_some() && j.metadata.deletion_timestamp.is_none()).collect();
        done.sort_by_key(|j| (finished_at(j), j.metadata.name.clone()));
        let excess = done.len().saturating_sub(limit.max(0) as usize);
        if let Some(oldest) = done.into_iter().take(excess).next() {
            return Some(delete_in_background(oldest));
        }
    }
    None
}
