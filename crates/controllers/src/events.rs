//! The Events upstream's controllers record for the requests they make (`SuccessfulCreate`,
//! `ScalingReplicaSet`, `Scheduled`…), derived from a request and its outcome, so the live runtime can post
//! them for `kubectl describe` without the pure controllers doing any I/O.

use crate::common::owner::controller_of;
use crate::framework::{ClusterView, Outcome};
use themelios_api::apply::scale::replicas_of;
use themelios_api::{Kind, Object, ObjectName, Op};

/// The object an event is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Involved {
    /// `kind`, e.g. `ReplicaSet`.
    pub kind: String,
    /// `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// Namespace and name.
    pub name: ObjectName,
    /// The object's uid.
    pub uid: String,
}

/// One event to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventNote {
    /// What the event is about.
    pub involved: Involved,
    /// `Normal` or `Warning`.
    pub event_type: &'static str,
    /// Upstream's reason, e.g. `SuccessfulCreate`.
    pub reason: &'static str,
    /// Upstream's message, e.g. `Created pod: web-7d9c-abcde`.
    pub message: String,
    /// The reporting component, e.g. `replicaset-controller`.
    pub component: &'static str,
}

fn component(owner_kind: &str) -> &'static str {
    match owner_kind {
        "Deployment" => "deployment-controller",
        "ReplicaSet" => "replicaset-controller",
        "StatefulSet" => "statefulset-controller",
        "DaemonSet" => "daemonset-controller",
        "Job" => "job-controller",
        "CronJob" => "cronjob-controller",
        _ => "themelios-controller-manager",
    }
}

/// The controller owner of `object`, as the involved object of an event.
fn owner_of(object: &Object) -> Option<Involved> {
    let meta = object.meta();
    let owner = controller_of(meta)?;
    Some(Involved {
        kind: owner.kind.clone(),
        api_version: owner.api_version.clone(),
        name: ObjectName::new(meta.namespace.clone().unwrap_or_default(), owner.name.clone()),
        uid: owner.uid.clone(),
    })
}

fn itself(object: &Object) -> Involved {
    let meta = object.meta();
    let kind = object.kind();
    Involved {
        kind: kind.name().to_string(),
        api_version: kind.api_version().to_string(),
        name: ObjectName::new(meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default()),
        uid: meta.uid.clone().unwrap_or_default(),
    }
}

fn note(involved: Involved, reason: &'static str, message: String) -> EventNote {
    let component = component(&involved.kind);
    EventNote { involved, event_type: "Normal", reason, message, component }
}

