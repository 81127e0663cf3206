//! The driver: each controller in its own task, stepping on its informers' view whenever they change or
//! a wake-up it asked for comes due, one request per step, the outcome reported back.

use crate::cache::{CacheSnapshot, Caches};
use crate::events::Correlator;
use crate::request::execute;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use themelios_api::{Kind, ObjectRef, Time};
use themelios_controllers::events::EventNote;
use themelios_controllers::framework::{
    decide, AnyController, ClusterView, Deadlines, DynLocal, Outcome, Profile, Step,
};
use tokio::sync::{mpsc, watch, Notify, Semaphore};

/// How the driver runs.
#[derive(Clone, Debug)]
pub struct DriverOptions {
    /// How long to wait for the informers to see a controller's own write before its next step.
    pub read_own_writes: Duration,
    /// The most steps a controller takes before it yields to the others.
    pub burst: usize,
    /// After a step that found nothing to do, a controller rests this many times as long as that step took
    /// before it looks again. A pure step reads its whole view: a garbage collector checking the owners of
    /// 50,000 pods would otherwise rescan on every one of hundreds of changes a second and take every core,
    /// where upstream's work queues look only at what changed. Resting in proportion to its cost caps what a
    /// controller spends looking for work at 1/(1 + factor) of a core; cheap steps barely rest at all.
    pub idle_rest_factor: u32,
    /// The most requests in flight at once, across all controllers. The client speaks HTTP/1.1, one request
    /// per connection at a time: 5,000 simulated kubelets renewing leases would otherwise hold a thousand
    /// TLS connections open, each with its buffers on both ends (upstream bounds its clients by QPS).
    pub max_in_flight: usize,
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions { read_own_writes: Duration::from_secs(2), burst: 500, idle_rest_factor: 4, max_in_flight: 64 }
    }
}

/// Rests shorter than this are skipped: timers are not finer, and a step this cheap costs nothing to repeat.
const MIN_IDLE_REST: Duration = Duration::from_millis(1);

/// How long a controller rests after a step that found nothing to do: in proportion to what the step
/// cost, and at least its period if upstream runs it as a periodic loop ([`Profile::period`]).
///
/// [`Profile::period`]: themelios_controllers::framework::Profile::period
pub fn rest_after_idle(took: Duration, factor: u32, period: Option<Duration>) -> Duration {
    (took * factor).max(period.unwrap_or_default())
}

/// The wall clock as the controllers' logical time.
pub fn now() -> Time {
    Time::wall_clock()
}

/// The kinds the controllers read (every kind if one does not say).
fn watched_kinds(controllers: &[Box<dyn AnyController>]) -> Vec<Kind> {
    let mut kinds = BTreeSet::new();
    for controller in controllers {
        match controller.profile().reads {
            Some(read) => kinds.extend(read.iter().copied()),
            None => return Kind::ALL.to_vec(),
        }
    }
    kinds.into_iter().collect()
}

/// Runs `controllers` against the server `client` talks to, until `shutdown` turns true.
pub async fn run(
    client: kube::Client,
    controllers: Vec<Box<dyn AnyController>>,
    options: DriverOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let caches = Caches::new();
    let kinds = watched_kinds(&controllers);
    let mut tasks = tokio::task::JoinSet::new();
    for kind in &kinds {
        tasks.spawn(crate::informer::run(client.clone(), *kind, caches.clone()));
    }
    tokio::select! {
        _ = caches.wait_synced(&kinds) => {}
        _ = shutdown.changed() => return,
    }
    let (events, notes) = mpsc::channel(EVENT_QUEUE);
    let requests = Requests { client, in_flight: Arc::new(Semaphore::new(options.max_in_flight.max(1))), events };
    tasks.spawn(post_events(requests.clone(), notes));
    for controller in controllers {
        let profile = controller.profile();
        let wake = caches.subscribe(profile.reads, profile.node());
        let actor = Actor { controller: Arc::from(controller), profile };
        tasks.spawn(run_one(requests.clone(), actor, caches.clone(), wake, options.clone(), shutdown.clone()));
    }
    let _ = shutdown.wait_for(|stop| *stop).await;
    tasks.shutdown().await;
}

/// One step of `controller` on the informers' caches at `now`.
pub fn decide_on(
    controller: &dyn AnyController,
    snapshot: &CacheSnapshot,
    now: Time,
    local: &mut dyn DynLocal,
) -> Step {
    decide(controller, &view_of(snapshot, now), local)
}

/// When to run a controller again whatever changes, after `step`: real time passes anyway, so at its
/// wake-up or its heartbeat, whichever comes first.
pub fn next_run(step: &Step) -> Option<Time> {
    let mut deadlines = Deadlines::default();
    deadlines.add(step);
    deadlines.earliest()
}

fn view_of(snapshot: &CacheSnapshot, now: Time) -> ClusterView<'_> {
    ClusterView::per_kind(|kind| snapshot.kind(kind), now).with_pods_by_node(snapshot.pods_by_node())
}

/// The client, with the bound on requests in flight and the queue of events to post.
#[derive(Clone)]
struct Requests {
    client: kube::Client,
    in_flight: Arc<Semaphore>,
    events: mpsc::Sender<EventNote>,
}

/// Events waiting to be posted; past this many, new ones are dropped (upstream's broadcaster queue).
const EVENT_QUEUE: usize = 1000;

/// Posts the process's events one at a time, in order, correlated (see [`crate::events`]): in order, so an
/// update of a combined event never overtakes its create.
async fn post_events(requests: Requests, mut notes: mpsc::Receiver<EventNote>) {
    let mut correlator = Correlator::default();
    while let Some(note) = notes.recv().await {
        let posting = correlator.correlate(&note, now());
        if let Err(error) = requests.execute(&posting.op(), None).await {
            if let Some(retry) = posting.retry(&error) {
                let _ = requests.execute(&retry, None).await;
            }
        }
    }
}

