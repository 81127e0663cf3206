//! Posting the Events the controllers' requests imply (see `themelios_controllers::events`), correlated
//! as upstream's recorder correlates them (client-go's `EventCorrelator`):
//!
//! - **Aggregation.** Events alike but for their message (same source, involved object, type and reason)
//!   are posted one by one until [`MAX_SIMILAR`] different messages have been seen within
//!   [`AGGREGATION_WINDOW_SECONDS`]; after that they become one event, "(combined from similar events): …",
//!   whose count grows. A ReplicaSet creating 1,000 pods posts 11 SuccessfulCreate events, not 1,000 —
//!   which is what keeps a 50,000-pod cluster's events from costing more memory than its pods.
//! - **De-duplication.** An event identical to one already posted (or the combined event again) updates
//!   that event's count, last timestamp and message instead of creating another.
//!
//! ```
//! use themelios_controllers::events::{EventNote, Involved};
//! use themelios_runtime::events::{Correlator, Posting};
//! use themelios_api::{ObjectName, Time};
//!
//! let involved = Involved { kind: "ReplicaSet".into(), api_version: "apps/v1".into(),
//!     name: ObjectName::new("default", "web"), uid: "u1".into() };
//! let note = |pod: usize| EventNote { involved: involved.clone(), event_type: "Normal",
//!     reason: "SuccessfulCreate", message: format!("Created pod: web-{pod}"), component: "replicaset-controller" };
//! let mut correlator = Correlator::default();
//! let postings: Vec<Posting> = (0..12).map(|pod| correlator.correlate(&note(pod), Time::EPOCH)).collect();
//! assert!(postings[..10].iter().all(|p| matches!(p, Posting::Create(_))));
//! assert!(matches!(&postings[11], Posting::Update(event) if event.count == Some(2)));
//! ```

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use std::collections::{BTreeSet, HashMap};
use themelios_api::{ApiError, Op, Reason, Resource, Time};
use themelios_controllers::events::EventNote;

/// Different messages of alike events posted one by one before they are combined (upstream's
/// `maxEvents` of the aggregator).
pub const MAX_SIMILAR: usize = 10;

/// How long alike events count towards [`MAX_SIMILAR`] after the last of them (upstream: 10 minutes).
pub const AGGREGATION_WINDOW_SECONDS: i64 = 600;

/// Entries each of the correlator's two caches keeps (upstream's LRU size); the least recently used go first.
pub const CACHE_ENTRIES: usize = 4096;

/// What to send for one event.
#[derive(Clone, Debug, PartialEq)]
pub enum Posting {
    /// A new event.
    Create(Event),
    /// An event already posted, with its count, last timestamp and message brought up to date
    /// (if it has gone meanwhile, it is created again).
    Update(Event),
}

impl Posting {
    /// The request that posts it.
    pub fn op(&self) -> Op {
        match self {
            Posting::Create(event) => Op::Create(event.clone().into_object()),
            Posting::Update(event) => Op::Update(event.clone().into_object()),
        }
    }

    /// The request to send instead when [`Posting::op`] failed with `error`: an update of an event that
    /// has been deleted (or expired) creates it again.
    pub fn retry(&self, error: &ApiError) -> Option<Op> {
        match self {
            Posting::Update(event) if error.reason == Reason::NotFound => {
                let mut event = event.clone();
                event.metadata.resource_version = None;
                Some(Op::Create(event.into_object()))
            }
            _ => None,
        }
    }
}

/// Alike events: everything that identifies an event but its message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct AggregateKey {
    component: &'static str,
    involved_kind: String,
    involved: themelios_api::ObjectName,
    involved_uid: String,
    event_type: &'static str,
    reason: &'static str,
}

/// Identical events: alike and with the same message (`None` for the combined event of a group).
type EventKey = (AggregateKey, Option<String>);

struct Similar {
    messages: BTreeSet<String>,
    last: Time,
}

/// A small least-recently-used map: eviction drops the oldest quarter at once, so it is rare.
struct Lru<K, V> {
    entries: HashMap<K, (u64, V)>,
    clock: u64,
}

