//! [`Store`]: the shared `apply()` in front of a durable [`Backend`], with group commit, published snapshots
//! and the watch cache.
//!
//! One writer at a time computes a request's [`Change`] against the latest (possibly not yet durable)
//! revision and queues it; a commit thread makes everything queued durable in one backend transaction, then
//! publishes the new snapshot to readers, feeds the watch cache and acknowledges the writers. Readers and
//! watchers therefore only ever see acknowledged — durable — revisions, and concurrent writers share
//! fsyncs instead of waiting for one each.

use crate::snapshot::Snapshot;
use crate::storage::{Backend, CommittedRevision, EventType, StorageError, WatchEvent};
use crate::watch_cache::WatchCache;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use themelios_api::{apply, ApiError, ApplyContext, Change, ObjectRef, Op, StateRead, StoredObject, Time, Write};
use tokio::sync::oneshot;

/// How a store is tuned.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// Revisions of history kept (in memory for watches, on disk for restarts); older ones are compacted.
    pub history: usize,
    /// Recent snapshots kept for paginated lists (`continue`) and exact-revision lists.
    pub snapshots: usize,
    /// At most this many revisions per group commit.
    pub max_batch: usize,
    /// How long the revision a paginated list reads stays readable after its last page, so a `continue`
    /// token works however many writes come between pages (upstream's tokens last until etcd compacts,
    /// every 5 minutes by default).
    pub pagination_retention: std::time::Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            history: 10_000,
            snapshots: 64,
            max_batch: 4096,
            pagination_retention: std::time::Duration::from_secs(300),
        }
    }
}

/// At most this many revisions are held for paginated lists at once; the least recently read goes first.
const MAX_PAGINATED: usize = 256;

/// A request that the writer has computed and queued for the commit thread.
struct Pending {
    committed: CommittedRevision,
    snapshot: Snapshot,
    done: oneshot::Sender<Result<(), String>>,
}

struct Writer {
    state: Snapshot,
    queue: mpsc::Sender<Pending>,
}

/// The readable side, shared with the commit thread.
struct Published {
    latest: RwLock<Snapshot>,
    recent: Mutex<VecDeque<Snapshot>>,
    /// Revisions held for paginated lists, by revision, with when a page of them was last read.
    paginated: Mutex<std::collections::BTreeMap<u64, (Snapshot, std::time::Instant)>>,
    pagination_retention: std::time::Duration,
    watch: WatchCache,
    failed: AtomicBool,
    commits: AtomicU64,
    snapshots: usize,
}

/// The API state of a server: reads, writes through `apply()`, and watches.
pub struct Store {
    writer: Mutex<Writer>,
    published: Arc<Published>,
    committer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Store {
    /// Closes the queue and waits for the commit thread to finish what it holds and release the backend,
    /// so the same data directory can be opened again at once.
    fn drop(&mut self) {
        let (closed, _) = mpsc::channel();
        let writer = self.writer.get_mut().unwrap_or_else(|e| e.into_inner());
        drop(std::mem::replace(&mut writer.queue, closed));
        if let Some(committer) = self.committer.take() {
            let _ = committer.join();
        }
    }
}

impl Store {
    /// Opens a store on a backend, loading what it holds, and starts the commit thread.
    pub fn open(mut backend: impl Backend, options: StoreOptions) -> Result<Self, StorageError> {
        let loaded = backend.load()?;
        let snapshot = Snapshot::from_objects(loaded.revision, loaded.objects);
        let watch = WatchCache::new(loaded.revision, loaded.compacted, loaded.history, options.history);
        let published = Arc::new(Published {
            latest: RwLock::new(snapshot.clone()),
            recent: Mutex::new(VecDeque::from([snapshot.clone()])),
            paginated: Mutex::default(),
            pagination_retention: options.pagination_retention,
            watch,
            failed: AtomicBool::new(false),
            commits: AtomicU64::new(0),
            snapshots: options.snapshots.max(1),
        });
        let (queue, receiver) = mpsc::channel();
        let committer = published.clone();
        let committer = std::thread::Builder::new()
            .name("themelios-commit".into())
            .spawn(move || commit_loop(backend, receiver, committer, loaded.compacted, options))
            .map_err(StorageError::database)?;
        Ok(Store { writer: Mutex::new(Writer { state: snapshot, queue }), published, committer: Some(committer) })
    }

