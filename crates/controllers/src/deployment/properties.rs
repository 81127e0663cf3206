//! The Deployment guarantees (kubernetes-behaviour.md §2, Deployment), as properties.

use super::revision::{equal_ignoring_hash, is_rolling, max_surge, max_unavailable, replicas, DESIRED_REPLICAS};
use super::strategy::{find_new, owned_sets};
use crate::common::owner;
use crate::framework::{ClusterView, Property};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use themelios_api::pod as podutil;

/// Every Deployment property.
pub fn properties() -> Vec<Property> {
    vec![
        Property::every_step(
            "deployment: a rolling update never grows its ReplicaSets past replicas + maxSurge",
            surge_bound,
        ),
        Property::every_step(
            "deployment: a rolling update never scales available pods below replicas - maxUnavailable",
            availability_floor,
        ),
        Property::always("deployment: Recreate never runs pods of two revisions at once", recreate_exclusive),
        Property::every_step(
            "deployment: never creates a second ReplicaSet for a template it already has",
            no_duplicate_replica_set,
        ),
        Property::every_step("deployment: a paused Deployment creates no ReplicaSet", paused_creates_nothing),
        Property::eventually("deployment: old ReplicaSets are kept only up to revisionHistoryLimit", history_bound),
        Property::eventually(
            "deployment: the rollout completes: new ReplicaSet at replicas, old ones at zero, status current",
            rollout_complete,
        ),
    ]
}

fn name(d: &Deployment) -> &str {
    d.metadata.name.as_deref().unwrap_or("")
}

fn spec_of(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

/// Σ over the sets of the replicas that are both wanted and available.
fn available_kept(sets: &[&ReplicaSet]) -> i32 {
    sets.iter().map(|rs| rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0).min(spec_of(rs))).sum()
}

/// A rolling-update step of one Deployment: its ReplicaSets before and after.
struct RolloutStep<'a> {
    d: &'a Deployment,
    before: Vec<&'a ReplicaSet>,
    after: Vec<&'a ReplicaSet>,
}

impl RolloutStep<'_> {
    fn spec_before(&self, rs: &ReplicaSet) -> Option<i32> {
        self.before.iter().find(|b| b.metadata.uid == rs.metadata.uid).map(|b| spec_of(b))
    }
    /// Some ReplicaSet was created with replicas or scaled up.
    fn grew(&self) -> bool {
        self.after.iter().any(|rs| self.spec_before(rs).map_or(spec_of(rs) > 0, |was| spec_of(rs) > was))
    }
    /// Some ReplicaSet owned in both states was scaled down.
    fn shrank(&self) -> bool {
        self.after.iter().any(|rs| self.spec_before(rs).is_some_and(|was| spec_of(rs) < was))
    }
}

/// Rolling-update steps of Deployments whose spec did not change across the step and that are not in
/// the middle of a scaling event (proportional scaling after a change of `spec.replicas` is not bound by
/// maxSurge and maxUnavailable upstream either).
fn rollout_steps<'a>(before: &ClusterView<'a>, after: &ClusterView<'a>) -> Vec<RolloutStep<'a>> {
    after
        .list::<Deployment>()
        .filter_map(|d| {
            let old = before.get::<Deployment>(d.metadata.namespace.as_deref()?, d.metadata.name.as_deref()?)?;
            if old.spec != d.spec || !is_rolling(d) {
                return None;
            }
            let sets_before = owned_sets(before, old);
            let scaling = sets_before.iter().filter(|rs| spec_of(rs) > 0).any(|rs| {
                rs.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(DESIRED_REPLICAS))
                    .is_some_and(|v| *v != replicas(d).to_string())
            });
            (!scaling).then(|| RolloutStep { d, before: sets_before, after: owned_sets(after, d) })
        })
        .collect()
}

fn surge_bound(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    for step in rollout_steps(before, after) {
        let total: i32 = step.after.iter().map(|rs| spec_of(rs)).sum();
        let bound = replicas(step.d) + max_surge(step.d);
        if step.grew() && total > bound {
            return Err(format!("Deployment {}: ReplicaSets grew to {total} replicas, above {bound}", name(step.d)));
        }
    }
    Ok(())
}

fn availability_floor(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    for step in rollout_steps(before, after) {
        if !step.shrank() {
            continue;
        }
        let floor = replicas(step.d) - max_unavailable(step.d);
        let (was, now) = (available_kept(&step.before), available_kept(&step.after));
        if now < was && now < floor {
            return Err(format!(
                "Deployment {}: a scale-down left {now} available replicas wanted, below {floor} (was {was})",
                name(step.d)
            ));
        }
    }
    Ok(())
}

