//! [`TimeUse`]: what a controller's behaviour can tell about logical time, so that a model checker may
//! forget the rest.
//!
//! Two model states that differ only in time are one state when every controller would behave the same in
//! both. Most controllers compare times only by order (which pod was created first) and against `now`
//! with a bounded duration (a backoff, `minReadySeconds`, a lease): shifting every time in a state by the
//! same amount changes nothing they do, and a time further back than the longest duration they compare is
//! as good as any other equally ordered one. A cron schedule reads the calendar, and so tells apart states
//! that differ only by a shift.

/// How a controller's behaviour depends on logical time.
///
/// ```
/// use themelios_controllers::framework::TimeUse;
/// let backoff = TimeUse::Relative { longest_seconds: 300 };
/// let lease = TimeUse::Relative { longest_seconds: 40 };
/// assert_eq!(backoff.and(lease), backoff);
/// assert_eq!(backoff.and(TimeUse::Absolute), TimeUse::Absolute);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUse {
    /// Its behaviour depends on time only through the order of the times it reads (`now` included) and
    /// through how far a time is from `now` compared against a duration of at most `longest_seconds`
    /// (durations of its own), or against a duration an object names under a key that mentions seconds
    /// (`minReadySeconds`, `progressDeadlineSeconds`, an annotation `…/run-seconds`; see
    /// [`themelios_api::shape::Shape::longest_duration`]). It never compares two times other than by
    /// order except through `now`. What it keeps in memory only to wait for a moment is best kept as a
    /// [`themelios_api::time::Deadline`], which a checker forgets once passed, whatever its duration.
    Relative {
        /// The longest duration of its own it compares a time's distance from `now` against.
        longest_seconds: i64,
    },
    /// It reads calendar time (a cron schedule): states that differ only in time are different states.
    Absolute,
}

impl TimeUse {
    /// What a set of controllers together can tell about time.
    pub fn and(self, other: TimeUse) -> TimeUse {
        match (self, other) {
            (TimeUse::Relative { longest_seconds: a }, TimeUse::Relative { longest_seconds: b }) => {
                TimeUse::Relative { longest_seconds: a.max(b) }
            }
            _ => TimeUse::Absolute,
        }
    }
}
