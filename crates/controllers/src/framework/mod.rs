//! The controller framework: the pure step trait, the view it reads, the step protocol every driver
//! follows, and properties.

mod controller;
mod index;
mod profile;
mod property;
mod step;
mod time_use;
mod view;
mod writes;

pub use controller::{decide, AnyController, Controller, DynLocal, LocalState, Outcome};
pub use index::{node_of_change, PodsByNode};
pub use profile::{Profile, Role};
pub use property::{
    first_safety_violation, unmet_goals, wasted_write, Check, Property, PropertyKind, Violation, NO_WASTED_WRITES,
};
pub use step::{Deadlines, Step, Timers};
pub use time_use::TimeUse;
pub use view::ClusterView;
pub use writes::{status_update, update, would_change};
