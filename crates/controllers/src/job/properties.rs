//! The Job guarantees (kubernetes-behaviour.md §2, Job), as properties.

use super::indexes::parse_intervals;
use super::sync::{condition, is_finished, TRACKING_FINALIZER};
use crate::common::owner;
use crate::framework::{ClusterView, Property};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeSet;
use themelios_api::pod as podutil;

/// Every Job property.
pub fn properties() -> Vec<Property> {
    vec![
        Property::every_step(
            "job: a create never takes active pods above min(parallelism, remaining completions)",
            active_bound,
        ),
        Property::every_step("job: no new pods after a terminal condition", no_pods_after_terminal),
        Property::every_step(
            "job: a finished pod loses the tracking finalizer only after it is counted",
            finalizer_after_counting,
        ),
        Property::every_step("job: succeeded and failed count each finished pod once", counts_each_pod_once),
        Property::always("job: succeeded never exceeds completions, and each index counts once", succeeded_bounded),
        Property::eventually(
            "job: every Job ends Complete or Failed (unless suspended), with no pod left tracked",
            finished,
        ),
    ]
}

fn job_pods<'a>(view: &ClusterView<'a>, job: &Job) -> Vec<&'a Pod> {
    let uid = job.metadata.uid.clone().unwrap_or_default();
    view.list::<Pod>().filter(|p| owner::is_controlled_by(&p.metadata, &uid)).collect()
}

fn name(job: &Job) -> &str {
    job.metadata.name.as_deref().unwrap_or("")
}

fn new_pods<'a>(before: &ClusterView, after: &ClusterView<'a>, job: &Job) -> Vec<&'a Pod> {
    job_pods(after, job)
        .into_iter()
        .filter(|p| {
            before
                .get::<Pod>(p.metadata.namespace.as_deref().unwrap_or(""), p.metadata.name.as_deref().unwrap_or(""))
                .is_none()
        })
        .collect()
}

fn active_bound(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    for job in after.list::<Job>() {
        if new_pods(before, after, job).is_empty() {
            continue;
        }
        let spec = job.spec.clone().unwrap_or_default();
        let status = job.status.clone().unwrap_or_default();
        let parallelism = spec.parallelism.unwrap_or(1);
        let succeeded = status.succeeded.unwrap_or(0)
            + status
                .uncounted_terminated_pods
                .as_ref()
                .and_then(|u| u.succeeded.as_ref())
                .map_or(0, |s| s.len() as i32);
        let bound = match spec.completions {
            Some(c) => parallelism.min(c - succeeded),
            None => parallelism,
        };
        let active = job_pods(after, job).into_iter().filter(|p| podutil::is_active(p)).count() as i32;
        if active > bound {
            return Err(format!("Job {} has {active} active pods after a create, bound {bound}", name(job)));
        }
    }
    Ok(())
}

fn no_pods_after_terminal(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    for job in before.list::<Job>() {
        let terminal =
            ["Complete", "Failed", "FailureTarget", "SuccessCriteriaMet"].iter().any(|t| condition(job, t).is_some());
        if terminal && !new_pods(before, after, job).is_empty() {
            return Err(format!("Job {} created a pod after a terminal condition", name(job)));
        }
        let work_queue_done = job.spec.as_ref().is_some_and(|s| s.completions.is_none())
            && job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0) > 0;
        if work_queue_done && !new_pods(before, after, job).is_empty() {
            return Err(format!("work-queue Job {} created a pod after its first success", name(job)));
        }
    }
    Ok(())
}

fn finalizer_after_counting(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    for job in before.list::<Job>() {
        let uncounted = |view: &ClusterView, uid: &str| {
            let j = view.get::<Job>(job.metadata.namespace.as_deref().unwrap_or(""), name(job));
            j.and_then(|j| j.status.as_ref()?.uncounted_terminated_pods.clone())
                .is_some_and(|u| u.succeeded.iter().chain(u.failed.iter()).flatten().any(|x| x == uid))
        };
        for pod in job_pods(before, job) {
            let tracked = pod.metadata.finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER);
            let done = podutil::is_terminal(pod) || podutil::is_deleting(pod);
            if !tracked || !done {
                continue;
            }
            let ns = pod.metadata.namespace.as_deref().unwrap_or("");
            let pod_name = pod.metadata.name.as_deref().unwrap_or("");
            let released = after
                .get::<Pod>(ns, pod_name)
                .is_none_or(|p| !p.metadata.finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER));
            let uid = pod.metadata.uid.as_deref().unwrap_or("");
            let ignored = job.spec.as_ref().and_then(|s| s.pod_failure_policy.as_ref()).is_some();
            if released && !uncounted(before, uid) && !uncounted(after, uid) && !ignored {
                return Err(format!(
                    "pod {pod_name} of Job {} lost its tracking finalizer before it was counted",
                    name(job)
                ));
            }
        }
    }
    Ok(())
}

