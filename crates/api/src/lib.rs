//! # themelios-api
//!
//! The Kubernetes API semantics Themelios shares between its model checker and its API server: object kinds,
//! the [`Op`] type (one API request), [`apply`](fn@apply) (what the server does to a request), validation and
//! defaulting, selectors, and [`ApiError`] (one Kubernetes `Status`).
//!
//! ```
//! use themelios_api::{apply, ApiState, ApplyContext, Op, Resource, Time, StateRead};
//! use k8s_openapi::api::core::v1::Namespace;
//!
//! let mut state = ApiState::default();
//! let mut ns = Namespace::default();
//! ns.metadata.name = Some("default".into());
//! let change = apply(&state, &Op::Create(ns.into_object()), &ApplyContext { now: Time::EPOCH }).unwrap();
//! state.commit(&change).unwrap();
//! assert_eq!(state.revision(), 1);
//! ```

#![warn(missing_docs)]

pub mod admission;
pub mod apply;
pub mod defaults;
pub mod error;
pub mod identity;
pub mod json;
pub mod kind;
mod kind_map;
pub mod manifest;
pub mod names;
pub mod op;
pub mod pod;
pub mod quantity;
pub mod rest;
pub mod schedule;
pub mod selector;
pub mod shape;
pub mod store;
mod stored;
pub mod time;
pub mod validation;
pub mod wire;

pub use apply::{apply, ApplyContext};
pub use error::{ApiError, FieldError, Reason};
pub use kind::{Kind, Object, Resource};
pub use op::{DeleteOptions, Op, Propagation};
pub use store::{ApiState, Change, ObjectName, ObjectRef, StateRead, StoredObject, Write};
pub use time::Time;
