//! The embedded backend: a redb database file.
//!
//! redb is a pure-Rust, copy-on-write B-tree store with ACID transactions whose commit fsyncs before it
//! returns (`Durability::Immediate`). One write transaction per batch of revisions is the group commit.

use super::codec::{decode_object, encode_object};
use super::{Backend, CommittedRevision, EventType, Loaded, StorageError, WatchEvent};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;
use themelios_api::{ObjectRef, StoredObject};

/// The current version of each object, keyed `Kind/namespace/name`.
const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
/// Each retained revision's events, as a JSON array.
const HISTORY: TableDefinition<u64, &[u8]> = TableDefinition::new("history");
/// `revision` (the latest) and `compacted`.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// redb's page cache: enough for the pages one group commit writes.
const REDB_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// A redb database holding objects, history and the revision counters.
pub struct RedbBackend {
    db: Database,
    encryption: super::encryption::Encryption,
}

impl RedbBackend {
    /// Opens (creating if absent) the database at `path`, readable by the owner only.
    ///
    /// A new database is initialised beside `path` and renamed into place, so a crash during the very
    /// first start leaves no file, or a complete empty database — never one that cannot be opened.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        Self::open_encrypted(path, super::encryption::Encryption::none())
    }

    /// [`RedbBackend::open`], with the resources `encryption` names sealed on disk (objects and the
    /// history of their revisions).
    pub fn open_encrypted(path: &Path, encryption: super::encryption::Encryption) -> Result<Self, StorageError> {
        if !path.exists() {
            create_empty(path)?;
        }
        crate::files::set_mode(path, crate::files::PRIVATE_FILE).map_err(StorageError::database)?;
        // The store serves every read from its in-memory snapshots and reads the database only when it
        // opens, so redb's page cache (1 GiB by default) would only hold pages nobody reads again.
        let db = Database::builder().set_cache_size(REDB_CACHE_BYTES).open(path).map_err(|e| {
            StorageError::database(format!(
                "{}: {e} (the file is not a store this server wrote, or it was damaged; restore it from a backup, or move it away to start with an empty store)",
                path.display()
            ))
        })?;
        Ok(Self { db, encryption })
    }
}

/// Initialises an empty database at a staging path and renames it to `path`.
fn create_empty(path: &Path) -> Result<(), StorageError> {
    use std::os::unix::fs::OpenOptionsExt;
    let staging = crate::files::staging_path(path);
    // A staging file is what a crash left of an earlier first start.
    let _ = std::fs::remove_file(&staging);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(crate::files::PRIVATE_FILE)
        .open(&staging)
        .map_err(StorageError::database)?;
    {
        let db = Database::builder().create(&staging).map_err(StorageError::database)?;
        let mut txn = db.begin_write().map_err(StorageError::database)?;
        txn.set_durability(redb::Durability::Immediate).map_err(StorageError::database)?;
        txn.open_table(OBJECTS).map_err(StorageError::database)?;
        txn.open_table(HISTORY).map_err(StorageError::database)?;
        txn.open_table(META).map_err(StorageError::database)?;
        txn.commit().map_err(StorageError::database)?;
    }
    std::fs::File::open(&staging).and_then(|f| f.sync_all()).map_err(StorageError::database)?;
    crate::files::rename_durably(&staging, path).map_err(StorageError::database)
}

