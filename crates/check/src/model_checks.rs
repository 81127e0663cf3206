//! Properties over the whole model state — what nodes run, not only what the API holds — that scenario
//! files can ask for by name.

use crate::model::{ClusterModel, State};
use std::collections::BTreeMap;
use themelios_controllers::kubelet;

/// At most one running pod per StatefulSet identity across every kubelet: the form kubernetes #59848
/// breaks, seen from what the nodes run rather than from the API.
pub fn one_running_pod_per_identity(model: &ClusterModel, state: &State) -> Result<(), String> {
    let mut running: BTreeMap<&str, (&str, String)> = BTreeMap::new();
    for (i, actor) in state.actors.iter().enumerate() {
        let Some(local) = actor.local.as_any().downcast_ref::<kubelet::Local>() else { continue };
        let node = model.controllers[i].name();
        for (name, uid) in &local.running {
            if let Some((other_uid, other_node)) = running.get(name.as_str()) {
                if *other_uid != uid.as_str() {
                    return Err(format!("{name} runs twice: uid {other_uid} on {other_node} and uid {uid} on {node}"));
                }
            }
            running.insert(name, (uid, node.clone()));
        }
    }
    Ok(())
}
