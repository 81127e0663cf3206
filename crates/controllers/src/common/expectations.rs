//! Expectations: the creates and deletes a controller has issued but not yet seen in its informers.
//!
//! Upstream lowers them on informer events; here a step lowers them when the view shows the effect, which
//! is the same thing for a level-triggered step. They expire after five minutes, as upstream's do
//! (the cause of kubernetes issue 129795 when a watch lags longer).

use std::collections::BTreeSet;
use themelios_api::time::Deadline;
use themelios_api::Time;

/// How long expectations stay before they are considered satisfied anyway.
pub const EXPECTATIONS_TTL_SECONDS: i64 = 300;

/// The outstanding creates and deletes of one owner.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expectations {
    /// Creates issued or planned whose outcome has not come back.
    pub creates_pending: u32,
    /// Names of created objects not yet seen.
    pub created: BTreeSet<String>,
    /// Uids of deleted objects still seen as live.
    pub deleted: BTreeSet<String>,
    /// When these expire: [`EXPECTATIONS_TTL_SECONDS`] after they were last set.
    pub expires: Deadline,
}

/// Expectations with nothing outstanding are satisfied whatever their deadline, and only get something
/// outstanding again from [`Expectations::new`] or with [`Expectations::renew`], which set a new deadline:
/// so the deadline of empty expectations is not hashed (a model checker would otherwise tell apart states
/// that differ only in when an expectation long met was set).
///
/// ```
/// use themelios_controllers::common::expectations::Expectations;
/// use themelios_api::Time;
/// let met = |at: i64| Expectations::new(0, [], Time(at));
/// let waiting = |at: i64| Expectations::new(0, ["uid-1".to_string()], Time(at));
/// let state = std::hash::RandomState::new();
/// let hash = |e: &Expectations| std::hash::BuildHasher::hash_one(&state, e);
/// assert_eq!(hash(&met(0)), hash(&met(900)));
/// assert_ne!(hash(&waiting(0)), hash(&waiting(900)));
/// ```
impl std::hash::Hash for Expectations {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.creates_pending.hash(state);
        self.created.hash(state);
        self.deleted.hash(state);
        if !self.is_empty() {
            self.expires.hash(state);
        }
    }
}

impl Expectations {
    /// Whether nothing is outstanding.
    pub fn is_empty(&self) -> bool {
        self.creates_pending == 0 && self.created.is_empty() && self.deleted.is_empty()
    }

    /// Expectations for `creates` creates and the given deletes, set at `now`.
    pub fn new(creates: u32, deletes: impl IntoIterator<Item = String>, now: Time) -> Self {
        let deleted = deletes.into_iter().collect();
        Self { creates_pending: creates, created: BTreeSet::new(), deleted, expires: Self::expiry(now) }
    }

    /// Restarts the expiry clock at `now` (more was expected).
    pub fn renew(&mut self, now: Time) {
        self.expires = Self::expiry(now);
    }

    fn expiry(now: Time) -> Deadline {
        Deadline::after(now, EXPECTATIONS_TTL_SECONDS)
    }

    /// Lowers the expectations by what the view shows: `seen(name)` tells whether a created object is
    /// visible, `live(uid)` whether a deleted object is still live (present and not being deleted).
    pub fn observe(&mut self, seen: impl Fn(&str) -> bool, live: impl Fn(&str) -> bool) {
        self.created.retain(|name| !seen(name));
        self.deleted.retain(|uid| live(uid));
    }

    /// Whether nothing is outstanding, or the expectations have expired.
    pub fn satisfied(&self, now: Time) -> bool {
        self.is_empty() || self.expires.has_passed(now)
    }
}
