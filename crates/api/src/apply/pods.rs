//! The pod subresources: binding (the scheduler's write) and eviction (a delete that honours disruption budgets).

use super::{current, delete::delete, ApplyContext};
use crate::error::{ApiError, Cause, Details, Reason};
use crate::kind::{Kind, Resource};
use crate::op::DeleteOptions;
use crate::pod;
use crate::selector::LabelSelector;
use crate::store::{Change, ObjectName, StateRead, StoredObject, Write};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

pub(super) fn bind(
    state: &impl StateRead,
    name: &ObjectName,
    uid: Option<&str>,
    node: &str,
    ctx: &ApplyContext,
) -> Result<Change, ApiError> {
    let stored = current(state, Kind::Pod, name)?;
    let Some(p) = stored.typed::<Pod>() else { return Err(ApiError::not_found(Kind::Pod, &name.name)) };
    if let Some(uid) = uid {
        if p.metadata.uid.as_deref() != Some(uid) {
            return Err(ApiError::conflict(
                Kind::Pod,
                &name.name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    p.metadata.uid.as_deref().unwrap_or("")
                ),
            ));
        }
    }
    if pod::is_deleting(p) {
        return Err(ApiError::subresource_conflict(
            Kind::Pod,
            "binding",
            &name.name,
            &format!("pod {} is being deleted, cannot be assigned to a host", name.name),
        ));
    }
    if let Some(existing) = pod::node_name(p) {
        return Err(ApiError::subresource_conflict(
            Kind::Pod,
            "binding",
            &name.name,
            &format!("pod {} is already assigned to node {existing:?}", name.name),
        ));
    }
    if node.is_empty() {
        return Err(ApiError::invalid(
            Kind::Pod,
            &name.name,
            vec![crate::error::FieldError::required("target.name", "")],
        ));
    }
    let mut bound = p.clone();
    bound.spec.get_or_insert_with(Default::default).node_name = Some(node.to_string());
    pod::set_condition(&mut bound, pod::new_condition("PodScheduled", true, "", ""), ctx.now);
    super::put(state, bound.into_object())
}

pub(super) fn evict(
    state: &impl StateRead,
    name: &ObjectName,
    options: &DeleteOptions,
    ctx: &ApplyContext,
) -> Result<Change, ApiError> {
    let stored = current(state, Kind::Pod, name)?;
    let Some(p) = stored.typed::<Pod>() else { return Err(ApiError::not_found(Kind::Pod, &name.name)) };
    // Finished, unscheduled or already-deleting pods disrupt nothing: no budget applies.
    if pod::is_deleting(p) {
        return Ok(super::unchanged(state, stored));
    }
    let budget_applies = !pod::is_terminal(p) && pod::node_name(p).is_some();
    let budgets: Vec<_> = if budget_applies { matching_budgets(state, p) } else { Vec::new() };
    if budgets.len() > 1 {
        return Err(ApiError::new(
            Reason::InternalError,
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
        ));
    }

    let mut with_condition = p.clone();
    pod::set_condition(
        &mut with_condition,
        pod::new_condition("DisruptionTarget", true, "EvictionByEvictionAPI", "Eviction API: evicting"),
        ctx.now,
    );
    let pod_state = Overlay { base: state, pod: StoredObject::new(with_condition.into_object()) };
    let mut change = delete(&pod_state, Kind::Pod, name, options, ctx)?;

    if let Some(budget) = budgets.into_iter().next() {
        let pdb = budget.typed::<PodDisruptionBudget>().cloned().unwrap_or_default();
        let status = pdb.status.clone().unwrap_or_default();
        let pdb_name = pdb.metadata.name.clone().unwrap_or_default();
        if status.observed_generation.unwrap_or(0) < pdb.metadata.generation.unwrap_or(0) {
            return Err(too_many_requests(&format!(
                "The disruption budget {pdb_name} is still being processed by the server."
            )));
        }
        if status.disruptions_allowed <= 0 {
            return Err(too_many_requests(&format!(
                "The disruption budget {pdb_name} needs {} healthy pods and has {} currently",
                status.desired_healthy, status.current_healthy
            )));
        }
        let mut updated = pdb;
        let new_status = updated.status.get_or_insert_with(Default::default);
        new_status.disruptions_allowed -= 1;
        new_status.disrupted_pods.get_or_insert_with(Default::default).insert(name.name.clone(), ctx.now.to_k8s());
        updated.metadata.resource_version = Some(change.revision.to_string());
        change.writes.push(Write::Put(StoredObject::new(updated.into_object())));
    }
    Ok(change)
}

fn matching_budgets(state: &impl StateRead, p: &Pod) -> Vec<std::sync::Arc<StoredObject>> {
    let namespace = p.metadata.namespace.as_deref().unwrap_or("");
    state
        .list(Kind::PodDisruptionBudget, Some(namespace))
        .into_iter()
        .filter(|b| {
            let selector = b.typed::<PodDisruptionBudget>().and_then(|pdb| pdb.spec.as_ref()?.selector.as_ref());
            // A PDB with a nil or unparsable selector protects nothing; an empty one protects everything.
            LabelSelector::from_k8s(selector).is_ok_and(|s| s.matches_opt(p.metadata.labels.as_ref()))
        })
        .collect()
}

fn too_many_requests(cause: &str) -> ApiError {
    ApiError {
        reason: Reason::TooManyRequests,
        message: "Cannot evict pod as it would violate the pod's disruption budget.".to_string(),
        details: Some(Box::new(Details {
            causes: vec![Cause { reason: "DisruptionBudget".into(), message: cause.to_string(), field: String::new() }],
            ..Details::default()
        })),
    }
}

/// The state with one pod replaced, so eviction's delete sees the DisruptionTarget condition it adds.
struct Overlay<'a, S> {
    base: &'a S,
    pod: std::sync::Arc<StoredObject>,
}

impl<S: StateRead> StateRead for Overlay<'_, S> {
    fn revision(&self) -> u64 {
        self.base.revision()
    }
    fn get(&self, kind: Kind, name: &ObjectName) -> Option<std::sync::Arc<StoredObject>> {
        if kind == Kind::Pod && name == &crate::store::ObjectRef::of(self.pod.object()).name {
            return Some(self.pod.clone());
        }
        self.base.get(kind, name)
    }
    fn list(&self, kind: Kind, namespace: Option<&str>) -> Vec<std::sync::Arc<StoredObject>> {
        self.base.list(kind, namespace)
    }
}
