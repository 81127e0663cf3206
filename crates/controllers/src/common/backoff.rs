//! Retry backoff in logical time, per key, as a rate-limited work queue gives it.

use std::collections::BTreeMap;
use themelios_api::time::Deadline;
use themelios_api::Time;

/// The longest a [`Backoff`] waits, in seconds.
pub const BACKOFF_CAP_SECONDS: i64 = 300;

/// Exponential per-key backoff: 1 s, 2 s, 4 s … capped at [`BACKOFF_CAP_SECONDS`].
///
/// Failures are counted only up to the first count whose delay is the cap: more of them change no retry
/// time, and counting them would make a controller that keeps failing at one instant (a write conflicting
/// with a cache that has not caught up yet) a new state on every try — an endless chain to a model
/// checker instead of a loop.
///
/// ```
/// use themelios_controllers::common::backoff::Backoff;
/// use themelios_api::Time;
/// let (mut ten, mut thousand) = (Backoff::default(), Backoff::default());
/// (0..9).for_each(|_| ten.fail(&"pod", Time(0)));
/// assert_eq!(ten.retry_at(&"pod", Time(0)), Some(Time(0).plus_seconds(256)));
/// ten.fail(&"pod", Time(0));
/// (0..1000).for_each(|_| thousand.fail(&"pod", Time(0)));
/// assert_eq!(ten.retry_at(&"pod", Time(0)), Some(Time(0).plus_seconds(300)));
/// assert_eq!(ten.retry_at(&"pod", Time(300)), None);
/// assert_eq!(ten, thousand);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Backoff<K: Ord> {
    /// Per key: the failures counted, and when the last one's wait ends.
    failures: BTreeMap<K, (u32, Deadline)>,
}

impl<K: Ord + Clone> Backoff<K> {
    /// The first failure count whose delay reaches the cap: the count n waits 2^(n-1) s.
    const COUNTED: u32 = (BACKOFF_CAP_SECONDS as u64).next_power_of_two().trailing_zeros() + 1;

    /// Records a failure at `now`.
    pub fn fail(&mut self, key: &K, now: Time) {
        let entry = self.failures.entry(key.clone()).or_insert((0, Deadline::default()));
        entry.0 = (entry.0 + 1).min(Self::COUNTED);
        let delay = 1i64.checked_shl(entry.0 - 1).unwrap_or(i64::MAX).min(BACKOFF_CAP_SECONDS);
        entry.1 = Deadline::after(now, delay);
    }

    /// Forgets the failures of `key` after a success.
    pub fn forget(&mut self, key: &K) {
        self.failures.remove(key);
    }

    /// When `key` may be retried, if it is still backing off at `now`.
    pub fn retry_at(&self, key: &K, now: Time) -> Option<Time> {
        self.failures.get(key).and_then(|(_, until)| until.pending(now))
    }
}

/// Per-object retry bookkeeping for controllers that sync one object per step: which object the last
/// write was for, and the backoff its failures earned.
///
/// ```
/// use themelios_controllers::common::backoff::Retries;
/// use themelios_api::Time;
/// let mut r = Retries::default();
/// r.attempt("uid-1");
/// r.record(false, Time(100));
/// assert_eq!(r.blocked_until("uid-1", Time(100)), Some(Time(101)));
/// assert_eq!(r.blocked_until("uid-1", Time(101)), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Retries {
    backoff: Backoff<String>,
    last: Option<String>,
}

impl Retries {
    /// When `key` may be worked on again, if it is still backing off at `now`.
    pub fn blocked_until(&self, key: &str, now: Time) -> Option<Time> {
        self.backoff.retry_at(&key.to_string(), now)
    }
    /// Notes that the next write is for `key`.
    pub fn attempt(&mut self, key: &str) {
        self.last = Some(key.to_string());
    }
    /// Records the outcome of the last write.
    pub fn record(&mut self, succeeded: bool, now: Time) {
        let Some(key) = self.last.clone() else { return };
        if succeeded {
            self.backoff.forget(&key);
        } else {
            self.backoff.fail(&key, now);
        }
    }
}
