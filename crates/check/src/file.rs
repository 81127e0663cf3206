//! Scenario files: YAML naming the starting objects (ordinary manifests), the simulated nodes, the
//! controllers, the environment's operations and the faults. Errors name the file, the line and the field.
//! The format is documented in `docs/scenarios.md`.

use crate::consistency::{Consistency, Staleness};
use crate::environment::{create_op, user_op, UserSpec};
use crate::model::{ModelCheck, UserDone, UserOp};
use crate::scenario::Scenario;
use k8s_openapi::api::batch::v1::CronJob;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use themelios_api::schedule::Schedule;
use themelios_api::{Kind, Object, Op, Resource};
use themelios_controllers::framework::Property;
use themelios_controllers::harness::Harness;
use themelios_controllers::kubelet::{Kubelet, NodeConfig};
use themelios_controllers::registry;

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
    /// Nodes whose kubelets start mid-run: the nodes join the cluster.
    #[serde(default)]
    joining: Vec<String>,
    controllers: Vec<String>,
    #[serde(default)]
    settle: Settle,
    #[serde(default)]
    objects: Vec<serde_json::Value>,
    /// Objects created once the first ones have settled (then settled in turn).
    #[serde(default)]
    then: Vec<serde_json::Value>,
    #[serde(default, deserialize_with = "serde_yaml_ng::with::singleton_map_recursive::deserialize")]
    user: Vec<UserSpec>,
    #[serde(default)]
    faults: Faults,
    #[serde(default)]
    properties: Option<Vec<String>>,
    #[serde(default)]
    consistency: ConsistencySpec,
}

/// How the starting cluster is brought to rest before checking begins.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(untagged)]
enum Settle {
    /// `true`: run the controllers until quiet without moving time; `false`: check from the objects as created.
    Flag(bool),
    /// `quiescence`: run until quiet, moving time to every deadline.
    Mode(SettleMode),
}

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum SettleMode {
    Quiescence,
}