impl<K: std::hash::Hash + Eq + Clone, V> Default for Lru<K, V> {
    fn default() -> Self {
        Self { entries: HashMap::new(), clock: 0 }
    }
}

impl<K: std::hash::Hash + Eq + Clone, V> Lru<K, V> {
    fn entry(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        self.clock += 1;
        if self.entries.len() >= CACHE_ENTRIES && !self.entries.contains_key(&key) {
            let mut ages: Vec<u64> = self.entries.values().map(|(used, _)| *used).collect();
            ages.sort_unstable();
            let cutoff = ages[CACHE_ENTRIES / 4];
            self.entries.retain(|_, (used, _)| *used > cutoff);
        }
        let clock = self.clock;
        let slot = self.entries.entry(key).or_insert_with(|| (clock, make()));
        slot.0 = clock;
        &mut slot.1
    }
}

/// Upstream's event correlation for one component: see the module documentation.
#[derive(Default)]
pub struct Correlator {
    similar: Lru<AggregateKey, Similar>,
    posted: Lru<EventKey, Event>,
}

impl Correlator {
    /// What to send for `note` at `now`, remembering it for the events that follow.
    pub fn correlate(&mut self, note: &EventNote, now: Time) -> Posting {
        let alike = AggregateKey {
            component: note.component,
            involved_kind: note.involved.kind.clone(),
            involved: note.involved.name.clone(),
            involved_uid: note.involved.uid.clone(),
            event_type: note.event_type,
            reason: note.reason,
        };
        let similar = self.similar.entry(alike.clone(), || Similar { messages: BTreeSet::new(), last: now });
        if now.seconds_since(similar.last) > AGGREGATION_WINDOW_SECONDS {
            similar.messages.clear();
        }
        similar.last = now;
        similar.messages.insert(note.message.clone());
        let (key, message) = if similar.messages.len() <= MAX_SIMILAR {
            ((alike, Some(note.message.clone())), note.message.clone())
        } else {
            // Keep the set at the threshold, so every later message is combined too.
            similar.messages.pop_first();
            ((alike, None), format!("(combined from similar events): {}", note.message))
        };
        let mut fresh = false;
        let event = self.posted.entry(key, || {
            fresh = true;
            new_event(note, now)
        });
        if fresh {
            event.message = Some(message);
            return Posting::Create(event.clone());
        }
        event.count = Some(event.count.unwrap_or(1) + 1);
        event.last_timestamp = Some(now.to_k8s());
        event.message = Some(message);
        Posting::Update(event.clone())
    }
}

