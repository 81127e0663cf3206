//! Helpers every workload controller shares: owner references, expectations, templates, backoff.

pub mod backoff;
pub mod expectations;
pub mod hash;
pub mod owner;
pub mod revision;
pub mod template;
