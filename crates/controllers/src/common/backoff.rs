//! Retry backoff in logical time, per key, as a rate-limited work queue gives it.

use crate::framework::{Outcome, Timers};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use themelios_api::time::Deadline;
use themelios_api::{Op, Reason, Time};

/// The longest a [`Backoff`] waits by default, in seconds: a rate-limited work queue's cap as the
/// controller-manager's controllers have it.
pub const BACKOFF_CAP_SECONDS: i64 = 300;

/// Exponential per-key backoff: `FIRST` s, then twice as long after every further failure, capped at
/// `CAP` s — 1 s, 2 s, 4 s … 300 s by default, as upstream's rate-limited work queues give it. Periodic
/// loops (pod GC, node monitoring) retry at their next pass instead: `FIRST == CAP ==` the period.
///
/// Failures are counted only up to the first count whose delay is the cap: more of them change no retry
/// time, and counting them would make a controller that keeps failing at one instant (a write conflicting
/// with a cache that has not caught up yet) a new state on every try — an endless chain to a model
/// checker instead of a loop.
///
/// ```
/// use themelios_controllers::common::backoff::Backoff;
/// use themelios_api::Time;
/// let (mut ten, mut thousand) = (Backoff::<&str>::default(), Backoff::<&str>::default());
/// (0..9).for_each(|_| ten.fail(&"pod", Time(0)));
/// assert_eq!(ten.retry_at(&"pod", Time(0)), Some(Time(0).plus_seconds(256)));
/// ten.fail(&"pod", Time(0));
/// (0..1000).for_each(|_| thousand.fail(&"pod", Time(0)));
/// assert_eq!(ten.retry_at(&"pod", Time(0)), Some(Time(0).plus_seconds(300)));
/// assert_eq!(ten.retry_at(&"pod", Time(300)), None);
/// assert_eq!(ten, thousand);
///
/// // The scheduler's backoff queue: 1 s doubling up to 10 s.
/// let mut pod = Backoff::<&str, 1, 10>::default();
/// let waits: Vec<i64> = (0..6).map(|_| { pod.fail(&"p", Time(0)); pod.retry_at(&"p", Time(0)).unwrap().0 }).collect();
/// assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Backoff<K: Ord, const FIRST: i64 = 1, const CAP: i64 = BACKOFF_CAP_SECONDS> {
    /// Per key: the failures counted, and when the last one's wait ends.
    failures: BTreeMap<K, (u32, Deadline)>,
}

impl<K: Ord, const FIRST: i64, const CAP: i64> Default for Backoff<K, FIRST, CAP> {
    fn default() -> Self {
        Self { failures: BTreeMap::new() }
    }
}

/// The first failure count whose delay reaches `cap` when the first waits `first`.
const fn counted(first: i64, cap: i64) -> u32 {
    let (mut n, mut delay) = (1, first);
    while delay < cap {
        delay = delay.saturating_mul(2);
        n += 1;
    }
    n
}

impl<K: Ord + Clone, const FIRST: i64, const CAP: i64> Backoff<K, FIRST, CAP> {
    const COUNTED: u32 = counted(FIRST, CAP);

    /// Records a failure at `now`.
    pub fn fail(&mut self, key: &K, now: Time) {
        let entry = self.failures.entry(key.clone()).or_insert((0, Deadline::default()));
        entry.0 = (entry.0 + 1).min(Self::COUNTED);
        let delay = FIRST.checked_shl(entry.0 - 1).unwrap_or(i64::MAX).min(CAP);
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

/// Whether a write's outcome leaves nothing to retry: it succeeded, or its object is gone (upstream's
/// sync finds the key missing from the cache and forgets it).
pub fn settled(outcome: &Outcome) -> bool {
    match outcome {
        Ok(_) => true,
        Err(e) => e.reason == Reason::NotFound,
    }
}

/// Per-object retry bookkeeping for controllers that sync one object per step: which object the last
/// write was for, and the backoff its failures earned.
///
/// ```
/// use themelios_controllers::common::backoff::Retries;
/// use themelios_api::Time;
/// let mut r: Retries = Retries::default();
/// r.attempt("uid-1");
/// r.record(false, Time(100));
/// assert_eq!(r.blocked_until("uid-1", Time(100)), Some(Time(101)));
/// assert_eq!(r.blocked_until("uid-1", Time(101)), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Retries<const FIRST: i64 = 1, const CAP: i64 = BACKOFF_CAP_SECONDS> {
    backoff: Backoff<String, FIRST, CAP>,
    last: Option<String>,
}

impl<const FIRST: i64, const CAP: i64> Retries<FIRST, CAP> {
    /// Whether `key` is still backing off at `now`; if it is, the step wakes when it may be retried. For
    /// controllers that go through their objects in order and work on the first that needs it: the ones
    /// backing off are passed over, as a work queue holds back their keys while it serves the others.
    pub fn waiting(&self, key: &str, now: Time, timers: &mut Timers) -> bool {
        match self.blocked_until(key, now) {
            Some(at) => {
                timers.wake_at(at);
                true
            }
            None => false,
        }
    }
    /// When `key` may be worked on again, if it is still backing off at `now`.
    pub fn blocked_until(&self, key: &str, now: Time) -> Option<Time> {
        self.backoff.retry_at(&key.to_string(), now)
    }
    /// The first request `work` makes for an object of `objects` (keyed by uid) that is not backing off,
    /// noted as the next write.
    pub fn first_work<'o, T: 'o>(
        &mut self,
        objects: impl IntoIterator<Item = &'o T>,
        meta: impl Fn(&T) -> &ObjectMeta,
        now: Time,
        timers: &mut Timers,
        mut work: impl FnMut(&'o T) -> Option<Op>,
    ) -> Option<Op> {
        let (uid, op) = objects.into_iter().find_map(|object| {
            let uid = meta(object).uid.as_deref().unwrap_or("");
            if self.waiting(uid, now, timers) {
                return None;
            }
            Some((uid, work(object)?))
        })?;
        self.attempt(uid);
        Some(op)
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

/// Tells which objects are not backing off, remembering the earliest time one that is may be retried: for
/// steps that look through objects in several passes while their [`Timers`] are in use elsewhere.
pub struct Unblocked<'r, const FIRST: i64, const CAP: i64> {
    retries: &'r Retries<FIRST, CAP>,
    now: Time,
    retry_at: Option<Time>,
}

impl<'r, const FIRST: i64, const CAP: i64> Unblocked<'r, FIRST, CAP> {
    /// A filter over `retries` at `now`.
    pub fn new(retries: &'r Retries<FIRST, CAP>, now: Time) -> Self {
        Self { retries, now, retry_at: None }
    }

    /// Whether the object (keyed by uid) may be worked on now.
    pub fn ready(&mut self, meta: &ObjectMeta) -> bool {
        match self.retries.blocked_until(meta.uid.as_deref().unwrap_or(""), self.now) {
            Some(at) => {
                self.retry_at = Some(self.retry_at.map_or(at, |earlier| earlier.min(at)));
                false
            }
            None => true,
        }
    }

    /// Wakes the step when the first object passed over may be retried.
    pub fn wake(self, timers: &mut Timers) {
        if let Some(at) = self.retry_at {
            timers.wake_at(at);
        }
    }
}
