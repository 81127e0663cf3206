//! The step protocol every driver follows — the test harness, the model checker and the live runtime: what
//! one step decides ([`Step`], made by [`decide`](super::decide)) and when time moves next ([`Deadlines`]).
//! What a run is judged by is beside the properties ([`Violation`](super::Violation),
//! [`unmet_goals`](super::unmet_goals)).
//!
//! # Time
//!
//! A controller asks for two kinds of timer during a step, through its [`Timers`]:
//! - a **wake-up**: something will be due then even if nothing changes (a pod becomes available, a
//!   backoff ends, a deadline passes);
//! - a **heartbeat**: periodic upkeep (renewing a lease) that keeps the world as it is.
//!
//! Logical time moves only for a wake-up: when no actor has anything to do, time advances to the earliest
//! wake-up — or to an earlier heartbeat, which fires on the way so that upkeep keeps pace with time. A
//! system whose only timers are heartbeats is quiescent: moving time for them alone would never end, and
//! would change nothing a property reads. A driver whose time passes anyway (the live runtime, or a
//! harness run up to a given time) honours every timer, heartbeats included ([`Deadlines::earliest`]).

use themelios_api::{Op, Time};

/// Everything a controller decides in one step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Step {
    /// The one request it sends, if any.
    pub op: Option<Op>,
    /// When to run again even if nothing changes: the earliest wake-up asked for.
    pub wake_at: Option<Time>,
    /// When to run again for periodic upkeep: the earliest heartbeat asked for.
    pub heartbeat_at: Option<Time>,
}

/// The timers a controller asks for during one step: its explicit output besides the request it returns.
/// Times not after the step's own time are ignored (the controller runs again anyway if it has work).
///
/// ```
/// use themelios_api::Time;
/// use themelios_controllers::framework::Timers;
/// let mut timers = Timers::new(Time(100));
/// timers.wake_at(Time(130));
/// timers.wake_at(Time(110));
/// timers.wake_at(Time(90)); // in the past: nothing to wait for
/// assert_eq!(timers.wake(), Some(Time(110)));
/// ```
#[derive(Clone, Debug)]
pub struct Timers {
    now: Time,
    wake: Option<Time>,
    heartbeat: Option<Time>,
}

impl Timers {
    /// No timers yet, for a step at `now`.
    pub fn new(now: Time) -> Self {
        Self { now, wake: None, heartbeat: None }
    }

    /// Asks to run again at `at` even if nothing changes (e.g. when a pod becomes available).
    pub fn wake_at(&mut self, at: Time) {
        if at > self.now {
            self.wake = earliest(self.wake, Some(at));
        }
    }

    /// Asks to run at `at` for periodic upkeep (lease renewal); see the module docs for when drivers move
    /// time for it.
    pub fn heartbeat_at(&mut self, at: Time) {
        if at > self.now {
            self.heartbeat = earliest(self.heartbeat, Some(at));
        }
    }

    /// The earliest wake-up asked for.
    pub fn wake(&self) -> Option<Time> {
        self.wake
    }

    /// The earliest heartbeat asked for.
    pub fn heartbeat(&self) -> Option<Time> {
        self.heartbeat
    }
}

/// The timers of the actors that had nothing to do, gathered to decide when time moves next.
///
/// ```
/// use themelios_api::Time;
/// use themelios_controllers::framework::{Deadlines, Step};
/// let mut deadlines = Deadlines::default();
/// deadlines.add(&Step { heartbeat_at: Some(Time(10)), ..Step::default() });
/// // Heartbeats alone never move time...
/// assert_eq!(deadlines.next_time(), None);
/// deadlines.add(&Step { wake_at: Some(Time(30)), ..Step::default() });
/// // ...but fire on the way to a wake-up.
/// assert_eq!(deadlines.next_time(), Some(Time(10)));
/// assert_eq!(deadlines.earliest(), Some(Time(10)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deadlines {
    wake: Option<Time>,
    heartbeat: Option<Time>,
}

impl Deadlines {
    /// Adds the timers one step asked for.
    pub fn add(&mut self, step: &Step) {
        self.add_timers(step.wake_at, step.heartbeat_at);
    }

    /// Adds a wake-up and a heartbeat (kept apart from their step, as a model checker memoises them).
    pub fn add_timers(&mut self, wake: Option<Time>, heartbeat: Option<Time>) {
        self.wake = earliest(self.wake, wake);
        self.heartbeat = earliest(self.heartbeat, heartbeat);
    }

    /// The earliest wake-up, if any: whether work is still due later.
    pub fn wake(&self) -> Option<Time> {
        self.wake
    }

    /// Where logical time moves next when nothing else can happen: the earliest wake-up, or an earlier
    /// heartbeat on the way to it. `None` when only heartbeats (or nothing) are pending: quiescence.
    pub fn next_time(&self) -> Option<Time> {
        self.wake.map(|w| self.heartbeat.map_or(w, |h| h.min(w)))
    }

    /// The earliest timer of either kind, for a driver whose time passes anyway.
    pub fn earliest(&self) -> Option<Time> {
        earliest(self.wake, self.heartbeat)
    }
}

/// The earlier of two times, either of which may be absent.
fn earliest(a: Option<Time>, b: Option<Time>) -> Option<Time> {
    a.into_iter().chain(b).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_moves_for_wake_ups_and_stops_at_heartbeats_on_the_way() {
        let step = |wake: Option<i64>, heartbeat: Option<i64>| Step {
            op: None,
            wake_at: wake.map(Time),
            heartbeat_at: heartbeat.map(Time),
        };
        let next = |steps: &[Step]| {
            let mut d = Deadlines::default();
            steps.iter().for_each(|s| d.add(s));
            (d.next_time(), d.earliest())
        };
        assert_eq!(next(&[]), (None, None));
        assert_eq!(next(&[step(None, Some(5))]), (None, Some(Time(5))));
        assert_eq!(next(&[step(Some(20), None), step(None, Some(5))]), (Some(Time(5)), Some(Time(5))));
        assert_eq!(next(&[step(Some(20), Some(30))]), (Some(Time(20)), Some(Time(20))));
        assert_eq!(next(&[step(Some(20), None), step(Some(9), None)]), (Some(Time(9)), Some(Time(9))));
    }

    #[test]
    fn timers_in_the_past_are_ignored() {
        let mut timers = Timers::new(Time(50));
        timers.heartbeat_at(Time(50));
        timers.wake_at(Time(10));
        assert_eq!((timers.wake(), timers.heartbeat()), (None, None));
        timers.heartbeat_at(Time(70));
        timers.heartbeat_at(Time(60));
        assert_eq!(timers.heartbeat(), Some(Time(60)));
    }
}
