//! Canonical fingerprints: two states that differ only by an order-preserving renaming of revisions, or
//! only in time as far as the controllers can tell, hash the same.
//!
//! Every write bumps the revision, and uids and generated names derive from it, so without this no state
//! would ever repeat after a write: controllers fighting over an object would look like an infinite
//! state space instead of a cycle, and BFS would never finish. Behaviour cannot tell such states apart:
//! controllers compare revisions only for order and equality, compare uids and names only for equality,
//! and the next write's revision is above every revision in either state.
//!
//! The revisions a state mentions — the store's and caches' revisions, the actors' last writes, and every
//! token of every object (see [`themelios_api::identity`]) — are ranked, and the fingerprint hashes each
//! by its rank. (An object's generation numbers are hashed by their order within the object already, in
//! its shape: see [`themelios_api::shape`].) Controller memory is opaque, so it is hashed through a
//! recording [`Hasher`] that recognises uids and tagged tokens, and keeps every other string aside: a
//! string is a generated name — hashed by its rank — exactly when an object in the state carries that
//! name. A name in memory whose object is gone from every cache is hashed as written, which can only make
//! two equivalent states look different, never the reverse: that is the sound direction.
//!
//! Time is canonicalised the same way when every controller declares that it compares times only by
//! order and against `now` with bounded durations ([`TimeUse::Relative`]): every time in the state (in
//! objects, in controller memory) is hashed as its distance from `now` when it lies within the *horizon* —
//! the longest duration any controller compares with, its own or one an object in the state names — and
//! by its rank among the older ones otherwise. A time past the horizon answers every comparison with
//! `now` the same way, and keeps its place among the others as time moves on, so states that differ only
//! by a shift of all times, or in how far back their oldest times lie, behave alike. Without this, a
//! controller that backs off and retries forever (an unfair path, but a path) makes a new state each
//! round, and BFS never finishes.
//! Under [`TimeUse::Calendar`] (a CronJob's schedules), times are hashed the same way, plus `now`'s phase
//! in the period of the state's schedules and with a horizon of as many periods as the controller looks
//! back; the scheduled minute in a CronJob's Job names is a time too (cut out by the shape; recognised
//! here in controller memory), so states a whole period apart match. A schedule that does not repeat
//! within a day makes that state's times absolute.
//! A [`Deadline`] in controller memory can only be compared with `now`: every one that has passed is
//! hashed alike, one still to come by its distance from `now`.
//!
//! Each part of a state (a kind map, a controller's memory) is summarised once — the hash of everything
//! that is not a revision, and its revisions and strings in order — and, in an exploration, the summary
//! is kept per interned part ([`Summaries`]): a state's fingerprint then only ranks the revisions of the
//! parts it is made of.

use crate::intern::{hash_words, Prehashed};
use crate::state::State;
use k8s_openapi::api::batch::v1::CronJob;
use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;
use themelios_api::identity::{revision_of_uid, Bucket, GLOBAL_BUCKET, UID_BUCKET};
use themelios_api::schedule::{scheduled_job_name, Schedule};
use themelios_api::store::{KindMap, Objects, REVISION_TOKEN_TAG};
use themelios_api::time::Deadline;
use themelios_api::{Kind, Resource, StateRead, Time};
use themelios_controllers::framework::{DynLocal, TimeUse};
use thread_local::ThreadLocal;

/// The canonical fingerprint of a state, summarising its parts afresh; `time` is what the state's
/// controllers can tell about time (see [`crate::model::ClusterModel::time_use`]).
pub fn fingerprint(state: &State, time: TimeUse) -> u64 {
    Front { time, ..Front::default() }.fingerprint(state)
}

/// A part of a state, summarised: the hash of everything in it that is not a revision or a string, and
/// its revisions and strings in the order they occur.
#[derive(Default)]
struct Summary {
    skeleton: u64,
    variables: Vec<Variable>,
}

/// What a summary keeps aside.
#[derive(Clone)]
enum Variable {
    /// A revision: a uid, or a tagged token.
    Token(Bucket, u64),
    /// A string that may be a generated name, with its hash.
    Text(u64, Box<str>),
    /// A time.
    Time(Time),
    /// A deadline (see [`Deadline`]).
    Deadline(Time),
}

/// A generated name an object carries (as `name` and as `namespace/name`): its hash, the name, and the
/// revision it names.
type Name = (u64, Box<str>, u64);

