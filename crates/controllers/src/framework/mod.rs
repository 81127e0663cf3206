//! The controller framework: the pure step trait, the view it reads, and properties.

mod controller;
mod index;
mod property;
mod time_use;
mod view;

pub use controller::{AnyController, Controller, DynLocal, LocalState, Outcome};
pub use index::{node_of_change, PodsByNode};
pub use property::{first_safety_violation, Check, Property, PropertyKind};
pub use time_use::TimeUse;
pub use view::ClusterView;
