//! The controller framework: the pure step trait, the view it reads, and properties.

mod controller;
mod property;
mod view;

pub use controller::{AnyController, Controller, DynLocal, LocalState, Outcome};
pub use property::{first_safety_violation, Check, Property, PropertyKind};
pub use view::ClusterView;