/// A kind map's summary, with the generated names its objects carry and the longest duration they name.
struct MapSummary {
    summary: Summary,
    names: Vec<Name>,
    longest_duration: i64,
}

impl MapSummary {
    fn of(map: &KindMap) -> Self {
        let summary = Summary::of(map);
        let mut names = Vec::new();
        let longest_duration = map.iter().map(|(_, o)| o.shape().longest_duration).max().unwrap_or(0);
        for (name, object) in map {
            if let (Some(revision), Some(qualified)) = (object.shape().generated, &object.shape().qualified_name) {
                for text in [name.name.as_str(), &**qualified] {
                    names.push((text_hash(text), text.into(), revision));
                }
            }
        }
        Self { summary, names, longest_duration }
    }
}

/// The summary of a state's whole set of maps, ready for ranking: its revisions sorted and deduplicated,
/// and in the order they occur as places in that sorted list (four bytes each, not sixteen: these are
/// kept for every distinct set of maps); its strings and its times apart, in order (the skeleton marks
/// where each revision, string and time was, so keeping them apart tells no two sets of maps together).
struct ObjectsSummary {
    skeleton: u64,
    sorted: Vec<(Bucket, u64)>,
    order: Vec<u32>,
    texts: Vec<(u64, Box<str>)>,
    times: Vec<Time>,
    names: Vec<Name>,
    longest_duration: i64,
}

impl ObjectsSummary {
    fn of(maps: &[MapSummary]) -> Self {
        let mut skeleton = DefaultHasher::new();
        let (mut tokens, mut texts, mut times, mut names) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for map in maps {
            skeleton.write_u64(map.summary.skeleton);
            for variable in &map.summary.variables {
                match variable {
                    Variable::Token(bucket, revision) => tokens.push((*bucket, *revision)),
                    Variable::Text(hash, text) => texts.push((*hash, text.clone())),
                    Variable::Time(time) => times.push(*time),
                    // Objects hold times, never deadlines (those are controller memory).
                    Variable::Deadline(_) => {}
                }
            }
            names.extend(map.names.iter().cloned());
        }
        let longest_duration = maps.iter().map(|m| m.longest_duration).max().unwrap_or(0);
        names.sort_unstable_by_key(|n| n.0);
        let mut sorted = tokens.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let order = tokens.iter().map(|t| sorted.partition_point(|s| s < t) as u32).collect();
        Self { skeleton: skeleton.finish(), sorted, order, texts, times, names, longest_duration }
    }
}

impl Summary {
    fn of(part: &impl Hash) -> Self {
        let mut record = Record { skeleton: DefaultHasher::new(), variables: Vec::new() };
        part.hash(&mut record);
        Self { skeleton: record.skeleton.finish(), variables: record.variables }
    }

    fn of_local(local: &dyn DynLocal) -> Self {
        let mut record = Record { skeleton: DefaultHasher::new(), variables: Vec::new() };
        local.dyn_hash(&mut record);
        Self { skeleton: record.skeleton.finish(), variables: record.variables }
    }
}

fn text_hash(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    hasher.write(text.as_bytes());
    hasher.finish()
}

/// Summaries of the parts of states, kept for one exploration by each thread (no locks, no shared
/// counters), keyed by identity; each entry holds its part, so identities are not reused.
pub struct Summaries {
    fronts: ThreadLocal<RefCell<Front>>,
    time: TimeUse,
}

impl Summaries {
    /// Summaries for states whose controllers together tell time as `time` does.
    pub fn new(time: TimeUse) -> Self {
        Self { fronts: ThreadLocal::new(), time }
    }

    /// The canonical fingerprint of a state.
    pub fn fingerprint(&self, state: &State) -> u64 {
        let front = self.fronts.get_or(|| RefCell::new(Front { keep: true, time: self.time, ..Front::default() }));
        front.borrow_mut().fingerprint(state)
    }

    /// Drops this thread's summaries: a worker that is done exploring holds none.
    pub fn release_mine(&self) {
        if let Some(front) = self.fronts.get() {
            let mut front = front.borrow_mut();
            (front.maps, front.objects, front.locals) = Default::default();
        }
    }
}