/// The event upstream records when `actor` (a [`crate::framework::Controller::name`]) sends `op` and gets
/// `outcome`, given the view the request was made from. Only the controller upstream records it for
/// records it: the garbage collector's deletes of a ReplicaSet's pods are not the ReplicaSet controller's.
///
/// ```
/// use themelios_controllers::events::for_request;
/// use themelios_controllers::framework::ClusterView;
/// use themelios_api::{ApiState, Op, ObjectName, Time, StateRead};
/// let state = ApiState::default();
/// let view = ClusterView::new(state.objects(), 0, Time::EPOCH);
/// let bind = Op::Bind { pod: ObjectName::new("default", "p"), uid: None, node: "node-1".into() };
/// let failed = Err(themelios_api::ApiError::not_found(themelios_api::Kind::Pod, "p"));
/// assert!(for_request("default-scheduler", &bind, &failed, &view).is_none());
/// ```
pub fn for_request(actor: &str, op: &Op, outcome: &Outcome, view: &ClusterView) -> Option<EventNote> {
    let owned_by_actor = |owner: &Involved| component(&owner.kind) == actor;
    match (op, outcome) {
        (Op::Create(object), Ok(created)) => match (object.kind(), owner_of(created.object())) {
            (Kind::Pod, Some(owner)) if owned_by_actor(&owner) => {
                let pod = created.object().meta().name.clone().unwrap_or_default();
                let message = if owner.kind == "StatefulSet" {
                    format!("create Pod {pod} in StatefulSet {} successful", owner.name.name)
                } else {
                    format!("Created pod: {pod}")
                };
                Some(note(owner, "SuccessfulCreate", message))
            }
            (Kind::Job, Some(owner)) if owned_by_actor(&owner) => {
                let job = created.object().meta().name.clone().unwrap_or_default();
                Some(note(owner, "SuccessfulCreate", format!("Created job {job}")))
            }
            (Kind::ReplicaSet, Some(owner)) if owned_by_actor(&owner) => {
                let rs = created.object().meta().name.clone().unwrap_or_default();
                let replicas = replicas_of(created.object()).unwrap_or(0);
                Some(note(owner, "ScalingReplicaSet", format!("Scaled up replica set {rs} from 0 to {replicas}")))
            }
            _ => None,
        },
        (Op::Create(object), Err(error)) if object.kind() == Kind::Pod => {
            let owner = owner_of(object).filter(owned_by_actor)?;
            let mut event = note(owner, "FailedCreate", format!("Error creating: {}", error.message));
            event.event_type = "Warning";
            Some(event)
        }
        (Op::Update(_) | Op::Scale { .. }, Ok(updated)) if updated.object().kind() == Kind::ReplicaSet => {
            let name = name_of(updated.object());
            let before = replicas_of(view.get_stored(Kind::ReplicaSet, &name)?.object())?;
            let after = replicas_of(updated.object())?;
            let direction = match after.cmp(&before) {
                std::cmp::Ordering::Greater => "up",
                std::cmp::Ordering::Less => "down",
                std::cmp::Ordering::Equal => return None,
            };
            let owner = owner_of(updated.object()).filter(owned_by_actor)?;
            Some(note(
                owner,
                "ScalingReplicaSet",
                format!("Scaled {direction} replica set {} from {before} to {after}", name.name),
            ))
        }
        (Op::Delete { target, .. }, Ok(_)) if target.kind == Kind::Pod => {
            let pod = view.get_stored(Kind::Pod, &target.name)?;
            // Only the delete that starts a deletion is the controller's; the kubelet finishes it.
            if pod.object().meta().deletion_timestamp.is_some() {
                return None;
            }
            if actor == NODE_LIFECYCLE {
                let mut event = note(
                    itself(pod.object()),
                    "TaintManagerEviction",
                    format!("Marking for deletion Pod {}/{}", target.name.namespace, target.name.name),
                );
                event.component = "taint-eviction-controller";
                return Some(event);
            }
            let owner = owner_of(pod.object()).filter(owned_by_actor)?;
            let message = if owner.kind == "StatefulSet" {
                format!("delete Pod {} in StatefulSet {} successful", target.name.name, owner.name.name)
            } else {
                format!("Deleted pod: {}", target.name.name)
            };
            Some(note(owner, "SuccessfulDelete", message))
        }
        (Op::Delete { target, .. }, Ok(_)) if target.kind == Kind::Job => {
            let job = view.get_stored(Kind::Job, &target.name)?;
            let owner = owner_of(job.object()).filter(owned_by_actor)?;
            Some(note(owner, "SuccessfulDelete", format!("Deleted job {}", target.name.name)))
        }
        (Op::UpdateStatus(_), Ok(updated)) => status_event(actor, updated.object(), view),
        (Op::Bind { pod, node, .. }, Ok(_)) => {
            let stored = view.get_stored(Kind::Pod, pod)?;
            let mut event = note(
                itself(stored.object()),
                "Scheduled",
                format!("Successfully assigned {}/{} to {node}", pod.namespace, pod.name),
            );
            event.component = "default-scheduler";
            Some(event)
        }
        _ => None,
    }
}

const NODE_LIFECYCLE: &str = "node-lifecycle-controller";

fn name_of(object: &Object) -> ObjectName {
    let meta = object.meta();
    ObjectName::new(meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default())
}

/// A condition's status, by type, of a list of `(type, status, reason, message)`.
type Conditions = Vec<(String, String, String, String)>;

