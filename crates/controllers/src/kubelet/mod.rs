//! A simulated kubelet, one per node: registers its Node, renews its Lease, runs the pods bound to it.
//!
//! Containers do not run; their lifecycle does. A bound pod becomes Running (containers started, not yet
//! ready), then Ready. Pods with restartPolicy Never or OnFailure finish after a run time — by default
//! [`DEFAULT_RUN_SECONDS`] of logical time; the annotations [`RUN_SECONDS_ANNOTATION`] and
//! [`EXIT_CODE_ANNOTATION`] set it per pod. A deleted pod's containers stop at once (exit code 143) and the
//! kubelet finishes the graceful deletion. The kubelet only drives pods whose containers it started: a
//! phase someone else sets through the status subresource is left alone.

mod node;
mod status;

pub use node::NodeConfig;

use crate::framework::Timers;
use crate::framework::{ClusterView, Controller};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use themelios_api::{pod, DeleteOptions, Kind, ObjectRef, Op, Resource, Time};

/// Seconds a pod with restartPolicy Never or OnFailure runs when it does not say.
pub const DEFAULT_RUN_SECONDS: i64 = 5;
/// Pod annotation: seconds its containers run before exiting (any restart policy).
pub const RUN_SECONDS_ANNOTATION: &str = "themelios.dev/run-seconds";
/// Pod annotation: the exit code its containers exit with (default 0).
pub const EXIT_CODE_ANNOTATION: &str = "themelios.dev/exit-code";
/// The exit code of a container stopped by a pod deletion (SIGTERM, not handled).
pub const TERMINATED_EXIT_CODE: i32 = 143;
/// The namespace node leases live in.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// How often the lease is renewed.
pub const LEASE_RENEW_SECONDS: i64 = 10;
/// The lease duration the kubelet advertises.
pub const LEASE_DURATION_SECONDS: i32 = 40;

/// The simulated kubelet of one node.
#[derive(Clone, Debug)]
pub struct Kubelet {
    config: NodeConfig,
}

impl Kubelet {
    /// A kubelet for the node described by `config`.
    pub fn new(config: NodeConfig) -> Self {
        Self { config }
    }

    fn node_name(&self) -> &str {
        &self.config.name
    }
}

/// What a kubelet keeps in memory: the pods whose containers it runs, as (namespace/name, uid). After a
/// restart it rebuilds this from the pods its view shows bound to it and Running — from a lagging cache,
/// that can include a pod already deleted (kubernetes #59848).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Local {
    /// The pods whose containers run on this node.
    pub running: std::collections::BTreeSet<(String, String)>,
}

fn running_key(p: &Pod) -> (String, String) {
    (
        format!("{}/{}", p.metadata.namespace.as_deref().unwrap_or(""), p.metadata.name.as_deref().unwrap_or("")),
        p.metadata.uid.clone().unwrap_or_default(),
    )
}

impl Controller for Kubelet {
    type Local = Local;