/// The tracking-finalizer protocol, seen from outside: a pod enters `uncountedTerminatedPods` only while
/// it still carries the finalizer (one without it was counted already, or never tracked), and leaves it
/// into the counters only once its finalizer is gone — each counter growing by exactly the pods that
/// left. Together these count every finished pod at most once (kubernetes #105200 breaks the first, a
/// pod counted although the removal of its finalizer failed breaks the second).
fn counts_each_pod_once(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    let uncounted = |job: &Job| {
        let u = job.status.as_ref().and_then(|s| s.uncounted_terminated_pods.clone()).unwrap_or_default();
        let set = |v: Option<Vec<String>>| v.unwrap_or_default().into_iter().collect::<BTreeSet<String>>();
        (set(u.succeeded), set(u.failed))
    };
    let counters = |job: &Job| {
        let s = job.status.clone().unwrap_or_default();
        (s.succeeded.unwrap_or(0), s.failed.unwrap_or(0))
    };
    for job in after.list::<Job>() {
        let ns = job.metadata.namespace.as_deref().unwrap_or("");
        let Some(old) = before.get::<Job>(ns, name(job)) else { continue };
        if old.metadata.uid != job.metadata.uid {
            continue;
        }
        let tracked_in = |view: &ClusterView, pod_uid: &str| {
            job_pods(view, job).into_iter().any(|p| {
                p.metadata.uid.as_deref() == Some(pod_uid)
                    && p.metadata.finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER)
            })
        };
        let ((old_s, old_f), (new_s, new_f)) = (uncounted(old), uncounted(job));
        for (entered, what) in [(new_s.difference(&old_s), "succeeded"), (new_f.difference(&old_f), "failed")] {
            for pod_uid in entered {
                if !tracked_in(before, pod_uid) {
                    return Err(format!(
                        "Job {} records pod {} as an uncounted {what} pod, but the pod no longer carries the \
                         tracking finalizer (it was counted already)",
                        name(job),
                        pod_name(before, pod_uid)
                    ));
                }
            }
        }
        let ((before_s, before_f), (after_s, after_f)) = (counters(old), counters(job));
        let indexed = job.spec.as_ref().and_then(|s| s.completion_mode.as_deref()) == Some("Indexed");
        for (left, grew, what) in [
            (old_s.difference(&new_s).collect::<Vec<_>>(), after_s - before_s, "succeeded"),
            (old_f.difference(&new_f).collect::<Vec<_>>(), after_f - before_f, "failed"),
        ] {
            if let Some(pod_uid) = left.iter().find(|u| tracked_in(after, u)) {
                return Err(format!(
                    "Job {} counts pod {} as {what} while the pod still carries the tracking finalizer",
                    name(job),
                    pod_name(after, pod_uid)
                ));
            }
            // An Indexed Job's succeeded is its number of completed indexes (checked by `succeeded_bounded`).
            if (what == "failed" || !indexed) && grew != left.len() as i32 {
                return Err(format!(
                    "Job {} {what} went from {} to {} while {} pods left uncountedTerminatedPods.{what}",
                    name(job),
                    if what == "failed" { before_f } else { before_s },
                    if what == "failed" { after_f } else { after_s },
                    left.len()
                ));
            }
        }
    }
    Ok(())
}

fn pod_name(view: &ClusterView, pod_uid: &str) -> String {
    view.list::<Pod>()
        .find(|p| p.metadata.uid.as_deref() == Some(pod_uid))
        .and_then(|p| p.metadata.name.clone())
        .unwrap_or_else(|| format!("with uid {pod_uid}"))
}

fn succeeded_bounded(view: &ClusterView) -> Result<(), String> {
    for job in view.list::<Job>() {
        let spec = job.spec.clone().unwrap_or_default();
        let status = job.status.clone().unwrap_or_default();
        let succeeded = status.succeeded.unwrap_or(0);
        if spec.completion_mode.as_deref() == Some("Indexed") {
            let completed = parse_intervals(status.completed_indexes.as_deref().unwrap_or("")).len() as i32;
            if succeeded != completed {
                return Err(format!(
                    "Job {} counts {succeeded} successes for {completed} completed indexes",
                    name(job)
                ));
            }
        } else if let Some(c) = spec.completions {
            if succeeded > c {
                return Err(format!("Job {} counts {succeeded} successes for {c} completions", name(job)));
            }
        }
    }
    Ok(())
}

fn finished(view: &ClusterView) -> Result<(), String> {
    for job in view.list::<Job>() {
        let spec = job.spec.clone().unwrap_or_default();
        if spec.suspend == Some(true) || spec.managed_by.as_deref().is_some_and(|m| m != super::MANAGED_BY) {
            continue;
        }
        if !is_finished(job) {
            return Err(format!("Job {} is neither Complete nor Failed", name(job)));
        }
        if let Some(p) = job_pods(view, job)
            .into_iter()
            .find(|p| p.metadata.finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER))
        {
            return Err(format!(
                "pod {} of finished Job {} keeps the tracking finalizer",
                p.metadata.name.as_deref().unwrap_or(""),
                name(job)
            ));
        }
    }
    Ok(())
}
