//! The TTL-after-finished controller: deletes a finished Job `ttlSecondsAfterFinished` after it finished,
//! with background propagation so the garbage collector removes its pods.

use crate::common::backoff::{settled, Retries, BACKOFF_CAP_SECONDS};
use crate::framework::Timers;
use crate::framework::{ClusterView, Controller, Outcome, Property};
use crate::job::{delete_in_background, finished_at};
use k8s_openapi::api::batch::v1::Job;
use themelios_api::{Op, Time};

/// The TTL-after-finished controller.
#[derive(Clone, Debug, Default)]
pub struct TtlAfterFinishedController;

/// When a finished Job with a TTL expires.
pub fn expires_at(job: &Job) -> Option<Time> {
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    Some(finished_at(job)?.plus_seconds(i64::from(ttl)))
}

impl Controller for TtlAfterFinishedController {
    /// Per-Job backoff after a failed delete (upstream requeues the Job's key rate-limited).
    type Local = Retries;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // `ttlSecondsAfterFinished`, read from the Job, and its backoff after failed deletes.
            time_use: crate::framework::TimeUse::Relative { longest_seconds: BACKOFF_CAP_SECONDS },
            reads: Some(&[themelios_api::Kind::Job]),
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "ttl-after-finished-controller".into()
    }

    fn step(&self, view: &ClusterView, retries: &mut Retries, timers: &mut Timers) -> Option<Op> {
        for job in view.list::<Job>().filter(|j| j.metadata.deletion_timestamp.is_none()) {
            let Some(at) = expires_at(job) else { continue };
            let uid = job.metadata.uid.as_deref().unwrap_or("");
            if retries.waiting(uid, view.now(), timers) {
                continue;
            }
            if at > view.now() {
                timers.wake_at(at);
                continue;
            }
            // Guarded by the resourceVersion too: a Job changed since it was read is looked at again.
            let Op::Delete { target, mut options } = delete_in_background(job) else { continue };
            options.resource_version = job.metadata.resource_version.clone();
            retries.attempt(uid);
            return Some(Op::Delete { target, options });
        }
        None
    }

    fn observe(&self, _op: &Op, outcome: &Outcome, now: Time, retries: &mut Retries) {
        retries.record(settled(outcome), now);
    }
}

/// The TTL controller's goal: no finished Job outlives its TTL.
pub fn properties() -> Vec<Property> {
    vec![Property::eventually("ttl-after-finished: no finished Job outlives its TTL", |view| {
        match view
            .list::<Job>()
            .find(|j| j.metadata.deletion_timestamp.is_none() && expires_at(j).is_some_and(|at| at <= view.now()))
        {
            Some(j) => Err(format!("Job {} outlived its TTL", j.metadata.name.as_deref().unwrap_or(""))),
            None => Ok(()),
        }
    })]
}