/// One thread's summaries, and its buffers.
struct Front {
    maps: HashMap<usize, (KindMap, Arc<MapSummary>), Prehashed>,
    objects: HashMap<usize, (Objects, Arc<ObjectsSummary>), Prehashed>,
    locals: HashMap<usize, (Arc<dyn DynLocal>, Arc<Summary>), Prehashed>,
    /// Whether to keep summaries (not for a one-off fingerprint).
    keep: bool,
    /// What the controllers can tell about time.
    time: TimeUse,
    events: Vec<Event>,
    extra: Vec<(Bucket, u64)>,
    old_times: Vec<Time>,
    /// Each schedule's period (see [`Schedule::period`]), computed once.
    periods: HashMap<(String, Option<String>), Option<i64>>,
}

impl Default for Front {
    fn default() -> Self {
        Self {
            maps: Default::default(),
            objects: Default::default(),
            locals: Default::default(),
            keep: false,
            time: TimeUse::Absolute,
            events: Vec::new(),
            extra: Vec::new(),
            old_times: Vec::new(),
            periods: HashMap::new(),
        }
    }
}

/// The key of an identity map: spread, since addresses end in zero bits and maps index by the low bits.
fn spread(id: usize) -> usize {
    hash_words([id as u64]) as usize
}

impl Front {
    fn map(&mut self, map: &KindMap) -> Arc<MapSummary> {
        let id = map.storage_id();
        if !self.keep || id == 0 {
            return Arc::new(MapSummary::of(map));
        }
        let entry = self.maps.entry(spread(id)).or_insert_with(|| (map.clone(), Arc::new(MapSummary::of(map))));
        match entry.0.shares_storage(map) {
            true => entry.1.clone(),
            false => Arc::new(MapSummary::of(map)),
        }
    }

    fn objects(&mut self, objects: &Objects) -> Arc<ObjectsSummary> {
        let id = spread(objects.storage_id());
        if let Some((held, summary)) = self.objects.get(&id) {
            if held.shares_storage(objects) {
                return summary.clone();
            }
        }
        let maps: Vec<MapSummary> = Kind::ALL.iter().map(|k| MapSummary::of(objects.of_kind(*k))).collect();
        let summary = Arc::new(ObjectsSummary::of(&maps));
        if self.keep {
            self.objects.entry(id).or_insert_with(|| (objects.clone(), summary.clone()));
        }
        summary
    }

    fn local(&mut self, local: &Arc<dyn DynLocal>) -> Arc<Summary> {
        let address = |l: &Arc<dyn DynLocal>| Arc::as_ptr(l) as *const () as usize;
        if !self.keep {
            return Arc::new(Summary::of_local(local.as_ref()));
        }
        let entry = self
            .locals
            .entry(spread(address(local)))
            .or_insert_with(|| (local.clone(), Arc::new(Summary::of_local(local.as_ref()))));
        match address(&entry.0) == address(local) {
            true => entry.1.clone(),
            false => Arc::new(Summary::of_local(local.as_ref())),
        }
    }

