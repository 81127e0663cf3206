//! Logical time. The model checker and the harness advance it explicitly; the live runtime maps it to the
//! wall clock. Kubernetes timestamps have one-second resolution, and so does [`Time`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch.
///
/// `Hash` writes a time as a tagged *time token* (see [`TIME_TOKEN_TAG`]), so a model checker's hasher can
/// find the times in a controller's memory and hash them relative to the current time.
///
/// ```
/// use themelios_api::Time;
/// let t = Time::EPOCH.plus_seconds(90);
/// assert_eq!(Time::from_k8s(&t.to_k8s()), t);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Time(pub i64);

/// `Hash` writes a [`Time`] as a `u128`: this tag in the top 32 bits and the seconds in the low 64.
pub const TIME_TOKEN_TAG: u128 = 0x7e3e_71e0 << 96;
/// `Hash` writes a [`Deadline`] as a `u128`: this tag in the top 32 bits and the seconds in the low 64.
pub const DEADLINE_TOKEN_TAG: u128 = 0x7e3e_71e1 << 96;

impl std::hash::Hash for Time {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(self.token());
    }
}

impl Time {
    /// The logical start of every harness and model run: 2025-01-01T00:00:00Z.
    pub const EPOCH: Time = Time(1_735_689_600);

    /// This time plus `seconds` (which may be negative).
    pub fn plus_seconds(self, seconds: i64) -> Time {
        Time(self.0.saturating_add(seconds))
    }

    /// The wall clock, for the live API server and runtime. Controllers never call it: they read
    /// `ClusterView::now`, which the model checker and the harness advance logically.
    pub fn wall_clock() -> Time {
        let seconds =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        Time(seconds)
    }

    /// Seconds from `earlier` to `self` (negative if `earlier` is later).
    pub fn seconds_since(self, earlier: Time) -> i64 {
        self.0 - earlier.0
    }

    /// This time as `Hash` writes it (see [`TIME_TOKEN_TAG`]).
    pub fn token(self) -> u128 {
        TIME_TOKEN_TAG | u128::from(self.0 as u64)
    }

    /// The time a token written by `Hash` carries; `None` for any other number.
    ///
    /// ```
    /// use themelios_api::Time;
    /// let t = Time::EPOCH.plus_seconds(-7);
    /// assert_eq!(Time::of_token(t.token()), Some(t));
    /// assert_eq!(Time::of_token(42), None);
    /// ```
    pub fn of_token(token: u128) -> Option<Time> {
        (token >> 64 == TIME_TOKEN_TAG >> 64).then_some(Time(token as u64 as i64))
    }

    /// As a Kubernetes `metav1.Time`.
    pub fn to_k8s(self) -> meta::Time {
        meta::Time(
            k8s_openapi::jiff::Timestamp::from_second(self.0).unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
        )
    }

    /// From a Kubernetes `metav1.Time` (sub-second parts are dropped).
    pub fn from_k8s(time: &meta::Time) -> Time {
        Time(time.0.as_second())
    }
}

/// The moment something falls due in a controller's memory: a backoff ends, expectations expire, a node
/// has been gone long enough. Behaviour may depend on a deadline only through whether it has passed at
/// `now` and, until it has, when it falls; so it offers nothing else (no order, no arithmetic), and a model
/// checker may hash every passed deadline alike — it finds them by their `Hash`, a tagged token (see
/// [`DEADLINE_TOKEN_TAG`]).
///
/// ```
/// use themelios_api::{time::Deadline, Time};
/// let due = Deadline::after(Time::EPOCH, 10);
/// assert_eq!(due.pending(Time::EPOCH.plus_seconds(9)), Some(Time::EPOCH.plus_seconds(10)));
/// assert!(!due.has_passed(Time::EPOCH.plus_seconds(9)));
/// assert!(due.has_passed(Time::EPOCH.plus_seconds(10)));
/// assert_eq!(due.pending(Time::EPOCH.plus_seconds(10)), None);
/// assert_eq!(Deadline::of_token(due.token()), Some(Time::EPOCH.plus_seconds(10)));
/// assert_eq!(Deadline::of_token(Time::EPOCH.token()), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline(Time);

impl Deadline {
    /// The deadline `seconds` after `now`.
    pub fn after(now: Time, seconds: i64) -> Self {
        Self(now.plus_seconds(seconds))
    }
    /// Whether it has passed at `now` (it passes at the moment it falls).
    pub fn has_passed(self, now: Time) -> bool {
        self.0 <= now
    }
    /// When it falls, if it has not passed at `now` (what to ask to be woken at).
    pub fn pending(self, now: Time) -> Option<Time> {
        (!self.has_passed(now)).then_some(self.0)
    }
    /// The deadline as `Hash` writes it.
    pub fn token(self) -> u128 {
        DEADLINE_TOKEN_TAG | u128::from(self.0 .0 as u64)
    }
    /// The moment a token written by `Hash` names; `None` for any other number.
    pub fn of_token(token: u128) -> Option<Time> {
        (token >> 64 == DEADLINE_TOKEN_TAG >> 64).then_some(Time(token as u64 as i64))
    }
}

impl std::hash::Hash for Deadline {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(self.token());
    }
}

impl std::fmt::Display for Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_k8s().0)
    }
}
