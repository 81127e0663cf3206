//! # themelios-apiserver
//!
//! A Kubernetes-compatible API server: the shared API semantics of `themelios-api` behind HTTP, on an
//! embedded durable store.
//!
//! Layers, each a module: [`http`] (authentication, routing, content negotiation, discovery, tables,
//! watch streams) → [`patch`] (patch engines) → [`store`] (the shared `apply()`, group commit, snapshots) →
//! [`watch_cache`] → [`storage`] (the durable [`storage::Backend`], redb by default). [`serve`] starts it.

#![warn(missing_docs)]

pub mod auth;
pub mod connections;
pub mod credentials;
pub mod fieldmanager;
pub mod files;
pub mod http;
pub mod packed_fields;
pub mod patch;
pub mod schema;
pub mod serve;
pub mod snapshot;
pub mod storage;
pub mod store;
pub mod watch_cache;
