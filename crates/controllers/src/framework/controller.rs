//! The [`Controller`] trait: a pure step function plus the local state a restart resets.

use super::view::ClusterView;
use super::{Profile, Step, Timers};
use std::any::Any;
use std::fmt::Debug;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use themelios_api::{ApiError, Op, StoredObject, Time};

/// What a request came to: the object the server returned, or its error (a `Timeout` error means the
/// request may still have taken effect).
pub type Outcome = Result<Arc<StoredObject>, ApiError>;

/// What a controller keeps in memory between steps: expectations, backoff timers, a sync in progress.
/// A restart replaces it with `Default::default()`. It is hashed into model-checker states.
pub trait LocalState: Clone + Debug + Default + Hash + Eq + Send + Sync + 'static {}
impl<T: Clone + Debug + Default + Hash + Eq + Send + Sync + 'static> LocalState for T {}

/// A controller as a pure step function: it reads a [`ClusterView`], updates its local state and issues at
/// most one API request.
///
/// What the model checker may treat as equal rests on how controllers use what they read: resourceVersions
/// and uids only compared for order and equality, times only as its [`Profile::time_use`] declares, and an
/// object's `generation` only compared with the `observedGeneration`s of the same version (see
/// `themelios_api::shape`). A controller that keeps a generation in memory, or compares generations across
/// objects, would need those canonical forms widened.
///
/// ```
/// use themelios_controllers::framework::{ClusterView, Controller, Timers};
/// use themelios_api::Op;
///
/// /// A controller that never does anything.
/// struct Idle;
/// impl Controller for Idle {
///     type Local = ();
///     fn name(&self) -> String { "idle".into() }
///     fn step(&self, _view: &ClusterView, _local: &mut (), _timers: &mut Timers) -> Option<Op> { None }
/// }
/// ```
pub trait Controller: Send + Sync + 'static {
    /// The controller's memory.
    type Local: LocalState;

    /// A name for logs and counterexamples, unique among the running actors (e.g. `kubelet/node-1`).
    fn name(&self) -> String;

    /// One step: at most one request, returned; the timers it wants go into `timers`. No I/O and no wall
    /// clock: time is `view.now()`. Drivers call it through [`decide`](super::decide).
    fn step(&self, view: &ClusterView, local: &mut Self::Local, timers: &mut Timers) -> Option<Op>;

    /// What drivers need to know about it besides its steps (see [`Profile`]). Drivers ask once, when they
    /// start it.
    fn profile(&self) -> Profile {
        Profile::default()
    }

    /// The outcome of the request the last step issued, as the real client library would report it, at
    /// logical time `now`.
    fn observe(&self, _op: &Op, _outcome: &Outcome, _now: Time, _local: &mut Self::Local) {}
}

/// A type-erased local state, so that different controllers can run side by side.
pub trait DynLocal: Debug + Send + Sync {
    /// A boxed copy.
    fn clone_box(&self) -> Box<dyn DynLocal>;
    /// Equality with another erased state of any type.
    fn dyn_eq(&self, other: &dyn DynLocal) -> bool;
    /// Feeds the state into a hasher.
    fn dyn_hash(&self, state: &mut dyn Hasher);
    /// For downcasting.
    fn as_any(&self) -> &dyn Any;
    /// For downcasting.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: LocalState> DynLocal for T {
    fn clone_box(&self) -> Box<dyn DynLocal> {
        Box::new(self.clone())
    }
    fn dyn_eq(&self, other: &dyn DynLocal) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
    fn dyn_hash(&self, mut state: &mut dyn Hasher) {
        self.hash(&mut state);
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl Clone for Box<dyn DynLocal> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}
impl PartialEq for Box<dyn DynLocal> {
    fn eq(&self, other: &Self) -> bool {
        self.dyn_eq(other.as_ref())
    }
}
impl Eq for Box<dyn DynLocal> {}
impl Hash for Box<dyn DynLocal> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.dyn_hash(state);
    }
}

/// One step of `controller` on `view`, updating `local`: what every driver calls.
pub fn decide(controller: &dyn AnyController, view: &ClusterView, local: &mut dyn DynLocal) -> Step {
    let mut timers = Timers::new(view.now());
    let op = controller.step(view, local, &mut timers);
    Step { op, wake_at: timers.wake(), heartbeat_at: timers.heartbeat() }
}

/// A controller behind a trait object, with its local state erased.
pub trait AnyController: Send + Sync {
    /// See [`Controller::name`].
    fn name(&self) -> String;
    /// A fresh local state, as after a restart.
    fn fresh_local(&self) -> Box<dyn DynLocal>;
    /// See [`Controller::step`]. Panics if `local` is not this controller's: a driver mixed up its actors.
    fn step(&self, view: &ClusterView, local: &mut dyn DynLocal, timers: &mut Timers) -> Option<Op>;
    /// See [`Controller::observe`]. Panics as [`AnyController::step`] does.
    fn observe(&self, op: &Op, outcome: &Outcome, now: Time, local: &mut dyn DynLocal);
    /// See [`Controller::profile`].
    fn profile(&self) -> Profile;
}

impl<C: Controller> AnyController for C {
    fn name(&self) -> String {
        Controller::name(self)
    }
    fn fresh_local(&self) -> Box<dyn DynLocal> {
        Box::new(C::Local::default())
    }
    fn step(&self, view: &ClusterView, local: &mut dyn DynLocal, timers: &mut Timers) -> Option<Op> {
        Controller::step(self, view, own_local(self, local), timers)
    }
    fn observe(&self, op: &Op, outcome: &Outcome, now: Time, local: &mut dyn DynLocal) {
        Controller::observe(self, op, outcome, now, own_local(self, local));
    }
    fn profile(&self) -> Profile {
        Controller::profile(self)
    }
}

/// `local` as `controller`'s own state. A mismatch is a driver's bug that would otherwise leave the
/// controller silently idle.
fn own_local<'l, C: Controller>(controller: &C, local: &'l mut dyn DynLocal) -> &'l mut C::Local {
    if !local.as_any().is::<C::Local>() {
        panic!(
            "{} was given another controller's local state ({local:?}); a driver mixed up its actors",
            Controller::name(controller)
        );
    }
    local.as_any_mut().downcast_mut::<C::Local>().unwrap_or_else(|| unreachable!("checked above"))
}