    /// Flattens the state into events, collecting the revisions it mentions beyond the latest maps', then
    /// hashes the events with every revision replaced by its rank among all of them.
    fn fingerprint(&mut self, state: &State) -> u64 {
        let calendar = match self.time {
            TimeUse::Calendar { longest_seconds, periods } => self.calendar(state).map(|(period, cron_jobs)| {
                let horizon = longest_seconds.max(periods.saturating_mul(period));
                (TimeUse::Calendar { longest_seconds: horizon, periods: 0 }, period, cron_jobs)
            }),
            _ => None,
        };
        let (time, period, cron_jobs) = match calendar {
            Some((time, period, cron_jobs)) => (time, Some(period), cron_jobs),
            // A schedule that does not repeat within a day: every time counts as it is.
            None if matches!(self.time, TimeUse::Calendar { .. }) => (TimeUse::Absolute, None, Vec::new()),
            None => (self.time, None, Vec::new()),
        };
        let parts = self.parts(state);
        let mut others = parts.other_maps().flat_map(|m| &m.names).peekable();
        let names = match others.peek() {
            None => Names::Sorted(&parts.latest.names),
            Some(_) => {
                let mut all: Vec<&Name> = parts.latest.names.iter().chain(others).collect();
                all.sort_unstable_by_key(|n| n.0);
                Names::Gathered(all)
            }
        };
        let mut flat = Flatten {
            names: &names,
            cron_jobs: &cron_jobs,
            events: std::mem::take(&mut self.events),
            extra: std::mem::take(&mut self.extra),
        };
        flat.events.clear();
        flat.extra.clear();
        parts.feed(state, &mut flat);
        let Flatten { mut events, mut extra, .. } = flat;
        let clock = Clock::new(time, &parts, state.now, &events, std::mem::take(&mut self.old_times));
        let latest = &parts.latest.sorted;
        extra.sort_unstable();
        extra.dedup();
        extra.retain(|t| latest.binary_search(t).is_err());
        // A revision's rank among all the state's: those of the latest maps below it, and the others.
        let rank = |t: (Bucket, u64)| latest.partition_point(|s| *s < t) + extra.partition_point(|s| *s < t);
        let mut hasher = FINGERPRINT_HASHER.build_hasher();
        if let Some(period) = period {
            // Where `now` stands in the schedules' period: times are hashed by their distance from it.
            hasher.write_u8(TIME_MARK);
            hasher.write_i64(state.now.0.rem_euclid(period));
        }
        let mark = |hasher: &mut foldhash::quality::FoldHasher, bucket: Bucket, rank: usize| {
            // Equal for two states exactly when each bucket's revisions are in the same order.
            hasher.write_u8(TOKEN_MARK);
            hasher.write_u32(bucket);
            hasher.write_usize(rank);
        };
        for event in &events {
            match *event {
                Event::Plain(value) => hasher.write_u64(value),
                Event::Token(bucket, revision) => mark(&mut hasher, bucket, rank((bucket, revision))),
                Event::Latest(place) => {
                    let token = latest[place as usize];
                    mark(&mut hasher, token.0, place as usize + extra.partition_point(|s| *s < token));
                }
                Event::Text(hash) => {
                    hasher.write_u8(TEXT_MARK);
                    hasher.write_u64(hash);
                }
                Event::Time(time) => clock.hash(time, &mut hasher),
                Event::Deadline(due) => clock.hash_deadline(due, &mut hasher),
            }
        }
        events.clear();
        (self.events, self.extra, self.old_times) = (events, extra, clock.old);
        hasher.finish()
    }

    /// The common period of the schedules of the CronJobs a state holds (in its stores and caches), with
    /// their names; `None` when one of them does not repeat within a day. A state without CronJobs repeats
    /// daily: a CronJob a user creates later must repeat within a day (scenario files check that).
    fn calendar(&mut self, state: &State) -> Option<(i64, Vec<Box<str>>)> {
        let stores = [state.store.objects(), state.lagging.objects()];
        let cached = state.actors.iter().filter_map(|a| a.cache.as_ref()).flat_map(|c| c.kinds.iter());
        let maps = stores
            .iter()
            .map(|o| o.of_kind(Kind::CronJob))
            .chain(cached.filter(|(kind, _, _)| *kind == Kind::CronJob).map(|(_, map, _)| map));
        let mut period = 1;
        let mut names: Vec<Box<str>> = Vec::new();
        for (name, object) in maps.flat_map(|m| m.iter()) {
            let Some(spec) = CronJob::from_object(object.object()).and_then(|cj| cj.spec.as_ref()) else { continue };
            let key = (spec.schedule.clone(), spec.time_zone.clone());
            let own =
                *self.periods.entry(key).or_insert_with(|| Schedule::period(&spec.schedule, spec.time_zone.as_deref()));
            period = lcm(period, own?);
            names.push(name.name.as_str().into());
        }
        names.sort_unstable();
        names.dedup();
        Some((if names.is_empty() { DAY_SECONDS } else { period }, names))
    }

    fn parts(&mut self, state: &State) -> Parts {
        let latest = state.store.objects();
        let mut other = |map: &KindMap, kind: Kind| (!map.shares_storage(latest.of_kind(kind))).then(|| self.map(map));
        let caches = state
            .actors
            .iter()
            .map(|a| a.cache.as_ref().map(|c| c.kinds.iter().map(|(k, m, _)| other(m, *k)).collect()))
            .collect();
        // A lagging API server's maps are fed whole, whichever kinds it shares with the latest state.
        let lagging = state.lagging.objects();
        let lagging = (!lagging.shares_storage(latest))
            .then(|| Kind::ALL.iter().map(|k| self.map(lagging.of_kind(*k))).collect());
        Parts {
            latest: self.objects(latest),
            lagging,
            locals: state.actors.iter().map(|a| self.local(&a.local)).collect(),
            caches,
        }
    }
}

