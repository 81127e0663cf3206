//! Scenario files: YAML naming the starting objects (ordinary manifests), the simulated nodes, the
//! controllers, the environment's operations and the faults. Errors name the file, the line and the field.
//! The format is documented in `docs/scenarios.md`.

use crate::model::UserOp;
use crate::scenario::Scenario;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use themelios_api::{Kind, Object, ObjectName, ObjectRef, Op, StateRead};
use themelios_controllers::framework::{Controller, Property};
use themelios_controllers::harness::Harness;
use themelios_controllers::kubelet::{Kubelet, NodeConfig};
use themelios_controllers::{
    cronjob, daemonset, deployment, fixtures, garbagecollector, job, namespace, nodelifecycle, podgc, replicaset,
    scheduler, statefulset, ttlafterfinished,
};

/// A scenario file that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// The 1-based line.
    pub line: usize,
    /// The field at fault, e.g. `controllers[1]` or `objects[0].spec.replicas`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file, self.line, self.field, self.message)
    }
}

impl std::error::Error for ScenarioError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    nodes: Vec<String>,
    controllers: Vec<String>,
    #[serde(default = "settle_by_default")]
    settle: bool,
    #[serde(default)]
    objects: Vec<serde_json::Value>,
    #[serde(default, deserialize_with = "serde_yaml_ng::with::singleton_map_recursive::deserialize")]
    user: Vec<UserSpec>,
    #[serde(default)]
    faults: Faults,
}

fn settle_by_default() -> bool {
    true
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Faults {
    #[serde(default)]
    restarts: BTreeMap<String, u8>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Target {
    kind: String,
    #[serde(default = "default_namespace")]
    namespace: String,
    name: String,
}

fn default_namespace() -> String {
    "default".into()
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
enum UserSpec {
    /// Delete an object.
    Delete(Target),
    /// Scale a ReplicaSet, Deployment or StatefulSet.
    Scale {
        #[serde(flatten)]
        target: Target,
        replicas: i32,
    },
    /// Set the first container's image of a workload's pod template.
    SetImage {
        #[serde(flatten)]
        target: Target,
        image: String,
    },
}

/// The controllers a scenario file may name, with their properties.
pub const CONTROLLERS: &[&str] = &[
    "deployment",
    "replicaset",
    "statefulset",
    "daemonset",
    "job",
    "cronjob",
    "ttl-after-finished",
    "garbage-collector",
    "namespace",
    "node-lifecycle",
    "scheduler",
    "podgc",
    "pod-readier",
];

fn add_controller(h: &mut Harness, name: &str) {
    fn add<C: Controller>(h: &mut Harness, c: C) {
        h.add(c);
    }
    match name {
        "deployment" => add(h, deployment::DeploymentController),
        "replicaset" => add(h, replicaset::ReplicaSetController),
        "statefulset" => add(h, statefulset::StatefulSetController),
        "daemonset" => add(h, daemonset::DaemonSetController),
        "job" => add(h, job::JobController),
        "cronjob" => add(h, cronjob::CronJobController),
        "ttl-after-finished" => add(h, ttlafterfinished::TtlAfterFinishedController),
        "garbage-collector" => add(h, garbagecollector::GarbageCollector),
        "namespace" => add(h, namespace::NamespaceController),
        "node-lifecycle" => add(h, nodelifecycle::NodeLifecycleController),
        "scheduler" => add(h, scheduler::Scheduler::default()),
        "podgc" => add(h, podgc::PodGc::default()),
        "pod-readier" => add(h, fixtures::PodReadier::default()),
        _ => {}
    }
}

fn properties_of(name: &str) -> Vec<Property> {
    match name {
        "deployment" => deployment::properties(),
        "replicaset" => replicaset::properties(),
        "statefulset" => statefulset::properties(),
        "daemonset" => daemonset::properties(),
        "job" => job::properties(),
        "cronjob" => cronjob::properties(),
        "ttl-after-finished" => ttlafterfinished::properties(),
        "garbage-collector" => garbagecollector::properties(),
        "namespace" => namespace::properties(),
        "node-lifecycle" => nodelifecycle::properties(),
        "scheduler" => scheduler::properties(),
        "podgc" => podgc::properties(),
        _ => Vec::new(),
    }
}

/// The line of the `index`-th item of the top-level list `key`, or of the key itself.
fn item_line(text: &str, key: &str, index: usize) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| l.starts_with(&format!("{key}:"))) else { return 1 };
    let items: Vec<usize> = (start + 1..lines.len())
        .take_while(|i| lines[*i].starts_with(' ') || lines[*i].starts_with('-') || lines[*i].trim().is_empty())
        .filter(|i| {
            let t = lines[*i].trim_start();
            t.starts_with("- ") && lines[*i].len() - t.len() <= 2
        })
        .collect();
    items.get(index).map_or(start + 1, |i| i + 1)
}

/// Reads a scenario from a file's text.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let error = |line: usize, field: &str, message: String| ScenarioError {
        file: file.into(),
        line,
        field: field.into(),
        message,
    };
    let spec: ScenarioFile = serde_yaml_ng::from_str(text).map_err(|e| {
        let line = e.location().map_or(1, |l| l.line());
        let text = e.to_string();
        let text = text.split(" at line ").next().unwrap_or(&text).to_string();
        match text.split_once(": ") {
            Some((path, why)) if !path.contains(' ') => error(line, path, why.to_string()),
            _ => error(line, "(document)", text),
        }
    })?;
    for (i, name) in spec.controllers.iter().enumerate() {
        if !CONTROLLERS.contains(&name.as_str()) {
            return Err(error(
                item_line(text, "controllers", i),
                &format!("controllers[{i}]"),
                format!("unknown controller {name:?}; one of {}", CONTROLLERS.join(", ")),
            ));
        }
    }
    let mut objects: Vec<Object> = Vec::new();
    for (i, value) in spec.objects.iter().enumerate() {
        let line = item_line(text, "objects", i);
        let field = format!("objects[{i}]");
        let kind_name = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        let api_version = value.get("apiVersion").and_then(|k| k.as_str()).unwrap_or("");
        let kind =
            Kind::ALL.iter().copied().find(|k| k.name() == kind_name && k.api_version() == api_version).ok_or_else(
                || {
                    error(
                        line,
                        &format!("{field}.kind"),
                        format!("unknown kind {kind_name:?} in apiVersion {api_version:?}"),
                    )
                },
            )?;
        let object = Object::from_json(kind, value.clone()).map_err(|e| error(line, &field, e.to_string()))?;
        objects.push(object);
    }
    let mut user: Vec<Box<dyn Fn() -> UserOp + Send + Sync>> = Vec::new();
    for (i, op) in spec.user.iter().enumerate() {
        let target = match op {
            UserSpec::Delete(t) | UserSpec::Scale { target: t, .. } | UserSpec::SetImage { target: t, .. } => t,
        };
        let Some(kind) = Kind::lookup(&target.kind) else {
            return Err(error(
                item_line(text, "user", i),
                &format!("user[{i}].kind"),
                format!("unknown kind {:?}", target.kind),
            ));
        };
        let op = op.clone();
        user.push(Box::new(move || user_op(kind, &op)));
    }
    let controllers = spec.controllers.clone();
    let nodes = spec.nodes.clone();
    let settle = spec.settle;
    // Every object must be accepted by the API as the scenario starts: a rejected one is an error in the
    // file, not an object silently missing from the model.
    let mut probe = Harness::new();
    for (i, object) in objects.iter().enumerate() {
        if let Err(e) = probe.submit(Op::Create(object.clone())) {
            let line = item_line(text, "objects", i);
            let (field, why) = match e.causes().first() {
                Some(c) => (format!("objects[{i}].{}", c.field), c.message.clone()),
                None => (format!("objects[{i}]"), e.message.clone()),
            };
            return Err(error(line, &field, why));
        }
    }
    let objects = Arc::new(objects);
    let listed = spec.controllers.clone();
    Ok(Scenario {
        name: spec.name,
        setup: Box::new(move || {
            let mut h = Harness::new();
            for name in &controllers {
                add_controller(&mut h, name);
            }
            for node in &nodes {
                h.add(Kubelet::new(NodeConfig::new(node.clone())));
            }
            for object in objects.iter() {
                // Accepted when the file was read (the same objects, in the same order, into a new store).
                if let Err(e) = h.submit(Op::Create(object.clone())) {
                    unreachable!("an object accepted when the scenario was read is rejected now: {e}");
                }
            }
            if settle {
                let _ = h.settle();
            }
            h
        }),
        user_ops: user,
        restarts: spec.faults.restarts.into_iter().collect(),
        properties: Box::new(move || listed.iter().flat_map(|n| properties_of(n)).collect()),
        model_checks: Vec::new(),
    })
}