    /// The latest acknowledged revision.
    pub fn snapshot(&self) -> Snapshot {
        self.published.latest.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A retained snapshot at exactly `revision`, if it is still held.
    pub fn snapshot_at(&self, revision: u64) -> Option<Snapshot> {
        let recent = self.published.recent.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = recent.iter().find(|s| s.revision() == revision) {
            return Some(found.clone());
        }
        drop(recent);
        self.paginated().get(&revision).map(|(snapshot, _)| snapshot.clone())
    }

    /// The revisions held for paginated lists, those past the retention dropped.
    fn paginated(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<u64, (Snapshot, std::time::Instant)>> {
        let mut paginated = self.published.paginated.lock().unwrap_or_else(|e| e.into_inner());
        let retention = self.published.pagination_retention;
        paginated.retain(|_, (_, used)| used.elapsed() < retention);
        paginated
    }

    /// Holds `snapshot` for the pagination retention from now: a list has handed out a `continue` token
    /// that reads it.
    pub fn hold_for_pagination(&self, snapshot: &Snapshot) {
        let mut paginated = self.paginated();
        paginated.insert(snapshot.revision(), (snapshot.clone(), std::time::Instant::now()));
        while paginated.len() > MAX_PAGINATED {
            let oldest = paginated.iter().min_by_key(|(_, (_, used))| *used).map(|(revision, _)| *revision);
            oldest.map(|revision| paginated.remove(&revision));
        }
    }

    /// The watch cache.
    pub fn watch_cache(&self) -> &WatchCache {
        &self.published.watch
    }

    /// How many group commits (backend transactions) have been made.
    pub fn commits(&self) -> u64 {
        self.published.commits.load(Ordering::Relaxed)
    }

    /// Applies `op` with the shared API semantics and waits until the result is durable; returns the
    /// object the API returns.
    pub async fn write(&self, op: &Op, now: Time) -> Result<Arc<StoredObject>, ApiError> {
        self.write_with(now, |_| Ok(op.clone())).await
    }

    /// Computes the request from the latest state (under the writer lock, so a read-modify-write such as a
    /// patch cannot lose a concurrent update), applies it and waits until it is durable.
    pub async fn write_with(
        &self,
        now: Time,
        request: impl FnOnce(&Snapshot) -> Result<Op, ApiError>,
    ) -> Result<Arc<StoredObject>, ApiError> {
        let (object, done) = {
            let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            if self.published.failed.load(Ordering::Acquire) {
                return Err(storage_failed());
            }
            let op = request(&writer.state)?;
            let change = apply(&writer.state, &op, &ApplyContext { now })?;
            if change.writes.is_empty() {
                return Ok(change.response);
            }
            let committed = events_of(&writer.state, &change);
            writer.state.commit(&change);
            let (done, acknowledged) = oneshot::channel();
            let pending = Pending { committed, snapshot: writer.state.clone(), done };
            if writer.queue.send(pending).is_err() {
                return Err(storage_failed());
            }
            (change.response, acknowledged)
        };
        match done.await {
            Ok(Ok(())) => Ok(object),
            Ok(Err(message)) => Err(ApiError::new(themelios_api::Reason::InternalError, message)),
            Err(_) => Err(storage_failed()),
        }
    }

    /// What `op` would do, without writing anything (`dryRun=All`).
    pub fn dry_run(
        &self,
        now: Time,
        request: impl FnOnce(&Snapshot) -> Result<Op, ApiError>,
    ) -> Result<Arc<StoredObject>, ApiError> {
        let state = self.writer.lock().unwrap_or_else(|e| e.into_inner()).state.clone();
        let op = request(&state)?;
        Ok(apply(&state, &op, &ApplyContext { now })?.response)
    }
}

fn storage_failed() -> ApiError {
    ApiError::new(themelios_api::Reason::InternalError, "storage failed; the server accepts no more writes")
}

/// The watch events of a change computed against `state`.
fn events_of(state: &Snapshot, change: &Change) -> CommittedRevision {
    let events = change
        .writes
        .iter()
        .map(|write| {
            let object = write.object().clone();
            let reference = ObjectRef::of(object.object());
            let previous = state.get(reference.kind, &reference.name);
            let event_type = match (write, &previous) {
                (Write::Remove(_), _) => EventType::Deleted,
                (Write::Put(_), Some(_)) => EventType::Modified,
                (Write::Put(_), None) => EventType::Added,
            };
            WatchEvent { revision: change.revision, event_type, object, previous }
        })
        .collect();
    CommittedRevision { revision: change.revision, events }
}

fn commit_loop(
    mut backend: impl Backend,
    queue: mpsc::Receiver<Pending>,
    published: Arc<Published>,
    mut compacted: u64,
    options: StoreOptions,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < options.max_batch {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let committed: Vec<CommittedRevision> = batch.iter().map(|p| p.committed.clone()).collect();
        if let Err(error) = backend.append(&committed) {
            published.failed.store(true, Ordering::Release);
            for pending in batch {
                let _ = pending.done.send(Err(error.to_string()));
            }
            // Later writers were computed on top of the failed ones: fail them too.
            while let Ok(pending) = queue.try_recv() {
                let _ = pending.done.send(Err(error.to_string()));
            }
            continue;
        }
        published.commits.fetch_add(1, Ordering::Relaxed);
        let latest_revision = committed.last().map_or(0, |c| c.revision);
        let mut dones = Vec::with_capacity(batch.len());
        let mut last_snapshot = None;
        for pending in batch {
            dones.push(pending.done);
            last_snapshot = Some(pending.snapshot);
        }
        if let Some(snapshot) = last_snapshot {
            *published.latest.write().unwrap_or_else(|e| e.into_inner()) = snapshot.clone();
            let mut recent = published.recent.lock().unwrap_or_else(|e| e.into_inner());
            recent.push_back(snapshot);
            while recent.len() > published.snapshots {
                recent.pop_front();
            }
        }
        published.watch.push(committed);
        for done in dones {
            let _ = done.send(Ok(()));
        }
        // Compact in steps of a tenth of the history, so compaction is rare and the history stays bounded.
        let keep = options.history as u64;
        if latest_revision > compacted + keep + keep / 10 {
            let through = latest_revision - keep;
            if backend.compact(through).is_ok() {
                compacted = through;
            }
        }
    }
}