impl Default for Settle {
    fn default() -> Self {
        Settle::Flag(true)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Faults {
    #[serde(default)]
    restarts: BTreeMap<String, u8>,
    #[serde(default)]
    conflicts: BTreeMap<String, u8>,
    #[serde(default)]
    timeouts: BTreeMap<String, u8>,
    #[serde(default)]
    stops: BTreeMap<String, u8>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ConsistencySpec {
    /// The model when the command line names none.
    #[serde(default)]
    model: Option<String>,
    /// The actors a model applies to; the others read linearizably.
    #[serde(default)]
    applies_to: Option<Vec<String>>,
    /// How long a cache may miss a write (see [`Staleness`]).
    #[serde(default)]
    staleness: Option<String>,
}

fn add_controller(h: &mut Harness, name: &str) {
    if let Some(registered) = registry::by_name(name) {
        h.add_boxed((registered.make)(&registry::Settings::default()));
    }
}

fn properties_of(name: &str) -> Vec<Property> {
    registry::by_name(name).map(|r| (r.properties)()).unwrap_or_default()
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
        if registry::by_name(name).is_none() {
            return Err(error(
                item_line(text, "controllers", i),
                &format!("controllers[{i}]"),
                format!(
                    "unknown controller {name:?}; one of {}",
                    registry::ALL.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    let objects = manifests(text, "objects", &spec.objects, &error)?;
    let then = manifests(text, "then", &spec.then, &error)?;
    let mut user: Vec<Box<dyn Fn() -> UserOp + Send + Sync>> = Vec::new();
    if spec.user.len() > UserDone::MAX {
        return Err(error(
            item_line(text, "user", UserDone::MAX),
            &format!("user[{}]", UserDone::MAX),
            format!("a scenario lists at most {} user operations", UserDone::MAX),
        ));
    }
    let mut created_mid_run: Vec<(usize, Object)> = Vec::new();
    for (i, op) in spec.user.iter().enumerate() {
        let line = item_line(text, "user", i);
        let Some(target) = op.target() else {
            let UserSpec::Create(value) = op else { unreachable!("only a create names no target") };
            let object = manifest(value, line, &format!("user[{i}].create"), &error)?;
            created_mid_run.push((i, object.clone()));
            user.push(Box::new(move || create_op(object.clone())));
            continue;
        };
        let Some(kind) = Kind::lookup(&target.kind) else {
            return Err(error(line, &format!("user[{i}].kind"), format!("unknown kind {:?}", target.kind)));
        };
        let op = op.clone();
        user.push(Box::new(move || user_op(kind, &op)));
    }
    if let Some((i, node)) = spec.joining.iter().enumerate().find(|(_, n)| spec.nodes.contains(n)) {
        return Err(error(
            item_line(text, "joining", i),
            &format!("joining[{i}]"),
            format!("node {node:?} is listed in `nodes` too; a node either starts with the cluster or joins it"),
        ));
    }
    let available = available_properties(&spec.controllers, !spec.nodes.is_empty() || !spec.joining.is_empty());
    let chosen: Vec<String> = match &spec.properties {
        None => available.iter().map(|p| p.to_string()).collect(),
        Some(names) => {
            for (i, name) in names.iter().enumerate() {
                if !available.contains(&name.as_str()) {
                    return Err(error(
                        item_line(text, "properties", i),
                        &format!("properties[{i}]"),
                        format!("no property {name:?} among the listed controllers'; one of: {}", available.join("; ")),
                    ));
                }
            }
            names.clone()
        }
    };
    let consistency =
        one_of((file, text), spec.consistency.model.as_deref(), "model", Consistency::NAMES, Consistency::named)?
            .unwrap_or(Consistency::LINEARIZABLE);
    let staleness =
        one_of((file, text), spec.consistency.staleness.as_deref(), "staleness", Staleness::NAMES, Staleness::named)?
            .unwrap_or_default();
    // Every object must be accepted by the API as the scenario starts: a rejected one is an error in the
    // file, not an object silently missing from the model.
    let mut probe = Harness::new();
    for (list, objects) in [("objects", &objects), ("then", &then)] {
        for (i, object) in objects.iter().enumerate() {
            if let Err(e) = probe.submit(Op::Create(object.clone())) {
                let line = item_line(text, list, i);
                let (field, why) = match e.causes().first() {
                    Some(c) => (format!("{list}[{i}].{}", c.field), c.message.clone()),
                    None => (format!("{list}[{i}]"), e.message.clone()),
                };
                return Err(error(line, &field, why));
            }
        }
    }
    // An object created mid-run must be one the API accepts once the starting objects exist.
    for (i, object) in created_mid_run {
        // States are hashed modulo the period of the schedules present (a day when there are none), so a
        // CronJob that appears later must repeat within a day for states before it to be merged soundly.
        if let Some(spec) = CronJob::from_object(&object).and_then(|cj| cj.spec.as_ref()) {
            if Schedule::period(&spec.schedule, spec.time_zone.as_deref()).is_none() {
                let why = "a CronJob created mid-run must repeat within a UTC day (day-of-month, month and \
                           day-of-week `*`, no other time zone); list it under `objects` instead";
                return Err(error(item_line(text, "user", i), &format!("user[{i}].create.spec.schedule"), why.into()));
            }
        }
        if let Err(e) = probe.submit(Op::Create(object)) {
            let (field, why) = match e.causes().first() {
                Some(c) => (format!("user[{i}].create.{}", c.field), c.message.clone()),
                None => (format!("user[{i}].create"), e.message.clone()),
            };
            return Err(error(item_line(text, "user", i), &field, why));
        }
    }
    let (objects, then) = (Arc::new(objects), Arc::new(then));
    let controllers = spec.controllers.clone();
    let nodes = spec.nodes.clone();
    let joining_nodes = spec.joining.clone();
    let settle = spec.settle;
    let model_checks = MODEL_CHECKS.iter().filter(|(name, _)| chosen.iter().any(|c| c == name)).copied().collect();
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
            for stage in [&objects, &then] {
                for object in stage.iter() {
                    // Accepted when the file was read (the same objects, in the same order, into a new store).
                    if let Err(e) = h.submit(Op::Create(object.clone())) {
                        unreachable!("an object accepted when the scenario was read is rejected now: {e}");
                    }
                }
                let _ = match settle {
                    Settle::Flag(false) => Ok(()),
                    Settle::Flag(true) => h.settle(),
                    Settle::Mode(SettleMode::Quiescence) => h.run_to_quiescence(),
                };
            }
            // Joining nodes' kubelets are actors from the start, but have not run: they start mid-run.
            for node in &joining_nodes {
                h.add(Kubelet::new(NodeConfig::new(node.clone())));
            }
            h
        }),
        user_ops: user,
        restarts: spec.faults.restarts.into_iter().collect(),
        conflicts: spec.faults.conflicts.into_iter().collect(),
        timeouts: spec.faults.timeouts.into_iter().collect(),
        stops: spec.faults.stops.into_iter().collect(),
        joining: spec.joining.iter().map(|n| format!("kubelet/{n}")).collect(),
        properties: Box::new(move || {
            spec.controllers
                .iter()
                .flat_map(|n| properties_of(n))
                .filter(|p| chosen.iter().any(|c| c == p.name))
                .collect()
        }),
        model_checks,
        consistency,
        staleness,
        applies_to: spec.consistency.applies_to,
        file: Some(file.to_string()),
    })
}

/// The objects of the top-level list `list`, each checked to be a kind we serve.
fn manifests(
    text: &str,
    list: &str,
    values: &[serde_json::Value],
    error: &dyn Fn(usize, &str, String) -> ScenarioError,
) -> Result<Vec<Object>, ScenarioError> {
    values
        .iter()
        .enumerate()
        .map(|(i, value)| manifest(value, item_line(text, list, i), &format!("{list}[{i}]"), error))
        .collect()
}

/// One manifest, at `line` and `field` of the file, checked to be a kind we serve.
fn manifest(
    value: &serde_json::Value,
    line: usize,
    field: &str,
    error: &dyn Fn(usize, &str, String) -> ScenarioError,
) -> Result<Object, ScenarioError> {
    let kind_name = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    let api_version = value.get("apiVersion").and_then(|k| k.as_str()).unwrap_or("");
    let kind = Kind::ALL.iter().copied().find(|k| k.name() == kind_name && k.api_version() == api_version).ok_or_else(
        || error(line, &format!("{field}.kind"), format!("unknown kind {kind_name:?} in apiVersion {api_version:?}")),
    )?;
    Object::from_json(kind, value.clone()).map_err(|e| error(line, field, e.to_string()))
}

/// Properties over the model state that scenario files may ask for, by name.
pub const MODEL_CHECKS: &[(&str, ModelCheck)] = &[(
    "statefulset: at most one running pod per identity across nodes",
    crate::model_checks::one_running_pod_per_identity,
)];

/// The names of the properties a scenario with these controllers (and nodes, or not) can check.
fn available_properties(controllers: &[String], nodes: bool) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = controllers.iter().flat_map(|c| properties_of(c)).map(|p| p.name).collect();
    if nodes && controllers.iter().any(|c| c == "statefulset") {
        names.extend(MODEL_CHECKS.iter().map(|(n, _)| *n));
    }
    names
}

/// The value `name` of `consistency.<key>` read with `named`, or an error listing the `names` it may take.
fn one_of<T>(
    (file, text): (&str, &str),
    name: Option<&str>,
    key: &str,
    names: &[&str],
    named: fn(&str) -> Option<T>,
) -> Result<Option<T>, ScenarioError> {
    let Some(name) = name else { return Ok(None) };
    let what = if key == "model" { "consistency model" } else { key };
    named(name).map(Some).ok_or_else(|| ScenarioError {
        file: file.into(),
        line: key_line(text, key),
        field: format!("consistency.{key}"),
        message: format!("unknown {what} {name:?}; one of {}", names.join(", ")),
    })
}

/// The line of the first line holding `key:` (indented or not).
fn key_line(text: &str, key: &str) -> usize {
    text.lines().position(|l| l.trim_start().starts_with(&format!("{key}:"))).map_or(1, |i| i + 1)
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