/// A core/v1 Event for a note, named as upstream's recorder names them (`<object>.<hex>`).
fn new_event(note: &EventNote, now: Time) -> Event {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let namespace = if note.involved.name.namespace.is_empty() {
        "default".to_string()
    } else {
        note.involved.name.namespace.clone()
    };
    let mut event = Event::default();
    event.metadata.name = Some(format!("{}.{nanos:x}", note.involved.name.name));
    event.metadata.namespace = Some(namespace);
    event.involved_object = ObjectReference {
        kind: Some(note.involved.kind.clone()),
        api_version: Some(note.involved.api_version.clone()),
        namespace: Some(note.involved.name.namespace.clone()).filter(|n| !n.is_empty()),
        name: Some(note.involved.name.name.clone()),
        uid: Some(note.involved.uid.clone()),
        ..Default::default()
    };
    event.reason = Some(note.reason.to_string());
    event.message = Some(note.message.clone());
    event.type_ = Some(note.event_type.to_string());
    event.source = Some(EventSource { component: Some(note.component.to_string()), host: None });
    event.reporting_component = Some(note.component.to_string());
    event.first_timestamp = Some(now.to_k8s());
    event.last_timestamp = Some(now.to_k8s());
    event.count = Some(1);
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use themelios_api::ObjectName;
    use themelios_controllers::events::Involved;

    fn note(owner: &str, reason: &'static str, message: &str) -> EventNote {
        EventNote {
            involved: Involved {
                kind: "ReplicaSet".into(),
                api_version: "apps/v1".into(),
                name: ObjectName::new("default", owner),
                uid: format!("uid-{owner}"),
            },
            event_type: "Normal",
            reason,
            message: message.into(),
            component: "replicaset-controller",
        }
    }

    fn created(n: usize) -> String {
        format!("Created pod: web-{n}")
    }

    #[test]
    fn alike_events_are_combined_after_ten_messages_and_counted() {
        let mut correlator = Correlator::default();
        let postings: Vec<Posting> =
            (0..15).map(|n| correlator.correlate(&note("web", "SuccessfulCreate", &created(n)), Time::EPOCH)).collect();
        let names: BTreeSet<_> = postings[..10]
            .iter()
            .map(|p| match p {
                Posting::Create(e) => e.metadata.name.clone(),
                Posting::Update(_) => panic!("the first ten events are each created"),
            })
            .collect();
        assert_eq!(names.len(), 10);
        let Posting::Create(combined) = &postings[10] else { panic!("the eleventh starts the combined event") };
        assert_eq!(combined.message.as_deref(), Some("(combined from similar events): Created pod: web-10"));
        for (at, posting) in postings.iter().enumerate().skip(11) {
            let Posting::Update(event) = posting else { panic!("later ones update the combined event") };
            assert_eq!(event.metadata.name, combined.metadata.name);
            assert_eq!(event.count, Some(at as i32 - 9));
            assert_eq!(event.message, Some(format!("(combined from similar events): {}", created(at))));
        }
        // Another owner, or another reason, is not alike.
        assert!(matches!(
            correlator.correlate(&note("db", "SuccessfulCreate", &created(0)), Time::EPOCH),
            Posting::Create(_)
        ));
        assert!(matches!(
            correlator.correlate(&note("web", "SuccessfulDelete", &created(0)), Time::EPOCH),
            Posting::Create(_)
        ));
    }

    #[test]
    fn an_identical_event_updates_the_one_posted() {
        let mut correlator = Correlator::default();
        let first = correlator.correlate(&note("web", "FailedCreate", "quota exceeded"), Time::EPOCH);
        let Posting::Create(first) = first else { panic!("the first is created") };
        let later = Time::EPOCH.plus_seconds(30);
        let Posting::Update(again) = correlator.correlate(&note("web", "FailedCreate", "quota exceeded"), later) else {
            panic!("the same event again is an update")
        };
        assert_eq!((again.metadata.name, again.count), (first.metadata.name, Some(2)));
        assert_eq!(again.first_timestamp, first.first_timestamp);
        assert_eq!(again.last_timestamp, Some(later.to_k8s()));
    }

    #[test]
    fn alike_events_apart_longer_than_the_window_start_over() {
        let mut correlator = Correlator::default();
        for n in 0..10 {
            correlator.correlate(&note("web", "SuccessfulCreate", &created(n)), Time::EPOCH);
        }
        let much_later = Time::EPOCH.plus_seconds(AGGREGATION_WINDOW_SECONDS + 1);
        let Posting::Create(event) = correlator.correlate(&note("web", "SuccessfulCreate", &created(10)), much_later)
        else {
            panic!("a new event")
        };
        assert_eq!(event.message, Some(created(10)), "not combined: the window had passed");
    }

    #[test]
    fn an_update_of_a_deleted_event_creates_it_again() {
        let mut correlator = Correlator::default();
        correlator.correlate(&note("web", "FailedCreate", "quota exceeded"), Time::EPOCH);
        let update = correlator.correlate(&note("web", "FailedCreate", "quota exceeded"), Time::EPOCH);
        let gone = ApiError::not_found(themelios_api::Kind::Event, "x");
        assert!(matches!(update.retry(&gone), Some(Op::Create(_))));
        assert_eq!(update.retry(&ApiError::conflict(themelios_api::Kind::Event, "x", "busy")), None);
    }

    #[test]
    fn the_caches_stay_bounded() {
        let mut correlator = Correlator::default();
        for n in 0..CACHE_ENTRIES * 2 {
            correlator.correlate(&note(&format!("rs-{n}"), "SuccessfulCreate", "Created pod: x"), Time::EPOCH);
        }
        assert!(correlator.similar.entries.len() <= CACHE_ENTRIES);
        assert!(correlator.posted.entries.len() <= CACHE_ENTRIES);
    }
}
