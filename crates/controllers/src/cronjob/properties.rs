//! The CronJob guarantees (kubernetes-behaviour.md §2, CronJob), as properties.

use crate::common::owner;
use crate::framework::{ClusterView, Property};
use crate::job::condition;
use k8s_openapi::api::batch::v1::{CronJob, Job};

/// Every CronJob property.
pub fn properties() -> Vec<Property> {
    vec![
        Property::always("cronjob: Forbid never runs two Jobs of one CronJob at once", forbid_exclusive),
        Property::eventually("cronjob: finished Jobs are kept only up to the history limits", history_limits),
    ]
}

fn owned<'a>(view: &ClusterView<'a>, cj: &CronJob) -> Vec<&'a Job> {
    let uid = cj.metadata.uid.clone().unwrap_or_default();
    view.list::<Job>().filter(|j| owner::is_controlled_by(&j.metadata, &uid)).collect()
}

fn running(job: &Job) -> bool {
    condition(job, "Complete").is_none()
        && condition(job, "Failed").is_none()
        && job.metadata.deletion_timestamp.is_none()
}

fn forbid_exclusive(view: &ClusterView) -> Result<(), String> {
    for cj in view.list::<CronJob>() {
        if cj.spec.as_ref().and_then(|s| s.concurrency_policy.as_deref()) != Some("Forbid") {
            continue;
        }
        let n = owned(view, cj).into_iter().filter(|j| running(j)).count();
        if n > 1 {
            return Err(format!("CronJob {} (Forbid) has {n} Jobs running", cj.metadata.name.as_deref().unwrap_or("")));
        }
    }
    Ok(())
}

fn history_limits(view: &ClusterView) -> Result<(), String> {
    for cj in view.list::<CronJob>() {
        let spec = cj.spec.clone().unwrap_or_default();
        let jobs = owned(view, cj);
        for (kind, limit) in [
            ("Complete", spec.successful_jobs_history_limit.unwrap_or(3)),
            ("Failed", spec.failed_jobs_history_limit.unwrap_or(1)),
        ] {
            let n =
                jobs.iter().filter(|j| condition(j, kind).is_some() && j.metadata.deletion_timestamp.is_none()).count();
            if n as i32 > limit {
                return Err(format!(
                    "CronJob {} keeps {n} {kind} Jobs, limit {limit}",
                    cj.metadata.name.as_deref().unwrap_or("")
                ));
            }
        }
    }
    Ok(())
}
