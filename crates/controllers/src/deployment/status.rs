//! Deployment status: counts over its ReplicaSets and the Available, Progressing and ReplicaFailure
//! conditions, with the progress deadline measured in logical time.

use super::revision::{max_unavailable, replicas};
use crate::framework::ClusterView;
use crate::framework::Timers;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use themelios_api::Time;

/// What a status write is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StatusMode {
    /// Counts and Available only (paused, scaling, or deleting Deployments).
    CountsOnly,
    /// Counts plus rollout progress: Progressing against the deadline, ReplicaFailure.
    Rollout,
    /// A hash collision: bump `status.collisionCount` so the next ReplicaSet gets another name.
    Collision,
}

/// Progressing reasons, as upstream names them.
pub mod reason {
    /// A new ReplicaSet was created.
    pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
    /// An existing ReplicaSet matches the template.
    pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
    /// The rollout moved.
    pub const RS_UPDATED: &str = "ReplicaSetUpdated";
    /// The rollout finished.
    pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
    /// No progress within progressDeadlineSeconds.
    pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
    /// Paused.
    pub const PAUSED: &str = "DeploymentPaused";
    /// Resumed.
    pub const RESUMED: &str = "DeploymentResumed";
    /// Enough pods are available.
    pub const MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
    /// Not enough pods are available.
    pub const MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
}

fn condition<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(cs) = status.conditions.as_mut() {
        cs.retain(|c| c.type_ != type_);
        if cs.is_empty() {
            status.conditions = None;
        }
    }
}

/// Sets a condition. An existing one with the same status and reason is left as it is; one with the same
/// status keeps its lastTransitionTime.
fn set_condition(status: &mut DeploymentStatus, type_: &str, value: &str, reason: &str, message: String, now: Time) {
    let mut transition = now;
    if let Some(existing) = condition(status, type_) {
        if existing.status == value && existing.reason.as_deref() == Some(reason) {
            return;
        }
        if existing.status == value {
            transition = existing.last_transition_time.as_ref().map(Time::from_k8s).unwrap_or(now);
        }
    }
    remove_condition(status, type_);
    status.conditions.get_or_insert_with(Vec::new).push(DeploymentCondition {
        type_: type_.into(),
        status: value.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(now.to_k8s()),
        last_transition_time: Some(transition.to_k8s()),
    });
}

/// Whether the Deployment has a progress deadline.
pub fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).is_some_and(|s| s != i32::MAX)
}

/// Whether a status shows a finished rollout: every replica updated and available, the generation seen.
pub fn is_complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    // A count of zero is not stored (`omitempty` upstream): absent is 0.
    let want = Some(replicas(d)).filter(|&w| w != 0);
    let count = |v: Option<i32>| v.filter(|&n| n != 0);
    count(status.updated_replicas) == want
        && count(status.replicas) == want
        && count(status.available_replicas) == want
        && status.observed_generation >= d.metadata.generation
}

/// Whether `new` shows progress over the Deployment's recorded status.
fn made_progress(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let n = |v: Option<i32>| v.unwrap_or(0);
    let old_old_replicas = n(old.replicas) - n(old.updated_replicas);
    let new_old_replicas = n(new.replicas) - n(new.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || new_old_replicas < old_old_replicas
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
}

/// The time the Deployment counts as having stopped progressing, if it is waiting on its deadline.
fn deadline(d: &Deployment, status: &DeploymentStatus) -> Option<Time> {
    let seconds = d.spec.as_ref()?.progress_deadline_seconds?;
    let progressing = condition(status, "Progressing")?;
    if matches!(progressing.reason.as_deref(), Some(reason::NEW_RS_AVAILABLE) | Some(reason::TIMED_OUT)) {
        return None;
    }
    let from = progressing.last_update_time.as_ref().map(Time::from_k8s)?;
    Some(from.plus_seconds(i64::from(seconds)))
}

/// The status the Deployment should have given its ReplicaSets (`all` includes `new_rs`).
pub fn compute(
    d: &Deployment,
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    mode: &StatusMode,
    view: &ClusterView,
    timers: &mut Timers,
) -> DeploymentStatus {
    let now = view.now();
    let want = replicas(d);
    let sum = |f: fn(&ReplicaSet) -> i32| all.iter().map(|rs| f(rs)).sum::<i32>();
    let available = sum(|rs| rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0));
    let spec_total = sum(|rs| rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0));
    let previous = d.status.clone().unwrap_or_default();
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(sum(|rs| rs.status.as_ref().map_or(0, |s| s.replicas))),
        updated_replicas: Some(new_rs.and_then(|rs| rs.status.as_ref()).map_or(0, |s| s.replicas)),
        ready_replicas: Some(sum(|rs| rs.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0))),
        available_replicas: Some(available),
        unavailable_replicas: Some((spec_total - available).max(0)),
        collision_count: previous.collision_count,
        conditions: previous.conditions.clone(),
        terminating_replicas: previous.terminating_replicas,
    };
    if *mode == StatusMode::Collision {
        status.collision_count = Some(previous.collision_count.unwrap_or(0) + 1);
    }
    if available >= want - max_unavailable(d) {
        set_condition(
            &mut status,
            "Available",
            "True",
            reason::MIN_AVAILABLE,
            "Deployment has minimum availability.".into(),
            now,
        );
    } else {
        set_condition(
            &mut status,
            "Available",
            "False",
            reason::MIN_UNAVAILABLE,
            "Deployment does not have minimum availability.".into(),
            now,
        );
    }
    pause_conditions(d, &mut status, now);
    if *mode == StatusMode::Rollout && !d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
        rollout_conditions(d, all, new_rs, &mut status, view, timers);
    }
    status
}

