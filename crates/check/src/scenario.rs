//! Scenarios: a settled starting cluster, the actors under check, the environment, and the consistency
//! models, turned into a [`ClusterModel`].

use crate::consistency::Consistency;
use crate::model::{initial_cache, ActorState, ClusterModel, ModelCheck, State, UserOp};
use std::sync::Arc;
use themelios_controllers::framework::{AnyController, Property};
use themelios_controllers::harness::Harness;

/// A scenario, ready to be checked under any consistency model.
pub struct Scenario {
    /// Its name (upstream test it comes from).
    pub name: String,
    /// Builds the settled starting cluster; every actor of the harness takes part in the model.
    pub setup: fn() -> Harness,
    /// Operations the environment may perform, each once, at any point.
    pub user_ops: Vec<fn() -> UserOp>,
    /// Restarts each actor may suffer (by actor name).
    pub restarts: Vec<(String, u8)>,
    /// The properties to check.
    pub properties: fn() -> Vec<Property>,
    /// Properties over the model state.
    pub model_checks: Vec<(&'static str, ModelCheck)>,
}

impl Scenario {
    /// The model of this scenario with every actor under `consistency`.
    pub fn model(&self, consistency: Consistency) -> ClusterModel {
        self.hybrid(|_| consistency)
    }

    /// The model with each actor under the consistency model `assign` gives its name (hybrid consistency).
    pub fn hybrid(&self, assign: impl Fn(&str) -> Consistency) -> ClusterModel {
        let harness = (self.setup)();
        let (store, now, actors) = harness.into_parts();
        let (controllers, locals): (Vec<Arc<dyn AnyController>>, Vec<_>) =
            actors.into_iter().map(|(controller, local)| (Arc::from(controller), local)).unzip();
        let states: Vec<ActorState> = controllers
            .iter()
            .zip(locals)
            .map(|(controller, local)| {
                let name = controller.name();
                let restarts_left = self.restarts.iter().find(|(n, _)| *n == name).map_or(0, |(_, c)| *c);
                ActorState { local, cache: initial_cache(&assign(&name), &store), last_write: 0, restarts_left }
            })
            .collect();
        let user_ops: Vec<UserOp> = self.user_ops.iter().map(|f| f()).collect();
        ClusterModel {
            consistency: controllers.iter().map(|c| assign(&c.name())).collect(),
            controllers,
            init: State {
                lagging: store.clone(),
                store,
                now,
                actors: states,
                user_done: vec![false; user_ops.len()],
                violation: None,
            },
            user_ops,
            properties: (self.properties)(),
            model_checks: self.model_checks.clone(),
        }
    }
}
