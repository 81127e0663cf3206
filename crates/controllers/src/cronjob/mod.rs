//! The CronJob controller: creates a Job per scheduled time, in logical time.
//!
//! As upstream's, it keeps track of its Jobs in `status.active`, written by the controller itself: a Job
//! it created is added there (with `lastScheduleTime`) by the status write that ends the same sync, and
//! a running Job that the status does not list is left alone (upstream's "UnexpectedJob": what a crash
//! between the create and that status write leaves behind). Forbid decides from `status.active`, so such a
//! Job runs beside the next scheduled one — the race upstream's code comment on Forbid admits (PR
//! #93370). An unlisted running Job makes the controller read the CronJob live once, in case its cache
//! lags behind its own status write; an active Job missing from the Job cache is read live before it
//! leaves the list. Jobs are named `<cronjob>-<scheduled time in minutes>`, so two attempts at one
//! schedule collide: AlreadyExists leads to a live read of that Job, which is recorded if this CronJob
//! controls it. A schedule missed by more than startingDeadlineSeconds is skipped; more than 100 missed
//! schedules start nothing. Replace deletes the active Jobs first. Finished Jobs beyond the history limits
//! are deleted, oldest first. Failed requests back off per CronJob, as upstream's rate-limited queue.

mod properties;
mod sync;

pub use properties::properties;
pub use sync::job_name;

use crate::common::backoff::Retries;
use crate::framework::Timers;
use crate::framework::{ClusterView, Controller, Outcome};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use std::collections::BTreeMap;
use std::sync::Arc;
use themelios_api::{Op, Reason, Resource, StoredObject, Time};

/// The annotation recording the time a Job was scheduled for.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// The annotation kubectl puts on Jobs it creates from a CronJob by hand.
pub const INSTANTIATE: &str = "cronjob.kubernetes.io/instantiate";
/// More missed schedules than this start nothing.
pub const MAX_MISSED: usize = 100;

/// The CronJob controller.
#[derive(Clone, Debug, Default)]
pub struct CronJobController;

/// A Job, as `status.active` refers to it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JobRef {
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: String,
    /// The resourceVersion it was seen at.
    pub resource_version: String,
}

/// A Job the current sync started, to be recorded in `status.active` by the status write that ends it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Started {
    /// The CronJob's uid.
    pub cron_job: String,
    /// The Job.
    pub job: JobRef,
    /// The time it was scheduled for.
    pub scheduled: Time,
}

/// What the controller asked the API server, and why.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Asked {
    /// The create of the Job for a scheduled time.
    Create {
        /// The CronJob's uid.
        cron_job: String,
        /// The time the Job is for.
        scheduled: Time,
    },
    /// A live read of the Job a create collided with.
    JobByName {
        /// The CronJob's uid.
        cron_job: String,
        /// The time the Job is for.
        scheduled: Time,
    },
    /// A live read of an active Job the Job cache does not show.
    ActiveJob {
        /// The Job's uid.
        uid: String,
    },
    /// A live read of the CronJob (an unlisted running Job showed up).
    Fresh {
        /// The CronJob's uid.
        cron_job: String,
    },
    /// The status write that ends a sync.
    Status {
        /// The CronJob's uid.
        cron_job: String,
    },
    /// The delete of an active Job, for Replace.
    Replaced {
        /// The CronJob's uid.
        cron_job: String,
        /// The Job's uid.
        uid: String,
    },
    /// The delete of a finished Job beyond the history limits.
    Write {
        /// The CronJob's uid.
        cron_job: String,
    },
}

impl Asked {
    fn cron_job(&self) -> Option<&str> {
        match self {
            Asked::Create { cron_job, .. }
            | Asked::JobByName { cron_job, .. }
            | Asked::Fresh { cron_job }
            | Asked::Status { cron_job }
            | Asked::Replaced { cron_job, .. }
            | Asked::Write { cron_job } => Some(cron_job),
            Asked::ActiveJob { .. } => None,
        }
    }
}

/// What the CronJob controller keeps in memory: what its own requests told it, until its caches show it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Local {
    /// The Job the current sync started (upstream keeps it for that sync only: a crash, or a failed
    /// status write, forgets it).
    started: Option<Started>,
    /// A create that collided: the Job it collided with is read next.
    collided: Option<(String, Time)>,
    /// Active Jobs read live because the Job cache does not show them (uid → whether the Job exists), and
    /// Jobs deleted for Replace (false).
    looked_up: BTreeMap<String, bool>,
    /// Live reads of CronJobs, by uid, kept while the cache has nothing newer.
    fresh: BTreeMap<String, Arc<StoredObject>>,
    /// The request in flight.
    asked: Option<Asked>,
    /// Per-CronJob backoff after failed requests.
    retries: Retries,
}