impl Requests {
    async fn execute(&self, op: &themelios_api::Op, known: Option<Arc<themelios_api::StoredObject>>) -> Outcome {
        let _permit = self.in_flight.acquire().await;
        execute(&self.client, op, known).await
    }

    /// Queues the Event for `note` without waiting: events are best effort, as upstream's recorder's, and
    /// never delay a controller (a full queue drops it).
    fn post_event(&self, note: &EventNote) {
        let _ = self.events.try_send(note.clone());
    }
}

/// How one step went.
enum Stepped {
    /// Nothing to do; the step took this long.
    Idle(Duration),
    /// A request succeeded and its write has come back through the informers (or the wait gave up).
    Wrote,
    /// A request failed.
    Failed,
}

/// A controller and what the driver needs to know about it.
struct Actor {
    controller: Arc<dyn AnyController>,
    profile: Profile,
}

/// One step: read the caches, step, send the request, report the outcome, post its Event, wait to see
/// the write. Returns when to run again regardless of changes, if the controller asked ([`next_run`]).
async fn step_once(
    requests: &Requests,
    actor: &Actor,
    caches: &Caches,
    local: &mut dyn DynLocal,
    options: &DriverOptions,
) -> (Stepped, Option<Time>) {
    let controller = actor.controller.as_ref();
    let snapshot = caches.snapshot();
    let step_time = now();
    let started = std::time::Instant::now();
    let step = decide_on(controller, &snapshot, step_time, local);
    let asked = next_run(&step);
    let Some(op) = step.op else { return (Stepped::Idle(started.elapsed()), asked) };
    let target: ObjectRef = op.target();
    let known = snapshot.kind(target.kind).0.get(&target.name).cloned();
    let outcome = requests.execute(&op, known).await;
    controller.observe(&op, &outcome, now(), local);
    let name = controller.name();
    if let Some(note) = themelios_controllers::events::for_request(&name, &op, &outcome, &view_of(&snapshot, step_time))
    {
        requests.post_event(&note);
    }
    drop(snapshot);
    match outcome {
        Ok(object) => {
            // Step again only once the informers show this write, as a controller's expectations
            // assume; give up waiting after a while (the write may be filtered).
            if !actor.profile.assumes_own_writes {
                let deadline = tokio::time::Instant::now() + options.read_own_writes;
                caches.wait_seen(target.kind, object.revision(), deadline).await;
            }
            (Stepped::Wrote, asked)
        }
        Err(_) => (Stepped::Failed, asked),
    }
}

async fn run_one(
    requests: Requests,
    actor: Actor,
    caches: Arc<Caches>,
    wake_up: Arc<Notify>,
    options: DriverOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut local = actor.controller.fresh_local();
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut wake: Option<Time> = None;
        let mut failed = false;
        let mut idle_rest = Duration::ZERO;
        for _ in 0..options.burst {
            // Boxed: a waiting task then holds only this loop's state, not a request's, which matters
            // with thousands of simulated kubelets.
            let (stepped, asked) = Box::pin(step_once(&requests, &actor, &caches, local.as_mut(), &options)).await;
            wake = asked;
            match stepped {
                Stepped::Idle(took) => {
                    idle_rest = rest_after_idle(took, options.idle_rest_factor, actor.profile.period);
                    break;
                }
                Stepped::Wrote => backoff = Duration::from_millis(100),
                Stepped::Failed => {
                    failed = true;
                    break;
                }
            }
        }
        if idle_rest >= MIN_IDLE_REST {
            // Changes during the rest leave the wake-up set, so none is missed.
            tokio::select! {
                _ = tokio::time::sleep(idle_rest) => {}
                _ = shutdown.changed() => return,
            }
        }
        let sleep = match (failed, wake) {
            (true, _) => {
                let delay = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                delay
            }
            (false, Some(at)) => {
                Duration::from_secs(at.seconds_since(now()).max(0) as u64).max(Duration::from_millis(50))
            }
            (false, None) => Duration::from_secs(3600),
        };
        tokio::select! {
            _ = wake_up.notified(), if !failed => {}
            _ = tokio::time::sleep(sleep) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use themelios_controllers::framework::AnyController;

    #[test]
    fn an_idle_controller_rests_by_its_cost_and_at_least_its_period() {
        let ms = Duration::from_millis;
        assert_eq!(rest_after_idle(ms(3), 4, None), ms(12));
        assert_eq!(rest_after_idle(ms(3), 4, Some(ms(5000))), ms(5000));
        assert_eq!(rest_after_idle(ms(2000), 4, Some(ms(5000))), ms(8000));
        // The periodic controllers declare upstream's periods; the change-driven ones none.
        let podgc: Box<dyn AnyController> = Box::new(themelios_controllers::podgc::PodGc::default());
        let lifecycle: Box<dyn AnyController> = Box::new(themelios_controllers::nodelifecycle::NodeLifecycleController);
        let replicaset: Box<dyn AnyController> = Box::new(themelios_controllers::replicaset::ReplicaSetController);
        assert_eq!(podgc.profile().period, Some(Duration::from_secs(20)));
        assert_eq!(lifecycle.profile().period, Some(Duration::from_secs(5)));
        assert_eq!(replicaset.profile().period, None);
        // Only the scheduler keeps its own writes in mind (its assume cache).
        let scheduler: Box<dyn AnyController> = Box::new(themelios_controllers::scheduler::Scheduler::default());
        let assumes = |c: &dyn AnyController| c.profile().assumes_own_writes;
        assert!(assumes(scheduler.as_ref()) && !assumes(replicaset.as_ref()) && !assumes(podgc.as_ref()));
    }
}
