//! Durable storage: the [`Backend`] trait and its embedded implementation on redb.
//!
//! A backend stores two things: the current version of every object, and the history of committed
//! revisions (the events of each write) back to the last compaction, so that a restarted server can
//! serve watches from a revision it acknowledged before the restart. The [`crate::store::Store`] above a
//! backend decides revisions (with the shared `apply()`), batches writes for group commit and keeps the
//! watch cache; a backend only makes batches durable. That split is what an etcd backend needs too:
//! etcd would take the place of the log, and its revisions would be checked against ours.

mod codec;
pub mod encryption;
mod redb_backend;

pub use codec::{decode_object, encode_object};
pub use redb_backend::RedbBackend;

use std::sync::Arc;
use themelios_api::StoredObject;

/// What a watch event says happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum EventType {
    /// The object was created.
    #[serde(rename = "ADDED")]
    Added,
    /// The object was replaced by a new version.
    #[serde(rename = "MODIFIED")]
    Modified,
    /// The object was removed; the event carries its last version.
    #[serde(rename = "DELETED")]
    Deleted,
}

/// One change to one object at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    /// The revision of the write.
    pub revision: u64,
    /// Added, modified or deleted.
    pub event_type: EventType,
    /// The new version (for a deletion: the last version, stamped with the deletion's revision).
    pub object: Arc<StoredObject>,
    /// The version before this write, if there was one: a filtered watch needs it to tell an object that
    /// stopped matching its selector (sent as DELETED) from one it never saw.
    pub previous: Option<Arc<StoredObject>>,
}

/// Everything one request wrote: all its events carry one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedRevision {
    /// The revision.
    pub revision: u64,
    /// The events, in the order the writes were made.
    pub events: Vec<WatchEvent>,
}

/// What a backend holds when the server starts.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The latest committed revision (0 for a new store).
    pub revision: u64,
    /// History at or below this revision has been compacted away.
    pub compacted: u64,
    /// The current version of every object.
    pub objects: Vec<Arc<StoredObject>>,
    /// The committed revisions above `compacted`, oldest first.
    pub history: Vec<CommittedRevision>,
}

/// A storage failure. The store stops accepting writes after one: what is acknowledged stays durable, and
/// nothing later is acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database reported an error.
    #[error("storage: {0}")]
    Database(String),
    /// A stored record could not be decoded.
    #[error("storage: corrupt record {key}: {reason}")]
    Corrupt {
        /// The record's key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl StorageError {
    pub(crate) fn database(error: impl std::fmt::Display) -> Self {
        StorageError::Database(error.to_string())
    }
}

/// A durable store of objects and their history.
///
/// ```
/// use themelios_apiserver::storage::{Backend, RedbBackend};
/// let dir = tempfile::tempdir().unwrap();
/// let mut backend = RedbBackend::open(&dir.path().join("db.redb")).unwrap();
/// let loaded = backend.load().unwrap();
/// assert_eq!(loaded.revision, 0);
/// ```
pub trait Backend: Send + 'static {
    /// Reads the current objects and the retained history.
    fn load(&mut self) -> Result<Loaded, StorageError>;
    /// Makes a batch of committed revisions durable, atomically: when this returns `Ok`, every one of them
    /// survives a crash. Revisions arrive in increasing order with no gaps.
    fn append(&mut self, batch: &[CommittedRevision]) -> Result<(), StorageError>;
    /// Forgets the history at or below `through`; watches from older revisions then get 410 Gone.
    fn compact(&mut self, through: u64) -> Result<(), StorageError>;
}