fn job_conditions(object: &Object) -> Conditions {
    let Object::Job(job) = object else { return Vec::new() };
    job.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .map(|c| {
            (
                c.type_.clone(),
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn has(conditions: &Conditions, type_: &str, status: &str) -> bool {
    conditions.iter().any(|(t, s, _, _)| t == type_ && s == status)
}

/// The events of a status write: a Job finishing, being suspended or resumed; a CronJob seeing its Jobs
/// finish; a node or its pods becoming not ready.
fn status_event(actor: &str, updated: &Object, view: &ClusterView) -> Option<EventNote> {
    let name = name_of(updated);
    let before = view.get_stored(updated.kind(), &name)?;
    match updated {
        Object::Job(_) if actor == "job-controller" => {
            let (old, new) = (job_conditions(before.object()), job_conditions(updated));
            let became = |type_: &str, status: &str| has(&new, type_, status) && !has(&old, type_, status);
            let job = itself(updated);
            if became("Complete", "True") {
                Some(note(job, "Completed", "Job completed".into()))
            } else if became("Failed", "True") {
                let (_, _, reason, message) = new.iter().find(|(t, s, _, _)| t == "Failed" && s == "True")?.clone();
                let mut event = note(job, failure_reason(&reason), message);
                event.event_type = "Warning";
                Some(event)
            } else if became("Suspended", "True") {
                Some(note(job, "Suspended", "Job suspended".into()))
            } else if became("Suspended", "False") && has(&old, "Suspended", "True") {
                Some(note(job, "Resumed", "Job resumed".into()))
            } else {
                None
            }
        }
        Object::CronJob(cronjob) if actor == "cronjob-controller" => {
            let Object::CronJob(was) = before.object() else { return None };
            let active = |c: &k8s_openapi::api::batch::v1::CronJob| -> Vec<String> {
                c.status.iter().flat_map(|s| s.active.iter().flatten()).filter_map(|r| r.name.clone()).collect()
            };
            let now_active = active(cronjob);
            let finished = active(was).into_iter().filter(|j| !now_active.contains(j)).find_map(|job| {
                let stored = view.get_stored(Kind::Job, &ObjectName::new(name.namespace.clone(), job.clone()))?;
                let conditions = job_conditions(stored.object());
                let done = ["Complete", "Failed"].into_iter().find(|t| has(&conditions, t, "True"))?;
                Some((job, done))
            })?;
            Some(note(
                itself(updated),
                "SawCompletedJob",
                format!("Saw completed job: {}, condition: {}", finished.0, finished.1),
            ))
        }
        Object::Node(node) if actor == NODE_LIFECYCLE => {
            let ready = |n: &k8s_openapi::api::core::v1::Node| {
                n.status
                    .iter()
                    .flat_map(|s| s.conditions.iter().flatten())
                    .find(|c| c.type_ == "Ready")
                    .map(|c| c.status.clone())
            };
            let Object::Node(was) = before.object() else { return None };
            if ready(was).as_deref() == Some("True") && ready(node).as_deref() != Some("True") {
                let mut event =
                    note(itself(updated), "NodeNotReady", format!("Node {} status is now: NodeNotReady", name.name));
                event.component = "node-controller";
                return Some(event);
            }
            None
        }
        Object::Pod(pod) if actor == NODE_LIFECYCLE => {
            let Object::Pod(was) = before.object() else { return None };
            if !themelios_api::pod::is_ready(was) || themelios_api::pod::is_ready(pod) {
                return None;
            }
            let mut event = note(itself(updated), "NodeNotReady", "Node is not ready".into());
            event.event_type = "Warning";
            event.component = "node-controller";
            Some(event)
        }
        _ => None,
    }
}

/// A Job's failure reason as an event reason (upstream records the Failed condition's reason).
fn failure_reason(reason: &str) -> &'static str {
    ["BackoffLimitExceeded", "DeadlineExceeded", "PodFailurePolicy", "MaxFailedIndexesExceeded", "FailedIndexes"]
        .into_iter()
        .find(|known| *known == reason)
        .unwrap_or("Failed")
}
