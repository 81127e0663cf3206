//! Patch engines: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

pub mod json_patch;
pub mod merge;
pub mod strategic;

/// A patch that cannot be applied; the server answers 422 (or 400 for a malformed patch).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document is not what its media type requires.
    #[error("{0}")]
    Malformed(String),
    /// The patch is well-formed but cannot be applied to this document (a failed `test`, a missing path).
    #[error("{0}")]
    Inapplicable(String),
}