fn pause_conditions(d: &Deployment, status: &mut DeploymentStatus, now: Time) {
    if !has_progress_deadline(d) {
        return;
    }
    let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    let current = condition(status, "Progressing").and_then(|c| c.reason.clone());
    if paused && current.as_deref() != Some(reason::PAUSED) {
        set_condition(status, "Progressing", "Unknown", reason::PAUSED, "Deployment is paused".into(), now);
    } else if !paused && current.as_deref() == Some(reason::PAUSED) {
        set_condition(status, "Progressing", "Unknown", reason::RESUMED, "Deployment is resumed".into(), now);
    }
}

fn rollout_conditions(
    d: &Deployment,
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    status: &mut DeploymentStatus,
    view: &ClusterView,
    timers: &mut Timers,
) {
    let now = view.now();
    let subject = match new_rs {
        Some(rs) => format!("ReplicaSet {:?}", rs.metadata.name.as_deref().unwrap_or("")),
        None => format!("Deployment {:?}", d.metadata.name.as_deref().unwrap_or("")),
    };
    if !has_progress_deadline(d) {
        remove_condition(status, "Progressing");
    } else if is_complete(d, status) {
        set_condition(
            status,
            "Progressing",
            "True",
            reason::NEW_RS_AVAILABLE,
            format!("{subject} has successfully progressed."),
            now,
        );
    } else if made_progress(d, status) {
        // Progress refreshes lastUpdateTime even when the reason stays the same: the deadline restarts.
        let kept = condition(status, "Progressing")
            .filter(|c| c.status == "True")
            .and_then(|c| c.last_transition_time.clone());
        remove_condition(status, "Progressing");
        status.conditions.get_or_insert_with(Vec::new).push(DeploymentCondition {
            type_: "Progressing".into(),
            status: "True".into(),
            reason: Some(reason::RS_UPDATED.into()),
            message: Some(format!("{subject} is progressing.")),
            last_update_time: Some(now.to_k8s()),
            last_transition_time: Some(kept.unwrap_or_else(|| now.to_k8s())),
        });
    } else if deadline(d, status).is_some_and(|at| at < now) {
        set_condition(
            status,
            "Progressing",
            "False",
            reason::TIMED_OUT,
            format!("{subject} has timed out progressing."),
            now,
        );
    } else if condition(status, "Progressing").is_none() {
        let (why, what) = match new_rs {
            Some(rs) if rs.status.is_none() => (reason::NEW_RS_CREATED, "Created new replica set"),
            _ => (reason::FOUND_NEW_RS, "Found new replica set"),
        };
        let name = new_rs.and_then(|rs| rs.metadata.name.clone()).unwrap_or_default();
        set_condition(status, "Progressing", "True", why, format!("{what} {name:?}"), now);
    }
    // A rollout that has not finished is looked at again when its deadline passes.
    if let Some(at) = deadline(d, status) {
        timers.wake_at(at.plus_seconds(1));
    }
    let failure = new_rs
        .into_iter()
        .chain(all.iter().copied())
        .find_map(|rs| rs.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "ReplicaFailure").cloned());
    match failure {
        Some(c) => set_condition(
            status,
            "ReplicaFailure",
            &c.status,
            c.reason.as_deref().unwrap_or(""),
            c.message.clone().unwrap_or_default(),
            now,
        ),
        None => remove_condition(status, "ReplicaFailure"),
    }
}
