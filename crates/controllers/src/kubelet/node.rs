//! The Node object and Lease a simulated kubelet registers.

use super::{LEASE_DURATION_SECONDS, NODE_LEASE_NAMESPACE};
use crate::common::owner;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Node, NodeAddress, NodeCondition, NodeSpec, NodeStatus, Taint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use std::collections::BTreeMap;
use themelios_api::{Kind, Time};

/// What a simulated node offers.
///
/// ```
/// use themelios_controllers::kubelet::NodeConfig;
/// let node = NodeConfig::new("node-1").cpu("2").memory("4Gi").pods(20).label("zone", "a");
/// assert_eq!(node.name, "node-1");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NodeConfig {
    /// The node name.
    pub name: String,
    /// CPU capacity (a quantity).
    pub cpu: String,
    /// Memory capacity (a quantity).
    pub memory: String,
    /// The most pods it runs.
    pub pods: u32,
    /// Labels beyond the well-known hostname, os and arch labels.
    pub labels: BTreeMap<String, String>,
    /// Taints it registers with.
    pub taints: Vec<Taint>,
}

impl NodeConfig {
    /// A node with 4 CPUs, 16 GiB and room for 110 pods.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            cpu: "4".into(),
            memory: "16Gi".into(),
            pods: 110,
            labels: BTreeMap::new(),
            taints: Vec::new(),
        }
    }
    /// Sets the CPU capacity.
    pub fn cpu(mut self, cpu: &str) -> Self {
        self.cpu = cpu.into();
        self
    }
    /// Sets the memory capacity.
    pub fn memory(mut self, memory: &str) -> Self {
        self.memory = memory.into();
        self
    }
    /// Sets the pod capacity.
    pub fn pods(mut self, pods: u32) -> Self {
        self.pods = pods;
        self
    }
    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }
    /// Adds a taint.
    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        self.taints.push(Taint {
            key: key.into(),
            value: Some(value.into()).filter(|v: &String| !v.is_empty()),
            effect: effect.into(),
            time_added: None,
        });
        self
    }

    /// The Node object the kubelet registers.
    pub fn to_node(&self, now: Time) -> Node {
        let mut labels = self.labels.clone();
        labels.insert("kubernetes.io/hostname".into(), self.name.clone());
        labels.insert("kubernetes.io/os".into(), "linux".into());
        labels.insert("kubernetes.io/arch".into(), "amd64".into());
        let resources: BTreeMap<String, Quantity> =
            [("cpu", self.cpu.clone()), ("memory", self.memory.clone()), ("pods", self.pods.to_string())]
                .into_iter()
                .map(|(k, v)| (k.to_string(), Quantity(v)))
                .collect();
        Node {
            metadata: ObjectMeta { name: Some(self.name.clone()), labels: Some(labels), ..Default::default() },
            spec: Some(NodeSpec {
                taints: (!self.taints.is_empty()).then(|| self.taints.clone()),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                capacity: Some(resources.clone()),
                allocatable: Some(resources),
                conditions: Some(vec![
                    // The pressure conditions a real kubelet reports; simulated nodes are never short.
                    pressure(
                        "MemoryPressure",
                        "KubeletHasSufficientMemory",
                        "kubelet has sufficient memory available",
                        now,
                    ),
                    pressure("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now),
                    pressure("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available", now),
                    NodeCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        reason: Some("KubeletReady".into()),
                        message: Some("kubelet is posting ready status".into()),
                        last_heartbeat_time: Some(now.to_k8s()),
                        last_transition_time: Some(now.to_k8s()),
                    },
                ]),
                addresses: Some(vec![
                    NodeAddress { type_: "InternalIP".into(), address: node_ip(&self.name) },
                    NodeAddress { type_: "Hostname".into(), address: self.name.clone() },
                ]),
                phase: None,
                ..Default::default()
            }),
        }
    }
}

/// A pressure condition that does not hold.
fn pressure(type_: &str, reason: &str, message: &str, now: Time) -> NodeCondition {
    NodeCondition {
        type_: type_.into(),
        status: "False".into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(now.to_k8s()),
        last_transition_time: Some(now.to_k8s()),
    }
}

/// A stable address for a node name, in 10.0.0.0/16.
pub(super) fn node_ip(name: &str) -> String {
    let h = name.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("10.0.{}.{}", (h >> 8) % 256, h % 254 + 1)
}

/// The node's Lease in `kube-node-lease`, owned by the Node so it goes when the node does.
pub(super) fn lease_for(node: &Node, now: Time) -> Lease {
    let name = node.metadata.name.clone().unwrap_or_default();
    Lease {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(NODE_LEASE_NAMESPACE.into()),
            owner_references: Some(vec![{
                let mut r = owner::controller_ref(Kind::Node, &node.metadata);
                r.controller = None;
                r.block_owner_deletion = None;
                r
            }]),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(name),
            lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
            renew_time: Some(MicroTime(now.to_k8s().0)),
            ..Default::default()
        }),
    }
}
