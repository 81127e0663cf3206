//! [`Profile`]: what a driver needs to know about a controller besides its steps.

use super::TimeUse;
use std::time::Duration;
use themelios_api::Kind;

/// A controller's hints for the drivers that run it, in one value. The default promises nothing: any kind
/// may be read, no node, no period, own writes not assumed, calendar time.
///
/// ```
/// use themelios_api::Kind;
/// use themelios_controllers::framework::{Profile, TimeUse};
/// let profile = Profile { reads: Some(&[Kind::Job, Kind::Pod]), ..Profile::default() };
/// assert!(profile.watches(Kind::Pod) && !profile.watches(Kind::Node));
/// assert_eq!(profile.time_use, TimeUse::Absolute);
/// assert!(Profile::default().watches(Kind::Node));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The kinds its informers watch, if it declares them (`None`: any kind). The model checker keeps
    /// lagging caches only for these — a stale cache of a kind nobody reads is not a different state —
    /// and the test harness checks every step reads nothing else.
    pub reads: Option<&'static [Kind]>,
    /// What part it plays in a cluster.
    pub role: Role,
    /// How often upstream's controller looks for work, if it runs as a periodic loop rather than on
    /// changes (pod GC every 20 s, node health every 5 s). A live driver then looks no more often than
    /// this once a step has found nothing to do — a scan of every pod on each of hundreds of changes a
    /// second is the cost upstream's period avoids. The model checker ignores it: it explores every
    /// interleaving, including a look after any change.
    pub period: Option<Duration>,
    /// Whether its local state accounts for its own writes until its view shows them (the scheduler's
    /// "assume" cache of its bindings). A live driver waits to see each write of any other controller
    /// before its next step, as upstream's expectations do; one that assumes its writes steps on at once,
    /// as upstream's scheduler binds while its cache catches up.
    pub assumes_own_writes: bool,
    /// How its behaviour depends on logical time, for a model checker that forgets what cannot matter (see
    /// [`TimeUse`]).
    pub time_use: TimeUse,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            reads: None,
            role: Role::Controller,
            period: None,
            assumes_own_writes: false,
            time_use: TimeUse::Absolute,
        }
    }
}

impl Profile {
    /// The node it is the agent of, if it is one.
    pub fn node(&self) -> Option<&str> {
        match &self.role {
            Role::NodeAgent { node } => Some(node),
            Role::Controller | Role::Environment => None,
        }
    }

    /// Whether its informers watch `kind`.
    pub fn watches(&self, kind: Kind) -> bool {
        self.reads.is_none_or(|kinds| kinds.contains(&kind))
    }
}

/// The part an actor plays in a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// A controller of a controller-manager (or the scheduler): a failed leader election can leave two
    /// instances running, which a model checker explores.
    Controller,
    /// The agent of one node (the kubelet). It reads only that node's pods (through
    /// [`ClusterView::pods_on_node`](super::ClusterView::pods_on_node)), the Node and the Lease named for
    /// it, and objects of its other kinds; a live driver running thousands of them wakes each only for
    /// changes to those (see [`node_of_change`](super::node_of_change)), as upstream's kubelet watches
    /// through field selectors. A node has one agent.
    NodeAgent {
        /// The node's name.
        node: String,
    },
    /// A stand-in for the world outside the control plane in a test (marking pods ready as upstream's
    /// integration tests do by hand): never duplicated.
    Environment,
}

impl Role {
    /// Whether a second instance of the actor can run beside the first (a duplicate controller-manager).
    pub fn may_run_twice(&self) -> bool {
        matches!(self, Role::Controller)
    }
}
