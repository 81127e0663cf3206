//! The controller framework: the pure step trait, the view it reads, and properties.

mod controller;
mod index;
mod property;
mod time_use;
mod view;
mod writes;

pub use controller::{AnyController, Controller, DynLocal, LocalState, Outcome};
pub use index::{node_of_change, PodsByNode};
pub use property::{first_safety_violation, wasted_write, Check, Property, PropertyKind, NO_WASTED_WRITES};
pub use time_use::TimeUse;
pub use view::ClusterView;
pub use writes::{status_update, update, would_change};