/// How a state's times are hashed.
struct Clock {
    /// `None`: absolutely (some controller reads calendar time).
    relative: Option<Relative>,
    /// The times past the horizon, sorted and deduplicated.
    old: Vec<Time>,
}

/// Times hashed relative to `now`, up to the horizon.
struct Relative {
    now: Time,
    /// The oldest time hashed by its distance from `now`; older ones are hashed by rank.
    horizon: Time,
}

impl Clock {
    /// The clock of a state whose parts are `parts`, flattened into `events`; `old` is a buffer.
    fn new(time: TimeUse, parts: &Parts, now: Time, events: &[Event], mut old: Vec<Time>) -> Self {
        old.clear();
        let longest_seconds = match time {
            TimeUse::Relative { longest_seconds } | TimeUse::Calendar { longest_seconds, .. } => longest_seconds,
            TimeUse::Absolute => return Self { relative: None, old },
        };
        let longest = parts.other_maps().map(|m| m.longest_duration).fold(parts.latest.longest_duration, i64::max);
        let horizon = now.plus_seconds(-longest_seconds.max(longest));
        old.extend(events.iter().filter_map(|e| match e {
            Event::Time(t) if *t < horizon => Some(*t),
            _ => None,
        }));
        if old.len() > 1 {
            old.sort_unstable();
            old.dedup();
        }
        Self { relative: Some(Relative { now, horizon }), old }
    }

    /// Hashes one time: equal for two states exactly when both times compare alike with everything the
    /// controllers compare them with.
    fn hash(&self, time: Time, hasher: &mut impl Hasher) {
        hasher.write_u8(TIME_MARK);
        let (how, value) = match &self.relative {
            None => (0, time.0),
            Some(clock) if time >= clock.horizon => (1, time.seconds_since(clock.now)),
            Some(_) => (2, self.old.partition_point(|t| *t < time) as i64),
        };
        hasher.write_u8(how);
        hasher.write_i64(value);
    }

    /// Hashes one deadline: every deadline that has passed alike, one still to come by its distance from
    /// `now` (it can only be compared with `now`, and stays passed).
    fn hash_deadline(&self, due: Time, hasher: &mut impl Hasher) {
        hasher.write_u8(TIME_MARK);
        let (how, value) = match &self.relative {
            None => (3, due.0),
            Some(clock) if due <= clock.now => (4, 0),
            Some(clock) => (5, due.seconds_since(clock.now)),
        };
        hasher.write_u8(how);
        hasher.write_i64(value);
    }
}

/// The fingerprint's hasher: fixed, so fingerprints are the same in every run.
const FINGERPRINT_HASHER: foldhash::quality::FixedState = foldhash::quality::FixedState::with_seed(0x7e4e_1105);

/// The generated names of a state, sorted by hash: the latest maps' alone (the usual case), or gathered
/// from every map the state holds.
enum Names<'a> {
    Sorted(&'a [Name]),
    Gathered(Vec<&'a Name>),
}

impl Names<'_> {
    /// The revision a string names as a generated name in this state, if it is one.
    fn revision(&self, hash: u64, text: &str) -> Option<u64> {
        match self {
            Names::Sorted(names) => find_name(names, hash, text),
            Names::Gathered(names) => find_name(names, hash, text),
        }
    }
}

/// The revision of the name `text` (whose hash is `hash`) among names sorted by hash.
fn find_name<N: std::borrow::Borrow<Name>>(names: &[N], hash: u64, text: &str) -> Option<u64> {
    let from = names.partition_point(|n| n.borrow().0 < hash);
    names[from..].iter().map(N::borrow).take_while(|n| n.0 == hash).find(|n| &*n.1 == text).map(|n| n.2)
}

/// The summaries of one state's parts. A cache's map that shares storage with the latest state's has none:
/// it is fed as a mark (equal marks mean equal content, so this only saves time).
struct Parts {
    latest: Arc<ObjectsSummary>,
    /// Per kind, for a lagging API server that is not the latest (fed whole, whichever kinds it shares).
    lagging: Option<Vec<Arc<MapSummary>>>,
    locals: Vec<Arc<Summary>>,
    /// Per actor with caches, per watched kind.
    caches: Vec<Option<Vec<Option<Arc<MapSummary>>>>>,
}