/// Reads a scenario file.
pub fn load(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.clone(),
        line: 0,
        field: "(file)".into(),
        message: format!("cannot read: {e}"),
    })?;
    parse(&file, &text)
}

fn user_op(kind: Kind, spec: &UserSpec) -> UserOp {
    match spec.clone() {
        UserSpec::Delete(t) => UserOp {
            name: format!("delete {} {}/{}", kind.name(), t.namespace, t.name),
            request: Box::new(move |store| {
                let target = ObjectRef::new(
                    kind,
                    if kind.namespaced() { t.namespace.clone() } else { String::new() },
                    t.name.clone(),
                );
                store.get(kind, &target.name)?;
                Some(Op::delete(target))
            }),
        },
        UserSpec::Scale { target: t, replicas } => UserOp {
            name: format!("scale {} {}/{} to {replicas}", kind.name(), t.namespace, t.name),
            request: Box::new(move |store| {
                store.get(kind, &ObjectName::new(&t.namespace, &t.name))?;
                Some(Op::Scale {
                    target: ObjectRef::new(kind, t.namespace.clone(), t.name.clone()),
                    replicas,
                    resource_version: None,
                })
            }),
        },
        UserSpec::SetImage { target: t, image } => UserOp {
            name: format!("set image of {} {}/{} to {image}", kind.name(), t.namespace, t.name),
            request: Box::new(move |store| {
                let current = store.get(kind, &ObjectName::new(&t.namespace, &t.name))?;
                let mut object = current.object().clone();
                let template = match &mut object {
                    Object::Deployment(d) => &mut d.spec.as_mut()?.template,
                    Object::StatefulSet(s) => &mut s.spec.as_mut()?.template,
                    Object::DaemonSet(d) => &mut d.spec.as_mut()?.template,
                    Object::ReplicaSet(r) => r.spec.as_mut()?.template.as_mut()?,
                    _ => return None,
                };
                template.spec.as_mut()?.containers.first_mut()?.image = Some(image.clone());
                Some(Op::Update(object))
            }),
        },
    }
}
