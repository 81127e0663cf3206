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
/// let cron = TimeUse::Calendar { longest_seconds: 0, periods: 101 };
/// assert_eq!(backoff.and(cron), TimeUse::Calendar { longest_seconds: 300, periods: 101 });
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
    /// It reads calendar time through the cron schedules of the CronJobs in the state, and otherwise as
    /// [`TimeUse::Relative`] says. Where every schedule repeats within a day (its day-of-month, month and
    /// day-of-week fields are `*`, in UTC), behaviour repeats with the schedules' common period: states that
    /// differ by a shift of every time by whole periods — times in names too, as a CronJob's Job is named
    /// after its scheduled minute — behave alike. It may compare the distance of a time from `now` with up
    /// to `periods` periods besides `longest_seconds` (a CronJob looks back that far for missed schedules).
    Calendar {
        /// The longest duration of its own, as for [`TimeUse::Relative`].
        longest_seconds: i64,
        /// How many periods back from `now` a time still counts by its distance.
        periods: i64,
    },
    /// It reads calendar time in ways that do not repeat: states that differ only in time are different.
    Absolute,
}

impl TimeUse {
    /// What a set of controllers together can tell about time.
    pub fn and(self, other: TimeUse) -> TimeUse {
        match (self, other) {
            (TimeUse::Relative { longest_seconds: a }, TimeUse::Relative { longest_seconds: b }) => {
                TimeUse::Relative { longest_seconds: a.max(b) }
            }
            (TimeUse::Absolute, _) | (_, TimeUse::Absolute) => TimeUse::Absolute,
            (a, b) => TimeUse::Calendar {
                longest_seconds: a.longest_seconds().max(b.longest_seconds()),
                periods: a.periods().max(b.periods()),
            },
        }
    }

    fn longest_seconds(self) -> i64 {
        match self {
            TimeUse::Relative { longest_seconds } | TimeUse::Calendar { longest_seconds, .. } => longest_seconds,
            TimeUse::Absolute => 0,
        }
    }

    fn periods(self) -> i64 {
        match self {
            TimeUse::Calendar { periods, .. } => periods,
            _ => 0,
        }
    }
}
