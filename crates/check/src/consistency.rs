//! Consistency models: what a read may return, and where a restarted component lists from.
//!
//! Writes are always checked against the latest revision with the shared `apply()`. Reads differ:
//!
//! | model | reads | after a restart |
//! |---|---|---|
//! | `linearizable` | the latest revision | the latest revision |
//! | `monotonic-session` | a snapshot that only moves forward | its own snapshot (monotonic across restarts) |
//! | `resettable-session` | a snapshot that only moves forward | a lagging API server's cache (may go back) |
//! | `lagging-informers` | one cache per kind, each catching up on its own | a lagging API server's cache |
//! | `read-your-writes` | as `lagging-informers`, but a step waits until every cache has seen the actor's own last write (KEP-5647) | a lagging API server's cache |
//! | `consistent-list` | as `lagging-informers` | the latest revision (KEP-2340) |
//! | `read-your-writes+consistent-list` | both mitigations | the latest revision |
//! | `causal` | one snapshot moving forward, never behind the actor's own writes (monotonic reads, read-your-writes) | a new session: a lagging API server's cache |
//! | `optimistic` | its own per-kind caches, or — on any step — a lagging API server's cache | a lagging API server's cache |
//!
//! How long a cache may stay behind is the [`Staleness`], chosen for the whole model.

use std::fmt;

/// How an actor's reads relate to the latest revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reads {
    /// Always the latest revision.
    Latest,
    /// One snapshot of every kind, moving forward as a whole.
    Session,
    /// One snapshot per kind, each moving forward on its own.
    PerKind,
    /// As `PerKind`, but any step may instead read a lagging API server's cache (any retained revision).
    Any,
}

/// Where a restarted actor's first list comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Relist {
    /// The latest revision (a consistent read).
    Latest,
    /// The actor keeps what it had.
    Own,
    /// A second API server's watch cache, which may lag behind what the actor saw.
    LaggingCache,
}

/// A consistency model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Consistency {
    /// How reads relate to the latest revision.
    pub reads: Reads,
    /// Where a restarted actor lists from.
    pub relist: Relist,
    /// Whether a step waits until the actor's caches have seen its own last write.
    pub read_your_writes: bool,
}

impl Consistency {
    /// Every named model.
    pub const NAMES: &'static [&'static str] = &[
        "linearizable",
        "monotonic-session",
        "resettable-session",
        "lagging-informers",
        "read-your-writes",
        "consistent-list",
        "read-your-writes+consistent-list",
        "causal",
        "optimistic",
    ];

    /// Reads and relists at the latest revision.
    pub const LINEARIZABLE: Self = Self { reads: Reads::Latest, relist: Relist::Latest, read_your_writes: false };

    /// Every named model, in the order of [`Self::NAMES`].
    pub fn all() -> Vec<Self> {
        Self::NAMES.iter().filter_map(|n| Self::named(n)).collect()
    }

    /// A model by name.
    pub fn named(name: &str) -> Option<Self> {
        let (reads, relist, read_your_writes) = match name {
            "linearizable" => (Reads::Latest, Relist::Latest, false),
            "monotonic-session" => (Reads::Session, Relist::Own, false),
            "resettable-session" => (Reads::Session, Relist::LaggingCache, false),
            "lagging-informers" => (Reads::PerKind, Relist::LaggingCache, false),
            "read-your-writes" => (Reads::PerKind, Relist::LaggingCache, true),
            "consistent-list" => (Reads::PerKind, Relist::Latest, false),
            "read-your-writes+consistent-list" => (Reads::PerKind, Relist::Latest, true),
            "causal" => (Reads::Session, Relist::LaggingCache, true),
            "optimistic" => (Reads::Any, Relist::LaggingCache, false),
            _ => return None,
        };
        Some(Self { reads, relist, read_your_writes })
    }

    /// The model's name.
    pub fn name(&self) -> &'static str {
        Self::NAMES.iter().copied().find(|n| Self::named(n) == Some(*self)).unwrap_or("custom")
    }
}

impl fmt::Display for Consistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How long a cache — an actor's, or the lagging API server's — may miss a write, in logical time.
///
/// ```
/// use themelios_check::consistency::Staleness;
/// assert_eq!(Staleness::named("below-timers"), Some(Staleness::BelowTimers));
/// assert_eq!(Staleness::default().name(), "unbounded");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Staleness {
    /// For ever: time moves on while a cache is behind, so timers (backoffs, expectations' expiry) fire
    /// on stale reads — a partitioned or stuck API server, kubernetes #59848. A state space can then grow
    /// without end along paths where a cache never catches up (a ReplicaSet controller creating a pod per
    /// expectation expiry, say), so BFS may not finish.
    #[default]
    Unbounded,
    /// Shorter than any timer: time does not move while a cache misses a write. Caches still lag, and
    /// independently, within an instant, as informers lag by milliseconds while controllers' timers run
    /// for seconds to minutes. With a finite environment the state space is finite.
    BelowTimers,
}

impl Staleness {
    /// Every staleness bound, by name.
    pub const NAMES: &'static [&'static str] = &["unbounded", "below-timers"];

    /// A staleness bound by name.
    pub fn named(name: &str) -> Option<Self> {
        [Self::Unbounded, Self::BelowTimers].into_iter().find(|s| s.name() == name)
    }

    /// Its name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Unbounded => "unbounded",
            Self::BelowTimers => "below-timers",
        }
    }
}

impl fmt::Display for Staleness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
