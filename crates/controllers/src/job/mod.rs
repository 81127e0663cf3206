//! The Job controller: runs pods to a number of completions, with failure budgets, deadlines, suspension
//! and pod failure policies, counting every finished pod exactly once through the tracking finalizer.
//!
//! NonIndexed Jobs keep `min(parallelism, completions - succeeded)` pods active (work-queue Jobs, without
//! completions, stop starting pods after the first success). Indexed Jobs run one pod per index
//! (`<job>-<index>` hostname, index annotation and label), removing duplicates. Retries after failures
//! wait 10 s, doubling per consecutive failure up to 6 minutes, in logical time. Failed pods beyond
//! `backoffLimit` fail the Job; so do container restarts, under restartPolicy OnFailure, once those of the
//! pods still Pending or Running reach it (a pod that fails in place never counts as failed).

mod indexes;
mod policy;
mod properties;
mod sync;

pub use indexes::{format_intervals, index_of, parse_intervals, COMPLETION_INDEX, INDEX_FAILURE_COUNT};
pub use properties::properties;
pub use sync::{condition, delete_in_background, finished_at, is_finished, MANAGED_BY, TRACKING_FINALIZER};

use crate::common::expectations::Expectations;
use crate::framework::Timers;
use crate::framework::{ClusterView, Controller, Outcome};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use std::collections::{BTreeMap, BTreeSet};
use themelios_api::{Op, Resource, Time};

/// The Job controller.
#[derive(Clone, Debug, Default)]
pub struct JobController;

/// What the Job controller keeps in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Local {
    /// Pods whose tracking finalizer this controller removed (a lagging pod cache may still show it):
    /// upstream's finalizer-removal expectations, raised only once the removal succeeded.
    removed: BTreeSet<String>,
    /// The pod whose finalizer the last write removes: counted only if that write succeeds.
    pending_removal: Option<String>,
    /// Creates not yet seen, per Job uid.
    expectations: BTreeMap<String, Expectations>,
    /// The Job the last create was for.
    pending_create: Option<String>,
    /// Per-Job backoff after failed writes (upstream's rate-limited requeue of the Job's key).
    retries: crate::common::backoff::Retries,
}

impl Controller for JobController {
    type Local = Local;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // Its pod-failure backoff and expectations' expiry; `activeDeadlineSeconds` is read from the Job.
            time_use: crate::framework::TimeUse::Relative {
                longest_seconds: sync::MAX_BACKOFF_SECONDS.max(crate::common::expectations::EXPECTATIONS_TTL_SECONDS),
            },
            reads: Some(&[themelios_api::Kind::Job, themelios_api::Kind::Pod]),
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        "job-controller".into()
    }

    fn step(&self, view: &ClusterView, local: &mut Local, timers: &mut Timers) -> Option<Op> {
        local.pending_create = None;
        local.pending_removal = None;
        if let Some(op) = release_orphans(view, local) {
            local.retries.attempt("");
            return Some(op);
        }
        let live: BTreeSet<&str> = view.list::<Job>().filter_map(|j| j.metadata.uid.as_deref()).collect();
        local.expectations.retain(|uid, _| live.contains(uid.as_str()));
        for job in view.list::<Job>() {
            let managed_elsewhere =
                job.spec.as_ref().and_then(|s| s.managed_by.as_deref()).is_some_and(|m| m != MANAGED_BY);
            if managed_elsewhere {
                continue;
            }
            let uid = job.metadata.uid.clone().unwrap_or_default();
            if let Some(at) = local.retries.blocked_until(&uid, view.now()) {
                timers.wake_at(at);
                continue;
            }
            if let Some(op) = sync::sync(view, job, local, timers) {
                local.retries.attempt(&uid);
                return Some(op);
            }
        }
        None
    }

    fn observe(&self, _op: &Op, outcome: &Outcome, now: Time, local: &mut Local) {
        // A removal that failed (a conflict, a timeout) removed nothing this controller may count on:
        // the pod stays tracked until a removal is seen to succeed, as upstream counts only pods whose
        // finalizer patch succeeded.
        if let Some(pod_uid) = local.pending_removal.take() {
            if outcome.is_ok() {
                local.removed.insert(pod_uid);
            }
        }
        local.retries.record(outcome.is_ok(), now);
        let Some(job_uid) = local.pending_create.take() else { return };
        if let Ok(created) = outcome {
            let exp = local.expectations.entry(job_uid).or_insert_with(|| Expectations::new(0, [], now));
            exp.created.insert(created.object().meta().name.clone().unwrap_or_default());
            exp.renew(now);
        }
    }
}

/// Pods still carrying the tracking finalizer whose Job is gone lose it (kubernetes #109429).
fn release_orphans(view: &ClusterView, local: &mut Local) -> Option<Op> {
    let jobs: BTreeSet<&str> = view.list::<Job>().filter_map(|j| j.metadata.uid.as_deref()).collect();
    let orphan = view.list::<Pod>().find(|p| {
        p.metadata.finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER)
            && crate::common::owner::controller_of(&p.metadata)
                .is_some_and(|r| r.kind == "Job" && !jobs.contains(r.uid.as_str()))
    })?;
    let mut updated = orphan.clone();
    if let Some(f) = updated.metadata.finalizers.as_mut() {
        f.retain(|x| x != TRACKING_FINALIZER);
    }
    local.pending_removal = orphan.metadata.uid.clone();
    Some(Op::Update(updated.into_object()))
}
