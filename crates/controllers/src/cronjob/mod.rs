//! The CronJob controller: creates a Job per scheduled time, in logical time.
//!
//! Jobs are named `<cronjob>-<scheduled time in minutes>`, so two attempts at one schedule collide.
//! A schedule missed by more than startingDeadlineSeconds is skipped; more than 100 missed schedules
//! start nothing. Forbid skips a run while a Job is active; Replace deletes the active Jobs first. Status
//! keeps the active Jobs, lastScheduleTime and lastSuccessfulTime; finished Jobs beyond the history limits
//! are deleted, oldest first.

mod properties;

pub use properties::properties;

use crate::common::owner;
use crate::framework::Timers;
use crate::framework::{ClusterView, Controller};
use crate::job::{condition, delete_in_background, finished_at};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use themelios_api::schedule::Schedule;
use themelios_api::{Kind, Op, Resource, Time};

/// The annotation recording the time a Job was scheduled for.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// The annotation kubectl puts on Jobs it creates from a CronJob by hand.
pub const INSTANTIATE: &str = "cronjob.kubernetes.io/instantiate";
/// More missed schedules than this start nothing.
pub const MAX_MISSED: usize = 100;

/// The CronJob controller.
#[derive(Clone, Debug, Default)]
pub struct CronJobController;

impl Controller for CronJobController {
    type Local = ();

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            reads: Some(&[themelios_api::Kind::CronJob, themelios_api::Kind::Job]),
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "cronjob-controller".into()
    }

    fn step(&self, view: &ClusterView, _: &mut (), timers: &mut Timers) -> Option<Op> {
        view.list::<CronJob>().find_map(|cj| sync(view, cj, timers))
    }
}

/// The name of the Job for a scheduled time.
pub fn job_name(cj: &CronJob, scheduled: Time) -> String {
    format!("{}-{}", cj.metadata.name.as_deref().unwrap_or(""), scheduled.0.div_euclid(60))
}

fn reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        field_path: None,
    }
}

fn sync(view: &ClusterView, cj: &CronJob, timers: &mut Timers) -> Option<Op> {
    let uid = cj.metadata.uid.clone()?;
    let namespace = cj.metadata.namespace.clone()?;
    let spec = cj.spec.as_ref()?;
    let now = view.now();
    let mut jobs: Vec<&Job> =
        view.list_in::<Job>(&namespace).filter(|j| owner::is_controlled_by(&j.metadata, &uid)).collect();
    jobs.sort_by_key(|j| (j.metadata.creation_timestamp.as_ref().map(Time::from_k8s), j.metadata.name.clone()));

    // Status: the unfinished Jobs are active; the latest success is remembered.
    let mut status = cj.status.clone().unwrap_or_default();
    let active: Vec<ObjectReference> = jobs.iter().filter(|j| finished_at(j).is_none()).map(|j| reference(j)).collect();
    let last_success = jobs.iter().filter(|j| condition(j, "Complete").is_some()).filter_map(|j| finished_at(j)).max();
    let recorded = status.last_successful_time.as_ref().map(Time::from_k8s);
    if last_success > recorded {
        status.last_successful_time = last_success.map(Time::to_k8s);
    }
    let names = |refs: &Option<Vec<ObjectReference>>| refs.iter().flatten().map(|r| r.name.clone()).collect::<Vec<_>>();
    status.active = (!active.is_empty()).then_some(active.clone());
    let schedule = Schedule::parse(&spec.schedule, spec.time_zone.as_deref()).ok();
    let due = schedule.as_ref().and_then(|s| due_time(cj, s, now, timers));
    if let Some(scheduled) = due {
        // A Job for this time exists already (we created it, or a previous attempt did): record it.
        if jobs.iter().any(|j| j.metadata.name.as_deref() == Some(job_name(cj, scheduled).as_str())) {
            let recorded = status.last_schedule_time.as_ref().map(Time::from_k8s);
            if recorded < Some(scheduled) {
                status.last_schedule_time = Some(scheduled.to_k8s());
            }
        }
    }
    if cj.status.as_ref().map(|s| (names(&s.active), s.last_schedule_time.clone(), s.last_successful_time.clone()))
        != Some((names(&status.active), status.last_schedule_time.clone(), status.last_successful_time.clone()))
    {
        let mut updated = cj.clone();
        updated.status = Some(status);
        return Some(Op::UpdateStatus(updated.into_object()));
    }
    if cj.metadata.deletion_timestamp.is_some() {
        return None;
    }
    if let Some(op) = cleanup_history(cj, &jobs) {
        return Some(op);
    }
    if spec.suspend == Some(true) {
        return None;
    }
    let scheduled = due?;
    if jobs.iter().any(|j| j.metadata.name.as_deref() == Some(job_name(cj, scheduled).as_str())) {
        return None;
    }
    match spec.concurrency_policy.as_deref().unwrap_or("Allow") {
        "Forbid" if !active.is_empty() => return None,
        "Replace" => {
            if let Some(running) = jobs.iter().find(|j| finished_at(j).is_none()) {
                return Some(delete_in_background(running));
            }
        }
        _ => {}
    }
    Some(Op::Create(new_job(cj, scheduled).into_object()))
}

/// The scheduled time a Job is due for now, if any; asks to be woken at the next one.
fn due_time(cj: &CronJob, schedule: &Schedule, now: Time, timers: &mut Timers) -> Option<Time> {
    let spec = cj.spec.as_ref()?;
    if let Some(next) = schedule.next_after(now) {
        timers.wake_at(next);
    }
    let created = cj.metadata.creation_timestamp.as_ref().map(Time::from_k8s).unwrap_or(now);
    let mut earliest =
        cj.status.as_ref().and_then(|s| s.last_schedule_time.as_ref()).map(Time::from_k8s).unwrap_or(created);
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
