//! Scenarios: a settled starting cluster, the actors under check, the environment, and the consistency
//! models, turned into a [`ClusterModel`].

use crate::canonical::Summaries;
use crate::consistency::{Consistency, Staleness};
use crate::model::{initial_cache, time_use_of, ActorState, ClusterModel, ModelCheck, State, UserDone, UserOp};
use std::sync::Arc;
use themelios_controllers::framework::{AnyController, Property};
use themelios_controllers::harness::Harness;

/// A scenario, ready to be checked under any consistency model.
pub struct Scenario {
    /// Its name (upstream test it comes from).
    pub name: String,
    /// Builds the settled starting cluster; every actor of the harness takes part in the model.
    pub setup: Box<dyn Fn() -> Harness + Send + Sync>,
    /// Operations the environment may perform, each once, at any point.
    pub user_ops: Vec<Box<dyn Fn() -> UserOp + Send + Sync>>,
    /// Restarts each actor may suffer (by actor name).
    pub restarts: Vec<(String, u8)>,
    /// Writes of each actor that may fail with an injected Conflict (by actor name).
    pub conflicts: Vec<(String, u8)>,
    /// Writes of each actor that may time out after taking effect (by actor name).
    pub timeouts: Vec<(String, u8)>,
    /// Times each actor may stop for good (by actor name): a kubelet whose node stops heartbeating.
    pub stops: Vec<(String, u8)>,
    /// Actors that start mid-run rather than at the beginning (by name): kubelets of joining nodes.
    pub joining: Vec<String>,
    /// The properties to check.
    pub properties: Box<dyn Fn() -> Vec<Property> + Send + Sync>,
    /// Properties over the model state.
    pub model_checks: Vec<(&'static str, ModelCheck)>,
    /// The consistency model to check under when none is chosen on the command line.
    pub consistency: Consistency,
    /// How long a cache may miss a write, unless the command line says.
    pub staleness: Staleness,
    /// The actors a chosen consistency model applies to (by name); the others read linearizably. `None`:
    /// every actor.
    pub applies_to: Option<Vec<String>>,
    /// The file the scenario was read from, if any.
    pub file: Option<String>,
}

impl Scenario {
    /// A scenario of a cluster `setup` builds, with no environment, no faults and no properties beyond the
    /// one every controller answers to, checked linearizably with unbounded staleness: what a test
    /// starts from, adding what it needs with struct update syntax.
    ///
    /// ```
    /// use themelios_check::scenario::Scenario;
    /// use themelios_controllers::harness::Harness;
    /// let quiet = Scenario::of_harness("an empty cluster", Harness::new);
    /// let report = themelios_check::check(quiet.model(quiet.consistency), 1);
    /// assert!(report.complete && !report.violated());
    /// ```
    pub fn of_harness(name: &str, setup: impl Fn() -> Harness + Send + Sync + 'static) -> Self {
        Scenario {
            name: name.to_string(),
            setup: Box::new(setup),
            user_ops: Vec::new(),
            restarts: Vec::new(),
            conflicts: Vec::new(),
            timeouts: Vec::new(),
            stops: Vec::new(),
            joining: Vec::new(),
            properties: Box::new(Vec::new),
            model_checks: Vec::new(),
            consistency: Consistency::LINEARIZABLE,
            staleness: Staleness::Unbounded,
            applies_to: None,
            file: None,
        }
    }

    /// The model of this scenario with every actor under `consistency`.
    pub fn model(&self, consistency: Consistency) -> ClusterModel {
        self.hybrid(|_| consistency)
    }

    /// The model with `consistency` for the actors the scenario applies models to (every actor unless it
    /// names some), the others linearizable, and `instances` of each controller.
    pub fn under(&self, consistency: Consistency, instances: usize) -> ClusterModel {
        let applies = |actor: &str| match &self.applies_to {
            None => true,
            // A second instance `name#2` reads as its original does.
            Some(names) => names.iter().any(|n| actor.split('#').next() == Some(n.as_str())),
        };
        self.build(&|actor| if applies(actor) { consistency } else { Consistency::LINEARIZABLE }, instances)
    }

    /// The model under the scenario's own consistency model.
    pub fn default_model(&self, instances: usize) -> ClusterModel {
        self.under(self.consistency, instances)
    }

