//! Retry backoff in logical time, per key, as a rate-limited work queue gives it.

use std::collections::BTreeMap;
use themelios_api::Time;

/// Exponential per-key backoff: 1 s, 2 s, 4 s … capped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Backoff<K: Ord> {
    failures: BTreeMap<K, (u32, Time)>,
}

impl<K: Ord + Clone> Backoff<K> {
    const CAP_SECONDS: i64 = 300;

    /// Records a failure at `now`.
    pub fn fail(&mut self, key: &K, now: Time) {
        let entry = self.failures.entry(key.clone()).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
    }

    /// Forgets the failures of `key` after a success.
    pub fn forget(&mut self, key: &K) {
        self.failures.remove(key);
    }

    /// When `key` may be retried (`None` if it has no failures).
    pub fn retry_at(&self, key: &K) -> Option<Time> {
        self.failures.get(key).map(|(count, at)| {
            let delay = 1i64.checked_shl(count.saturating_sub(1)).unwrap_or(i64::MAX).min(Self::CAP_SECONDS);
            at.plus_seconds(delay)
        })
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
        self.backoff.retry_at(&key.to_string()).filter(|at| *at > now)
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