fn recreate_exclusive(view: &ClusterView) -> Result<(), String> {
    for d in view.list::<Deployment>().filter(|d| !is_rolling(d)) {
        let sets = owned_sets(view, d);
        let uids: Vec<&str> = sets.iter().filter_map(|rs| rs.metadata.uid.as_deref()).collect();
        let mut running_sets: Vec<&str> = view
            .list::<Pod>()
            .filter(|p| !podutil::is_terminal(p))
            .filter_map(|p| owner::controller_of(&p.metadata).map(|r| r.uid.as_str()))
            .filter(|uid| uids.contains(uid))
            .collect();
        running_sets.sort();
        running_sets.dedup();
        if running_sets.len() > 1 {
            return Err(format!("Deployment {}: pods of {} ReplicaSets run at once", name(d), running_sets.len()));
        }
    }
    Ok(())
}

fn template_of(rs: &ReplicaSet) -> Option<&k8s_openapi::api::core::v1::PodTemplateSpec> {
    rs.spec.as_ref()?.template.as_ref()
}

/// Adoption can bring a second matching ReplicaSet under a Deployment (upstream then uses the oldest);
/// what the controller must never do is create one.
fn no_duplicate_replica_set(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    for d in after.list::<Deployment>() {
        let sets_before = owned_sets(before, d);
        for rs in owned_sets(after, d) {
            let (ns, rs_name) =
                (rs.metadata.namespace.as_deref().unwrap_or(""), rs.metadata.name.as_deref().unwrap_or(""));
            let is_new = before.get::<ReplicaSet>(ns, rs_name).is_none_or(|b| b.metadata.uid != rs.metadata.uid);
            let Some(template) = template_of(rs) else { continue };
            let twin = sets_before.iter().find(|b| {
                b.metadata.deletion_timestamp.is_none()
                    && template_of(b).is_some_and(|t| equal_ignoring_hash(t, template))
            });
            if let (true, Some(twin)) = (is_new, twin) {
                return Err(format!(
                    "Deployment {} created ReplicaSet {} for the template of its ReplicaSet {}",
                    name(d),
                    rs.metadata.name.as_deref().unwrap_or(""),
                    twin.metadata.name.as_deref().unwrap_or("")
                ));
            }
        }
    }
    Ok(())
}

fn paused_creates_nothing(before: &ClusterView, after: &ClusterView) -> Result<(), String> {
    for d in before.list::<Deployment>().filter(|d| d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)) {
        let (old, new) = (owned_sets(before, d).len(), owned_sets(after, d).len());
        let created = after
            .list::<ReplicaSet>()
            .filter(|rs| owner::is_controlled_by(&rs.metadata, d.metadata.uid.as_deref().unwrap_or("")))
            .any(|rs| {
                before
                    .get::<ReplicaSet>(
                        rs.metadata.namespace.as_deref().unwrap_or(""),
                        rs.metadata.name.as_deref().unwrap_or(""),
                    )
                    .is_none()
            });
        if created {
            return Err(format!("paused Deployment {} gained a ReplicaSet ({old} -> {new})", name(d)));
        }
    }
    Ok(())
}

fn history_bound(view: &ClusterView) -> Result<(), String> {
    for d in view.list::<Deployment>() {
        let Some(limit) = d.spec.as_ref().and_then(|s| s.revision_history_limit) else { continue };
        let sets = owned_sets(view, d);
        let new = find_new(d, &sets).and_then(|rs| rs.metadata.uid.clone());
        let idle_old = sets
            .iter()
            .filter(|rs| rs.metadata.uid != new && rs.spec.as_ref().and_then(|s| s.replicas) == Some(0))
            .count();
        if idle_old > limit as usize {
            return Err(format!("Deployment {} keeps {idle_old} old ReplicaSets, limit {limit}", name(d)));
        }
    }
    Ok(())
}

fn rollout_complete(view: &ClusterView) -> Result<(), String> {
    for d in view.list::<Deployment>().filter(|d| d.metadata.deletion_timestamp.is_none()) {
        if d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
            continue;
        }
        let want = replicas(d);
        let sets = owned_sets(view, d);
        let Some(new) = find_new(d, &sets) else {
            return Err(format!("Deployment {} has no ReplicaSet for its template", name(d)));
        };
        let new_replicas = spec_of(new);
        let old_replicas: i32 =
            sets.iter().filter(|rs| rs.metadata.uid != new.metadata.uid).map(|rs| spec_of(rs)).sum();
        let status = d.status.clone().unwrap_or_default();
        if new_replicas != want || old_replicas != 0 {
            return Err(format!(
                "Deployment {}: new ReplicaSet at {new_replicas}/{want}, old ones at {old_replicas}",
                name(d)
            ));
        }
        // A count of zero is not stored (`omitempty` upstream): absent is 0.
        if status.updated_replicas.unwrap_or(0) != want
            || status.available_replicas.unwrap_or(0) != want
            || status.observed_generation != d.metadata.generation
        {
            return Err(format!(
                "Deployment {}: status updated={:?} available={:?} observedGeneration={:?}, want {want} and {:?}",
                name(d),
                status.updated_replicas,
                status.available_replicas,
                status.observed_generation,
                d.metadata.generation
            ));
        }
    }
    Ok(())
}
