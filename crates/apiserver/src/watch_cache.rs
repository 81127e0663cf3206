//! The watch cache: the events of recent revisions in memory, and a signal when new ones arrive.
//!
//! Watchers do not get a channel each; they remember the last revision they sent and read what came
//! after it. A watch from a revision older than the cache holds gets `410 Gone`, as upstream.

use crate::storage::{CommittedRevision, WatchEvent};
use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

/// Recent events and the latest revision.
pub struct WatchCache {
    inner: RwLock<Inner>,
    latest: watch::Sender<u64>,
}

struct Inner {
    events: VecDeque<Arc<WatchEvent>>,
    /// Events at or below this revision are no longer held.
    compacted: u64,
    /// How many revisions to keep.
    capacity: usize,
    /// How many distinct revisions `events` covers.
    revisions: VecDeque<u64>,
}

/// A watch asked for history the cache no longer has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expired {
    /// The oldest revision a watch may start from.
    pub oldest: u64,
}

impl WatchCache {
    /// A cache at `revision` holding `history` (oldest first), keeping at most `capacity` revisions.
    pub fn new(revision: u64, compacted: u64, history: Vec<CommittedRevision>, capacity: usize) -> Self {
        let (latest, _) = watch::channel(revision);
        let cache = WatchCache {
            inner: RwLock::new(Inner {
                events: VecDeque::new(),
                compacted,
                capacity: capacity.max(1),
                revisions: VecDeque::new(),
            }),
            latest,
        };
        cache.push(history);
        cache.latest.send_replace(revision);
        cache
    }

    /// Adds committed revisions (in order) and wakes the watchers.
    pub fn push(&self, committed: Vec<CommittedRevision>) {
        let Some(last) = committed.last().map(|c| c.revision) else { return };
        {
            let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
            for revision in committed {
                inner.revisions.push_back(revision.revision);
                inner.events.extend(revision.events.into_iter().map(Arc::new));
            }
            while inner.revisions.len() > inner.capacity {
                if let Some(dropped) = inner.revisions.pop_front() {
                    inner.compacted = dropped;
                    while inner.events.front().is_some_and(|e| e.revision <= dropped) {
                        inner.events.pop_front();
                    }
                }
            }
        }
        self.latest.send_replace(last);
    }

    /// The events after `revision`, oldest first (at most `max`), or [`Expired`] if some are gone.
    pub fn events_after(&self, revision: u64, max: usize) -> Result<Vec<Arc<WatchEvent>>, Expired> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if revision < inner.compacted {
            return Err(Expired { oldest: inner.compacted });
        }
        let start = inner.events.partition_point(|e| e.revision <= revision);
        Ok(inner.events.range(start..).take(max).cloned().collect())
    }

    /// A receiver that changes whenever a revision is added.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    /// The oldest revision a watch may start from.
    pub fn oldest(&self) -> u64 {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).compacted
    }
}