impl Controller for CronJobController {
    type Local = Local;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // Schedules read the calendar; looking back for missed schedules reaches MAX_MISSED + 1
            // periods; its backoff and the Jobs' deadlines are durations.
            time_use: crate::framework::TimeUse::Calendar {
                longest_seconds: crate::common::backoff::BACKOFF_CAP_SECONDS,
                periods: MAX_MISSED as i64 + 1,
            },
            reads: Some(&[themelios_api::Kind::CronJob, themelios_api::Kind::Job]),
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "cronjob-controller".into()
    }

    fn step(&self, view: &ClusterView, local: &mut Local, timers: &mut Timers) -> Option<Op> {
        local.asked = None;
        forget_what_the_caches_show(view, local);
        for cj in view.list::<CronJob>() {
            let uid = cj.metadata.uid.clone().unwrap_or_default();
            if let Some(at) = local.retries.blocked_until(&uid, view.now()) {
                timers.wake_at(at);
                continue;
            }
            if let Some((op, asked)) = sync::sync(view, cj, local, timers) {
                local.retries.attempt(&uid);
                local.asked = Some(asked);
                return Some(op);
            }
        }
        None
    }

    fn observe(&self, _op: &Op, outcome: &Outcome, now: Time, local: &mut Local) {
        let Some(asked) = local.asked.take() else { return };
        let not_found = matches!(outcome, Err(e) if e.reason == Reason::NotFound);
        let failed = match &asked {
            Asked::Create { cron_job, scheduled } => match outcome {
                Ok(created) => {
                    local.started = Job::from_object(created.object()).map(|job| Started {
                        cron_job: cron_job.clone(),
                        job: sync::job_ref(job),
                        scheduled: *scheduled,
                    });
                    false
                }
                Err(e) if e.reason == Reason::AlreadyExists => {
                    local.collided = Some((cron_job.clone(), *scheduled));
                    false
                }
                Err(_) => true,
            },
            Asked::JobByName { cron_job, scheduled } => {
                local.collided = None;
                if let Ok(found) = outcome {
                    let job = Job::from_object(found.object());
                    if let Some(job) = job.filter(|j| crate::common::owner::is_controlled_by(&j.metadata, cron_job)) {
                        local.started = Some(Started {
                            cron_job: cron_job.clone(),
                            job: sync::job_ref(job),
                            scheduled: *scheduled,
                        });
                    }
                }
                outcome.is_err()
            }
            Asked::ActiveJob { uid } => {
                match outcome {
                    Ok(found) if found.object().meta().uid.as_deref() == Some(uid.as_str()) => {
                        local.looked_up.insert(uid.clone(), true);
                    }
                    Ok(_) => {
                        local.looked_up.insert(uid.clone(), false);
                    }
                    Err(_) if not_found => {
                        local.looked_up.insert(uid.clone(), false);
                    }
                    Err(_) => {}
                }
                outcome.is_err() && !not_found
            }
            Asked::Fresh { cron_job } => {
                if let Ok(found) = outcome {
                    local.fresh.insert(cron_job.clone(), found.clone());
                }
                outcome.is_err()
            }
            Asked::Status { cron_job } => {
                if local.started.as_ref().is_some_and(|s| s.cron_job == *cron_job) {
                    local.started = None;
                }
                outcome.is_err()
            }
            Asked::Replaced { uid, .. } => {
                // Gone, or going: it leaves status.active in this sync, as upstream's deleteFromActiveList.
                if outcome.is_ok() || not_found {
                    local.looked_up.insert(uid.clone(), false);
                }
                outcome.is_err() && !not_found
            }
            Asked::Write { .. } => outcome.is_err() && !not_found,
        };
        // The backoff is per CronJob and per sync, as upstream's queue counts a sync that ends in an error
        // and forgets the key after one that does not: a request that fails counts, the status write that
        // ends a sync without error forgets (the successes before it in the same sync do not).
        let ends_sync = matches!(asked, Asked::Status { .. });
        if asked.cron_job().is_some() && (failed || ends_sync) {
            local.retries.record(!failed, now);
        }
    }
}

/// Forgets live reads the caches have caught up with: a fresh CronJob once the cache holds a newer
/// version, a Job's existence once the Job cache shows it or no status lists it any more.
fn forget_what_the_caches_show(view: &ClusterView, local: &mut Local) {
    let version = |o: &CronJob| o.metadata.resource_version.as_deref().and_then(|v| v.parse::<u64>().ok());
    local.fresh.retain(|uid, fresh| {
        let Some(fresh) = CronJob::from_object(fresh.object()) else { return false };
        view.list::<CronJob>()
            .find(|c| c.metadata.uid.as_deref() == Some(uid.as_str()))
            .is_some_and(|cached| version(cached) <= version(fresh))
    });
    // A Job started by this sync that the status already lists (and records the schedule of) needs no write.
    if let Some(s) = &local.started {
        let recorded = view.list::<CronJob>().any(|cached| {
            let status = sync::effective(cached, local).status.unwrap_or_default();
            cached.metadata.uid.as_deref() == Some(s.cron_job.as_str())
                && status.active.iter().flatten().any(|r| r.uid.as_deref() == Some(s.job.uid.as_str()))
                && status.last_schedule_time.as_ref().map(Time::from_k8s) >= Some(s.scheduled)
        });
        if recorded {
            local.started = None;
        }
    }
    let cached_jobs: std::collections::BTreeSet<&str> =
        view.list::<Job>().filter_map(|j| j.metadata.uid.as_deref()).collect();
    let listed: std::collections::BTreeSet<String> = view
        .list::<CronJob>()
        .flat_map(|cj| sync::effective(cj, local).status.and_then(|s| s.active).unwrap_or_default())
        .filter_map(|r| r.uid)
        .collect();
    local.looked_up.retain(|uid, exists| listed.contains(uid) && !(*exists && cached_jobs.contains(uid.as_str())));
}
