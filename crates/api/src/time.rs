//! Logical time. The model checker and the harness advance it explicitly; the live runtime maps it to the
//! wall clock. Kubernetes timestamps have one-second resolution, and so does [`Time`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch.
///
/// ```
/// use themelios_api::Time;
/// let t = Time::EPOCH.plus_seconds(90);
/// assert_eq!(Time::from_k8s(&t.to_k8s()), t);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Time(pub i64);

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

impl std::fmt::Display for Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_k8s().0)
    }
}