    fn profile(&self) -> crate::framework::Profile {
        crate::framework::Profile {
            // Its lease (renewed every 10 s, lasting 40 s) and a container's default run time; a pod's run time
            // is read from its annotation.
            time_use: crate::framework::TimeUse::Relative {
                longest_seconds: (LEASE_DURATION_SECONDS as i64).max(LEASE_RENEW_SECONDS).max(DEFAULT_RUN_SECONDS),
            },
            reads: Some(&[
                themelios_api::Kind::Pod,
                themelios_api::Kind::Node,
                themelios_api::Kind::Lease,
                themelios_api::Kind::Namespace,
            ]),
            role: crate::framework::Role::NodeAgent { node: self.node_name().to_string() },
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        format!("kubelet/{}", self.config.name)
    }

    fn step(&self, view: &ClusterView, local: &mut Local, timers: &mut Timers) -> Option<Op> {
        // Containers run for the pods this node has started and not stopped, as its view shows them.
        let mine: Vec<&Pod> = view.pods_on_node(self.node_name()).collect();
        let in_view: std::collections::BTreeSet<(String, String)> = mine.iter().map(|p| running_key(p)).collect();
        local.running.retain(|k| in_view.contains(k));
        for p in mine.iter().filter(|p| pod::phase(p) == "Running" && status::started_by_kubelet(p)) {
            local.running.insert(running_key(p));
        }
        for p in mine.iter().filter(|p| pod::is_terminal(p)) {
            local.running.remove(&running_key(p));
        }
        let Some(node) = view.get::<Node>("", self.node_name()) else {
            return Some(Op::Create(self.config.to_node(view.now()).into_object()));
        };
        if let Some(op) = self.renew_lease(view, node, timers) {
            return Some(op);
        }
        if let Some(op) = self.post_ready(view, node) {
            return Some(op);
        }
        mine.into_iter().find_map(|p| self.sync_pod(view, p, timers))
    }
}

impl Kubelet {
    /// A running kubelet reports its node Ready (again, after the node lifecycle controller marked it
    /// Unknown while the kubelet was away).
    fn post_ready(&self, view: &ClusterView, node: &Node) -> Option<Op> {
        let ready =
            node.status.as_ref().and_then(|s| s.conditions.as_ref()).into_iter().flatten().find(|c| c.type_ == "Ready");
        if ready.is_some_and(|c| c.status == "True") {
            return None;
        }
        let mut updated = node.clone();
        let fresh = self.config.to_node(view.now());
        updated.status.get_or_insert_with(Default::default).conditions = fresh.status.and_then(|s| s.conditions);
        Some(Op::UpdateStatus(updated.into_object()))
    }

    fn renew_lease(&self, view: &ClusterView, node: &Node, timers: &mut Timers) -> Option<Op> {
        let now = view.now();
        view.get::<Namespace>("", NODE_LEASE_NAMESPACE)?;
        match view.get::<Lease>(NODE_LEASE_NAMESPACE, self.node_name()) {
            None => Some(Op::Create(node::lease_for(node, now).into_object())),
            Some(lease) => {
                let renewed = lease.spec.as_ref().and_then(|s| s.renew_time.as_ref()).map(|t| Time(t.0.as_second()));
                let due = renewed.map_or(now, |r| r.plus_seconds(LEASE_RENEW_SECONDS));
                if due > now {
                    timers.heartbeat_at(due);
                    return None;
                }
                let mut renewed = lease.clone();
                let spec = renewed.spec.get_or_insert_with(Default::default);
                spec.renew_time = Some(MicroTime(now.to_k8s().0));
                spec.holder_identity = Some(self.node_name().to_string());
                Some(Op::Update(renewed.into_object()))
            }
        }
    }

    fn sync_pod(&self, view: &ClusterView, p: &Pod, timers: &mut Timers) -> Option<Op> {
        let now = view.now();
        let started_by_us = status::started_by_kubelet(p);
        if pod::is_deleting(p) {
            if !pod::is_terminal(p) && (started_by_us || pod::phase(p) == "Pending") {
                return Some(Op::UpdateStatus(status::stopped(p, now).into_object()));
            }
            // Finish the graceful deletion; a pod held by finalizers stays until they are removed.
            if p.metadata.deletion_grace_period_seconds != Some(0) {
                let target = ObjectRef::new(
                    Kind::Pod,
                    p.metadata.namespace.clone().unwrap_or_default(),
                    p.metadata.name.clone().unwrap_or_default(),
                );
                let options =
                    DeleteOptions { uid: p.metadata.uid.clone(), grace_period_seconds: Some(0), ..Default::default() };
                return Some(Op::Delete { target, options });
            }
            return None;
        }
        if pod::is_terminal(p) {
            return None;
        }
        if pod::phase(p) == "Pending" && !started_by_us {
            return Some(Op::UpdateStatus(status::started(p, now, &self.config).into_object()));
        }
        if !started_by_us {
            return None;
        }
        if let Some(ready) = status::made_ready(p, now) {
            return Some(Op::UpdateStatus(ready.into_object()));
        }
        let finishes_at = status::finishes_at(p)?;
        if finishes_at > now {
            timers.wake_at(finishes_at);
            return None;
        }
        Some(Op::UpdateStatus(status::finished(p, now).into_object()))
    }
}