/// What [`Parts::feed`] writes for a map that is the latest state's.
const SAME_AS_LATEST: u64 = u64::MAX - 0x5a;

impl Parts {
    /// The maps summarised besides the latest ones, for their generated names.
    fn other_maps(&self) -> impl Iterator<Item = &MapSummary> {
        let lagging = self.lagging.iter().flatten();
        let caches = self.caches.iter().flatten().flatten().flatten();
        lagging.chain(caches).map(|m| m.as_ref())
    }

    /// Feeds every part of a state into a sink, revisions as tokens.
    fn feed(&self, state: &State, sink: &mut Flatten) {
        let feed_map = |sink: &mut Flatten, map: &Option<Arc<MapSummary>>| match map {
            Some(map) => sink.summary(&map.summary),
            None => sink.plain(SAME_AS_LATEST),
        };
        sink.token(GLOBAL_BUCKET, state.store.revision());
        sink.latest(&self.latest);
        sink.token(GLOBAL_BUCKET, state.lagging.revision());
        match &self.lagging {
            None => sink.plain(SAME_AS_LATEST),
            Some(maps) => maps.iter().for_each(|m| sink.summary(&m.summary)),
        }
        sink.time(state.now);
        for ((actor, local), cache) in state.actors.iter().zip(&self.locals).zip(&self.caches) {
            sink.summary(local);
            match (cache, &actor.cache) {
                (Some(maps), Some(cache)) => {
                    sink.plain(1);
                    for (map, (_, _, revision)) in maps.iter().zip(&cache.kinds) {
                        feed_map(sink, map);
                        sink.token(GLOBAL_BUCKET, *revision);
                    }
                }
                _ => sink.plain(0),
            }
            // 0 means "no write yet", not a revision.
            match actor.last_write {
                0 => sink.plain(0),
                revision => sink.token(GLOBAL_BUCKET, revision),
            }
            sink.plain(actor.budgets());
        }
        let mut rest = DefaultHasher::new();
        state.user_done.hash(&mut rest);
        state.violation.hash(&mut rest);
        sink.plain(rest.finish());
    }
}

/// One step of a flattened state.
#[derive(Clone, Copy)]
enum Event {
    /// Data that is no revision.
    Plain(u64),
    /// A revision, hashed by its rank.
    Token(Bucket, u64),
    /// A revision of the latest maps, by its place among theirs.
    Latest(u32),
    /// A string that names no revision in this state, by its hash.
    Text(u64),
    /// A time.
    Time(Time),
    /// A deadline in controller memory.
    Deadline(Time),
}

/// Flattens a state into events, resolving strings against the state's generated names, and collects
/// the revisions the latest maps do not mention.
struct Flatten<'a> {
    names: &'a Names<'a>,
    /// The names of the state's CronJobs, sorted, when times are hashed modulo their schedules' period.
    cron_jobs: &'a [Box<str>],
    events: Vec<Event>,
    extra: Vec<(Bucket, u64)>,
}

impl Flatten<'_> {
    fn plain(&mut self, value: u64) {
        self.events.push(Event::Plain(value));
    }
    fn token(&mut self, bucket: Bucket, revision: u64) {
        self.events.push(Event::Token(bucket, revision));
        self.extra.push((bucket, revision));
    }
    fn time(&mut self, time: Time) {
        self.events.push(Event::Time(time));
    }
    fn text(&mut self, hash: u64, text: &str) {
        match self.names.revision(hash, text) {
            Some(revision) => self.token(UID_BUCKET, revision),
            None => match scheduled_name(self.cron_jobs, text) {
                // A CronJob's Job name (or a prefix of its pods' names): its scheduled minute is a time.
                Some((cron_job, scheduled, dash)) => {
                    self.events.push(Event::Text(text_hash(cron_job) ^ SCHEDULED_NAME ^ u64::from(dash)));
                    self.time(scheduled);
                }
                None => self.events.push(Event::Text(hash)),
            },
        }
    }
    fn summary(&mut self, summary: &Summary) {
        self.plain(summary.skeleton);
        for variable in &summary.variables {
            match variable {
                Variable::Token(bucket, revision) => self.token(*bucket, *revision),
                Variable::Text(hash, text) => self.text(*hash, text),
                Variable::Time(time) => self.time(*time),
                Variable::Deadline(due) => self.events.push(Event::Deadline(*due)),
            }
        }
    }
    /// The latest maps: their revisions are placed among theirs already (see [`ObjectsSummary`]).
    fn latest(&mut self, latest: &ObjectsSummary) {
        self.plain(latest.skeleton);
        self.events.extend(latest.order.iter().map(|place| Event::Latest(*place)));
        for (hash, text) in &latest.texts {
            self.text(*hash, text);
        }
        self.events.extend(latest.times.iter().map(|t| Event::Time(*t)));
    }
}

