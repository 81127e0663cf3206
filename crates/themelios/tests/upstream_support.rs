//! The upstream suites' own helpers, tested without an upstream control plane.

mod upstream;