    /// The model with each actor under the consistency model `assign` gives its name (hybrid consistency).
    pub fn hybrid(&self, assign: impl Fn(&str) -> Consistency) -> ClusterModel {
        self.build(&assign, 1)
    }

    /// The model with `instances` instances of every controller that is not a node (a duplicate
    /// controller-manager, as after a failed leader election), all under `consistency`.
    pub fn with_instances(&self, consistency: Consistency, instances: usize) -> ClusterModel {
        self.build(&|_| consistency, instances)
    }

    fn build(&self, assign: &dyn Fn(&str) -> Consistency, instances: usize) -> ClusterModel {
        let harness = (self.setup)();
        let (store, now, actors) = harness.into_parts();
        let mut pairs: Vec<(Arc<dyn AnyController>, Box<dyn themelios_controllers::framework::DynLocal>)> = Vec::new();
        for (controller, local) in actors {
            let controller: Arc<dyn AnyController> = Arc::from(controller);
            let duplicable = controller.profile().role.may_run_twice();
            for copy in 1..=if duplicable { instances.max(1) } else { 1 } {
                let actor: Arc<dyn AnyController> =
                    if copy == 1 { controller.clone() } else { Arc::new(Instance { inner: controller.clone(), copy }) };
                pairs.push((actor, local.clone()));
            }
        }
        let (controllers, locals): (Vec<Arc<dyn AnyController>>, Vec<_>) = pairs.into_iter().unzip();
        let profiles: Vec<_> = controllers.iter().map(|c| c.profile()).collect();
        let states: Vec<ActorState> = controllers
            .iter()
            .zip(&profiles)
            .zip(locals)
            .map(|((controller, profile), local)| {
                let name = controller.name();
                let budget = |faults: &[(String, u8)]| faults.iter().find(|(n, _)| *n == name).map_or(0, |(_, c)| *c);
                ActorState {
                    local: Arc::from(local),
                    cache: initial_cache(&assign(&name), &store, profile),
                    last_write: 0,
                    restarts_left: budget(&self.restarts),
                    conflicts_left: budget(&self.conflicts),
                    timeouts_left: budget(&self.timeouts),
                    stops_left: budget(&self.stops),
                    joins_left: u8::from(self.joining.contains(&name)),
                    running: !self.joining.contains(&name),
                }
            })
            .collect();
        let user_ops: Vec<UserOp> = self.user_ops.iter().map(|f| f()).collect();
        let summaries = Summaries::new(time_use_of(&profiles));
        ClusterModel {
            consistency: controllers.iter().map(|c| assign(&c.name())).collect(),
            controllers,
            profiles,
            init: State {
                lagging: store.clone(),
                store,
                now,
                actors: states.into_iter().map(Arc::new).collect(),
                user_done: UserDone::default(),
                violation: None,
            },
            user_ops,
            properties: (self.properties)(),
            model_checks: self.model_checks.clone(),
            interner: Default::default(),
            steps: Default::default(),
            summaries,
            staleness: self.staleness,
        }
    }
}

/// A second (third, …) instance of a controller: the same code under its own name and memory.
struct Instance {
    inner: Arc<dyn AnyController>,
    copy: usize,
}

impl AnyController for Instance {
    fn name(&self) -> String {
        format!("{}#{}", self.inner.name(), self.copy)
    }
    fn fresh_local(&self) -> Box<dyn themelios_controllers::framework::DynLocal> {
        self.inner.fresh_local()
    }
    fn step(
        &self,
        view: &themelios_controllers::framework::ClusterView,
        local: &mut dyn themelios_controllers::framework::DynLocal,
        timers: &mut themelios_controllers::framework::Timers,
    ) -> Option<themelios_api::Op> {
        self.inner.step(view, local, timers)
    }
    fn observe(
        &self,
        op: &themelios_api::Op,
        outcome: &themelios_controllers::framework::Outcome,
        now: themelios_api::Time,
        local: &mut dyn themelios_controllers::framework::DynLocal,
    ) {
        self.inner.observe(op, outcome, now, local);
    }
    fn profile(&self) -> themelios_controllers::framework::Profile {
        self.inner.profile()
    }
}
