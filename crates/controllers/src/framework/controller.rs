//! The [`Controller`] trait: a pure step function plus the local state a restart resets.

use super::view::ClusterView;
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
/// and uids only compared for order and equality, times only as [`Controller::time_use`] declares, and an
/// object's `generation` only compared with the `observedGeneration`s of the same version (see
/// `themelios_api::shape`). A controller that keeps a generation in memory, or compares generations across
/// objects, would need those canonical forms widened.
///
/// ```
/// use themelios_controllers::framework::{ClusterView, Controller};
/// use themelios_api::Op;
///
/// /// A controller that never does anything.
/// struct Idle;
/// impl Controller for Idle {
///     type Local = ();
///     fn name(&self) -> String { "idle".into() }
///     fn step(&self, _view: &ClusterView, _local: &mut ()) -> Option<Op> { None }
/// }
/// ```
pub trait Controller: Send + Sync + 'static {
    /// The controller's memory.
    type Local: LocalState;

    /// A name for logs and counterexamples, unique among the running actors (e.g. `kubelet/node-1`).
    fn name(&self) -> String;

    /// One step: at most one request. No I/O and no wall clock: time is `view.now()`.
    fn step(&self, view: &ClusterView, local: &mut Self::Local) -> Option<Op>;

    /// The kinds this controller's informers watch, if it declares them (`None`: any kind). The model
    /// checker keeps lagging caches only for these — a stale cache of a kind nobody reads is not a
    /// different state — and the test harness checks every step reads nothing else.
    fn reads(&self) -> Option<&'static [themelios_api::Kind]> {
        None
    }

    /// The node this controller is the agent of (the kubelet), if it is one. Such a controller reads only
    /// that node's pods (through [`ClusterView::pods_on_node`]), the Node and the Lease named for it, and
    /// objects of its other kinds; a live driver running thousands of them wakes each only for changes to
    /// those (see [`node_of_change`](super::node_of_change)), as upstream's kubelet watches through field
    /// selectors.
    fn node(&self) -> Option<&str> {
        None
    }

    /// How often upstream's controller looks for work, if it runs as a periodic loop rather than on
    /// changes (pod GC every 20 s, node health every 5 s). A live driver then looks no more often than
    /// this once a step has found nothing to do — a scan of every pod on each of hundreds of changes a
    /// second is the cost upstream's period avoids. The model checker ignores it: it explores every
    /// interleaving, including a look after any change.
    fn period(&self) -> Option<std::time::Duration> {
        None
    }

    /// Whether the controller's local state accounts for its own writes until its view shows them (the
    /// scheduler's "assume" cache of its bindings). A live driver waits to see each write of any other
    /// controller before its next step, as upstream's expectations do; one that assumes its writes steps
    /// on at once, as upstream's scheduler binds while its cache catches up.
    fn assumes_own_writes(&self) -> bool {
        false
    }

    /// How its behaviour depends on logical time, for a model checker that forgets what cannot matter (see
    /// [`TimeUse`](super::TimeUse)). The default lets it forget nothing.
    fn time_use(&self) -> super::TimeUse {
        super::TimeUse::Absolute
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

/// A controller behind a trait object, with its local state erased.
pub trait AnyController: Send + Sync {
    /// See [`Controller::name`].
    fn name(&self) -> String;
    /// A fresh local state, as after a restart.
    fn fresh_local(&self) -> Box<dyn DynLocal>;
    /// See [`Controller::step`].
    fn step(&self, view: &ClusterView, local: &mut dyn DynLocal) -> Option<Op>;
    /// See [`Controller::observe`].
    fn observe(&self, op: &Op, outcome: &Outcome, now: Time, local: &mut dyn DynLocal);
    /// See [`Controller::reads`].
    fn reads(&self) -> Option<&'static [themelios_api::Kind]>;
    /// See [`Controller::node`].
    fn node(&self) -> Option<&str>;
    /// See [`Controller::period`].
    fn period(&self) -> Option<std::time::Duration>;
    /// See [`Controller::assumes_own_writes`].
    fn assumes_own_writes(&self) -> bool;
    /// See [`Controller::time_use`].
    fn time_use(&self) -> super::TimeUse;
}

impl<C: Controller> AnyController for C {
    fn name(&self) -> String {
        Controller::name(self)
    }
    fn fresh_local(&self) -> Box<dyn DynLocal> {
        Box::new(C::Local::default())
    }
    fn step(&self, view: &ClusterView, local: &mut dyn DynLocal) -> Option<Op> {
        let local = local.as_any_mut().downcast_mut::<C::Local>()?;
        Controller::step(self, view, local)
    }
    fn observe(&self, op: &Op, outcome: &Outcome, now: Time, local: &mut dyn DynLocal) {
        if let Some(local) = local.as_any_mut().downcast_mut::<C::Local>() {
            Controller::observe(self, op, outcome, now, local);
        }
    }
    fn reads(&self) -> Option<&'static [themelios_api::Kind]> {
        Controller::reads(self)
    }
    fn node(&self) -> Option<&str> {
        Controller::node(self)
    }
    fn period(&self) -> Option<std::time::Duration> {
        Controller::period(self)
    }
    fn assumes_own_writes(&self) -> bool {
        Controller::assumes_own_writes(self)
    }
    fn time_use(&self) -> super::TimeUse {
        Controller::time_use(self)
    }
}
