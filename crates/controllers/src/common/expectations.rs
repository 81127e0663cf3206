//! Expectations: the creates and deletes a controller has issued but not yet seen in its informers.
//!
//! Upstream lowers them on informer events; here a step lowers them when the view shows the effect, which
//! is the same thing for a level-triggered step. They expire after five minutes, as upstream's do
//! (the cause of kubernetes issue 129795 when a watch lags longer).

use std::collections::BTreeSet;
use themelios_api::Time;

/// How long expectations stay before they are considered satisfied anyway.
pub const EXPECTATIONS_TTL_SECONDS: i64 = 300;

/// The outstanding creates and deletes of one owner.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Expectations {
    /// Creates issued or planned whose outcome has not come back.
    pub creates_pending: u32,
    /// Names of created objects not yet seen.
    pub created: BTreeSet<String>,
    /// Uids of deleted objects still seen as live.
    pub deleted: BTreeSet<String>,
    /// When these were set.
    pub since: Time,
}

impl Expectations {
    /// Expectations for `creates` creates and the given deletes, set at `now`.
    pub fn new(creates: u32, deletes: impl IntoIterator<Item = String>, now: Time) -> Self {
        Self { creates_pending: creates, created: BTreeSet::new(), deleted: deletes.into_iter().collect(), since: now }
    }

    /// Lowers the expectations by what the view shows: `seen(name)` tells whether a created object is
    /// visible, `live(uid)` whether a deleted object is still live (present and not being deleted).
    pub fn observe(&mut self, seen: impl Fn(&str) -> bool, live: impl Fn(&str) -> bool) {
        self.created.retain(|name| !seen(name));
        self.deleted.retain(|uid| live(uid));
    }

    /// Whether nothing is outstanding, or the expectations have expired.
    pub fn satisfied(&self, now: Time) -> bool {
        let empty = self.creates_pending == 0 && self.created.is_empty() && self.deleted.is_empty();
        empty || now.seconds_since(self.since) >= EXPECTATIONS_TTL_SECONDS
    }
}