/// Marks a Job name of a CronJob in the hash (with its scheduled minute hashed as a time).
const SCHEDULED_NAME: u64 = 0x5c4e_d01e_d000_0000;
const DAY_SECONDS: i64 = 86_400;

fn lcm(a: i64, b: i64) -> i64 {
    let gcd = |mut a: i64, mut b: i64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    a / gcd(a, b) * b
}

/// Splits a name `<cron job>-<minutes since the Unix epoch>`, or the same with a trailing `-` (its pods'
/// generateName), of one of `cron_jobs` into the CronJob's name, the scheduled time and whether the dash
/// was there.
fn scheduled_name<'t>(cron_jobs: &[Box<str>], text: &'t str) -> Option<(&'t str, Time, bool)> {
    if cron_jobs.is_empty() {
        return None;
    }
    let (body, dash) = match text.strip_suffix('-') {
        Some(body) => (body, true),
        None => (text, false),
    };
    let (cron_job, scheduled) = scheduled_job_name(body)?;
    cron_jobs.binary_search_by(|n| (**n).cmp(cron_job)).ok()?;
    Some((cron_job, scheduled, dash))
}

/// Records a part's hash: integers and untagged data into the skeleton, revisions and strings aside
/// (with a mark in the skeleton where each was).
struct Record {
    skeleton: DefaultHasher,
    variables: Vec<Variable>,
}

/// Marks in a skeleton where a revision, a string or a time was kept aside.
const TOKEN_MARK: u8 = 0xfd;
const TEXT_MARK: u8 = 0xfe;
const TIME_MARK: u8 = 0xfc;

/// Integers are never strings: keep them away from `write`, which looks for uids and names.
macro_rules! integers {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(&mut self, value: $ty) { self.skeleton.write(&value.to_ne_bytes()) })*
    };
}

impl Hasher for Record {
    fn finish(&self) -> u64 {
        self.skeleton.finish()
    }
    integers!(write_u8: u8, write_u16: u16, write_u32: u32, write_u64: u64, write_usize: usize,
        write_i8: i8, write_i16: i16, write_i32: i32, write_i64: i64, write_i128: i128, write_isize: isize);
    fn write(&mut self, bytes: &[u8]) {
        let Ok(text) = std::str::from_utf8(bytes) else {
            self.skeleton.write(bytes);
            return;
        };
        match revision_of_uid(text) {
            Some(revision) => {
                self.skeleton.write_u8(TOKEN_MARK);
                self.variables.push(Variable::Token(UID_BUCKET, revision));
            }
            None => {
                self.skeleton.write_u8(TEXT_MARK);
                self.variables.push(Variable::Text(text_hash(text), text.into()));
            }
        }
    }
    fn write_u128(&mut self, value: u128) {
        if value >> 96 == REVISION_TOKEN_TAG >> 96 {
            self.skeleton.write_u8(TOKEN_MARK);
            self.variables.push(Variable::Token((value >> 64) as u32, value as u64));
        } else if let Some(time) = Time::of_token(value) {
            self.skeleton.write_u8(TIME_MARK);
            self.variables.push(Variable::Time(time));
        } else if let Some(due) = Deadline::of_token(value) {
            self.skeleton.write_u8(TIME_MARK);
            self.variables.push(Variable::Deadline(due));
        } else {
            self.skeleton.write(&value.to_ne_bytes());
        }
    }
}

/// Up to renaming of revisions, with times as they are: forgetting what controllers cannot tell about time
/// needs to know the controllers (the checker uses [`crate::model::ClusterModel::summaries`], which do).
impl std::hash::Hash for State {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(fingerprint(self, TimeUse::Absolute));
    }
}
