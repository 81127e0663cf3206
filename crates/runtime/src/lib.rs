//! # themelios-runtime
//!
//! The live driver: the same pure controllers the model checker explores, run against a real Kubernetes
//! API server. Informers ([`informer`]) keep a per-kind cache of the kinds each controller reads; the
//! [`driver`] builds a `ClusterView` from it, runs `step`, turns the `Op` into a request ([`request`])
//! and reports the outcome back. No controller logic lives here.

#![warn(missing_docs)]

pub mod cache;
pub mod driver;
pub mod events;
pub mod informer;
pub mod leader;
pub mod request;

pub use driver::{run, DriverOptions};
