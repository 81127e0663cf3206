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

/// The event upstream records for `op` with `outcome`, given the view the request was made from.
///
/// ```
/// use themelios_controllers::events::for_request;
/// use themelios_controllers::framework::ClusterView;
/// use themelios_api::{ApiState, Op, ObjectName, Time, StateRead};
/// let state = ApiState::default();
/// let view = ClusterView::new(state.objects(), 0, Time::EPOCH);
/// let bind = Op::Bind { pod: ObjectName::new("default", "p"), uid: None, node: "node-1".into() };
/// assert!(for_request(&bind, &Err(themelios_api::ApiError::not_found(themelios_api::Kind::Pod, "p")), &view).is_none());
/// ```
pub fn for_request(op: &Op, outcome: &Outcome, view: &ClusterView) -> Option<EventNote> {
    match (op, outcome) {
        (Op::Create(object), Ok(created)) => match (object.kind(), owner_of(created.object())) {
            (Kind::Pod, Some(owner)) => {
                let pod = created.object().meta().name.clone().unwrap_or_default();
                let message = if owner.kind == "StatefulSet" {
                    format!("create Pod {pod} in StatefulSet {} successful", owner.name.name)
                } else {
                    format!("Created pod: {pod}")
                };
                Some(note(owner, "SuccessfulCreate", message))
            }
            (Kind::Job, Some(owner)) => {
                let job = created.object().meta().name.clone().unwrap_or_default();
                Some(note(owner, "SuccessfulCreate", format!("Created job {job}")))
            }
            (Kind::ReplicaSet, Some(owner)) => {
                let rs = created.object().meta().name.clone().unwrap_or_default();
                let replicas = replicas_of(created.object()).unwrap_or(0);
                Some(note(owner, "ScalingReplicaSet", format!("Scaled up replica set {rs} from 0 to {replicas}")))
            }
            _ => None,
        },
        (Op::Create(object), Err(error)) if object.kind() == Kind::Pod => {
            let mut event = note(owner_of(object)?, "FailedCreate", format!("Error creating: {}", error.message));
            event.event_type = "Warning";
            Some(event)
        }
        (Op::Update(_) | Op::Scale { .. }, Ok(updated)) if updated.object().kind() == Kind::ReplicaSet => {
            let name = ObjectName::new(
                updated.object().meta().namespace.clone().unwrap_or_default(),
                updated.object().meta().name.clone().unwrap_or_default(),
            );
            let before = replicas_of(view.get_stored(Kind::ReplicaSet, &name)?.object())?;
            let after = replicas_of(updated.object())?;
            let direction = match after.cmp(&before) {
                std::cmp::Ordering::Greater => "up",
                std::cmp::Ordering::Less => "down",
                std::cmp::Ordering::Equal => return None,
            };
            let owner = owner_of(updated.object())?;
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
            let owner = owner_of(pod.object())?;
            let message = if owner.kind == "StatefulSet" {
                format!("delete Pod {} in StatefulSet {} successful", target.name.name, owner.name.name)
            } else {
                format!("Deleted pod: {}", target.name.name)
            };
            Some(note(owner, "SuccessfulDelete", message))
        }
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
