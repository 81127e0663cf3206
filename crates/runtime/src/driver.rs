//! The driver: each controller in its own task, stepping on its informers' view whenever they change or
//! a wake-up it asked for comes due, one request per step, the outcome reported back.

use crate::cache::{Caches, Snapshot};
use crate::request::execute;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use themelios_api::{Kind, ObjectRef, Time};
use themelios_controllers::framework::{AnyController, ClusterView};
use tokio::sync::{watch, Notify};

/// How the driver runs.
#[derive(Clone, Debug)]
pub struct DriverOptions {
    /// How long to wait for the informers to see a controller's own write before its next step.
    pub read_own_writes: Duration,
    /// The most steps a controller takes before it yields to the others.
    pub burst: usize,
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions { read_own_writes: Duration::from_secs(2), burst: 500 }
    }
}

/// The wall clock as the controllers' logical time.
pub fn now() -> Time {
    Time::wall_clock()
}

/// The kinds the controllers read (every kind if one does not say).
fn watched_kinds(controllers: &[Box<dyn AnyController>]) -> Vec<Kind> {
    let mut kinds = BTreeSet::new();
    for controller in controllers {
        match controller.reads() {
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
    for controller in controllers {
        let wake = caches.subscribe(controller.reads(), controller.node());
        let controller = Arc::from(controller);
        tasks.spawn(run_one(client.clone(), controller, caches.clone(), wake, options.clone(), shutdown.clone()));
    }
    let _ = shutdown.wait_for(|stop| *stop).await;
    tasks.shutdown().await;
}

fn view_of(snapshot: &Snapshot, now: Time) -> ClusterView<'_> {
    ClusterView::per_kind(|kind| snapshot.kind(kind), now).with_pods_by_node(snapshot.pods_by_node())
}

async fn run_one(
    client: kube::Client,
    controller: Arc<dyn AnyController>,
    caches: Arc<Caches>,
    wake_up: Arc<Notify>,
    options: DriverOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut local = controller.fresh_local();
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut wake: Option<Time> = None;
        let mut failed = false;
        for _ in 0..options.burst {
            let snapshot = caches.snapshot();
            let step_time = now();
            let (op, asked) = {
                let view = view_of(&snapshot, step_time);
                let op = controller.step(&view, local.as_mut());
                let asked = [view.requested_wake(), view.requested_heartbeat()].into_iter().flatten().min();
                (op, asked)
            };
            wake = asked;
            let Some(op) = op else { break };
            let target: ObjectRef = op.target();
            let known = snapshot.kind(target.kind).0.get(&target.name).cloned();
            let outcome = execute(&client, &op, known).await;
            controller.observe(&op, &outcome, now(), local.as_mut());
            let view = view_of(&snapshot, step_time);
            if let Some(note) = themelios_controllers::events::for_request(&op, &outcome, &view) {
                let client = client.clone();
                // Events are best effort, as upstream's recorder: never delay the controller for one.
                tokio::spawn(async move {
                    let _ = execute(&client, &crate::events::event_op(&note, now()), None).await;
                });
            }
            match &outcome {
                Ok(object) => {
                    backoff = Duration::from_millis(100);
                    // Step again only once the informers show this write, as a controller's
                    // expectations assume; give up waiting after a while (the write may be filtered).
                    let deadline = tokio::time::Instant::now() + options.read_own_writes;
                    caches.wait_seen(target.kind, object.revision(), deadline).await;
                }
                Err(_) => {
                    failed = true;
                    break;
                }
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