fn object_key(reference: &ObjectRef) -> String {
    format!("{}/{}/{}", reference.kind.name(), reference.name.namespace, reference.name.name)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct EventRecord {
    #[serde(rename = "type")]
    event_type: EventType,
    object: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<serde_json::Value>,
}

fn encode_events(events: &[WatchEvent]) -> Vec<u8> {
    let records: Vec<EventRecord> = events
        .iter()
        .map(|e| EventRecord {
            event_type: e.event_type,
            object: themelios_api::json::to_value(e.object.object()),
            previous: e.previous.as_ref().map(|p| themelios_api::json::to_value(p.object())),
        })
        .collect();
    themelios_api::json::to_vec(&records)
}

fn decode_events(revision: u64, bytes: &[u8]) -> Result<Vec<WatchEvent>, StorageError> {
    let corrupt = |reason: String| StorageError::Corrupt { key: format!("history/{revision}"), reason };
    let records: Vec<EventRecord> = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    records
        .into_iter()
        .map(|r| {
            let object = super::codec::decode_value(r.object).map_err(corrupt)?;
            let previous = r.previous.map(super::codec::decode_value).transpose().map_err(corrupt)?;
            Ok(WatchEvent {
                revision,
                event_type: r.event_type,
                object: StoredObject::new(object),
                previous: previous.map(StoredObject::new),
            })
        })
        .collect()
}

impl Backend for RedbBackend {
    fn load(&mut self) -> Result<Loaded, StorageError> {
        let txn = self.db.begin_read().map_err(StorageError::database)?;
        let mut loaded = Loaded::default();
        match txn.open_table(META) {
            Ok(meta) => {
                loaded.revision = meta.get("revision").map_err(StorageError::database)?.map(|v| v.value()).unwrap_or(0);
                loaded.compacted =
                    meta.get("compacted").map_err(StorageError::database)?.map(|v| v.value()).unwrap_or(0);
            }
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(loaded),
            Err(e) => return Err(StorageError::database(e)),
        }
        let objects = txn.open_table(OBJECTS).map_err(StorageError::database)?;
        for entry in objects.iter().map_err(StorageError::database)? {
            let (key, value) = entry.map_err(StorageError::database)?;
            let corrupt = |reason| StorageError::Corrupt { key: key.value().to_string(), reason };
            let plain = self.encryption.open(key.value(), value.value()).map_err(corrupt)?;
            let object = decode_object(&plain).map_err(corrupt)?;
            loaded.objects.push(StoredObject::new(object));
        }
        let history = txn.open_table(HISTORY).map_err(StorageError::database)?;
        for entry in history.range(loaded.compacted + 1..).map_err(StorageError::database)? {
            let (revision, value) = entry.map_err(StorageError::database)?;
            let revision = revision.value();
            let context = format!("history/{revision}");
            let plain = self
                .encryption
                .open(&context, value.value())
                .map_err(|reason| StorageError::Corrupt { key: context.clone(), reason })?;
            loaded.history.push(CommittedRevision { revision, events: decode_events(revision, &plain)? });
        }
        Ok(loaded)
    }

    fn append(&mut self, batch: &[CommittedRevision]) -> Result<(), StorageError> {
        let Some(last) = batch.last() else { return Ok(()) };
        let mut txn = self.db.begin_write().map_err(StorageError::database)?;
        // Immediate (redb's default, stated here because the server's guarantee rests on it): commit
        // returns only after the data is on disk (fsync), so nothing is acknowledged before that.
        txn.set_durability(redb::Durability::Immediate).map_err(StorageError::database)?;
        {
            let mut objects = txn.open_table(OBJECTS).map_err(StorageError::database)?;
            let mut history = txn.open_table(HISTORY).map_err(StorageError::database)?;
            let sealing = |kind, context: &str, plain| {
                self.encryption
                    .seal(kind, context, plain)
                    .map_err(|reason| StorageError::Corrupt { key: context.to_string(), reason })
            };
            for committed in batch {
                // A revision's events are sealed whole when any of them is of an encrypted kind.
                let encrypted =
                    committed.events.iter().map(|e| e.object.object().kind()).find(|k| self.encryption.encrypts(*k));
                let events = encode_events(&committed.events);
                let events = match encrypted {
                    Some(kind) => sealing(kind, &format!("history/{}", committed.revision), events)?,
                    None => events,
                };
                history.insert(committed.revision, events.as_slice()).map_err(StorageError::database)?;
                for event in &committed.events {
                    let key = object_key(&ObjectRef::of(event.object.object()));
                    match event.event_type {
                        EventType::Deleted => {
                            objects.remove(key.as_str()).map_err(StorageError::database)?;
                        }
                        EventType::Added | EventType::Modified => {
                            let object = event.object.object();
                            let stored = sealing(object.kind(), &key, encode_object(object))?;
                            objects.insert(key.as_str(), stored.as_slice()).map_err(StorageError::database)?;
                        }
                    }
                }
            }
            let mut meta = txn.open_table(META).map_err(StorageError::database)?;
            meta.insert("revision", last.revision).map_err(StorageError::database)?;
        }
        txn.commit().map_err(StorageError::database)
    }

    fn compact(&mut self, through: u64) -> Result<(), StorageError> {
        let txn = self.db.begin_write().map_err(StorageError::database)?;
        {
            let mut history = txn.open_table(HISTORY).map_err(StorageError::database)?;
            history.retain_in(..=through, |_, _| false).map_err(StorageError::database)?;
            let mut meta = txn.open_table(META).map_err(StorageError::database)?;
            meta.insert("compacted", through).map_err(StorageError::database)?;
        }
        txn.commit().map_err(StorageError::database)
    }
}
