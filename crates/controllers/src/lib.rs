//! # themelios-controllers
//!
//! Kubernetes controllers as pure step functions — `step(view, local) -> Option<Op>` — each with its
//! guarantees as properties beside it, and a deterministic harness that runs them against the shared API
//! semantics.

#![warn(missing_docs)]

pub mod common;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod events;
pub mod fixtures;
pub mod framework;
pub mod garbagecollector;
pub mod harness;
pub mod job;
pub mod kubelet;
pub mod namespace;
pub mod nodelifecycle;
pub mod podgc;
pub mod registry;
pub mod replicaset;
pub mod rootcacert;
pub mod scheduler;
pub mod serviceaccount;
pub mod statefulset;
pub mod ttlafterfinished;
pub mod volumeprotection;

use framework::Property;

/// Every property of every controller in this crate.
pub fn all_properties() -> Vec<Property> {
    registry::ALL.iter().flat_map(|r| (r.properties)()).collect()
}
