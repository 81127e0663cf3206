//! Field selectors: `metadata.name=x,spec.nodeName!=y`, over the fields each kind supports.

use super::SelectorError;
use crate::kind::{Kind, Object};

/// One `field=value` or `field!=value` requirement.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldRequirement {
    /// The field path, e.g. `spec.nodeName`.
    pub field: String,
    /// The value compared against.
    pub value: String,
    /// Whether the comparison is `!=`.
    pub negated: bool,
}

/// A parsed field selector for one kind.
///
/// ```
/// use themelios_api::{Kind, selector::FieldSelector};
/// let s = FieldSelector::parse(Kind::Pod, "spec.nodeName=node-1,status.phase!=Failed").unwrap();
/// assert_eq!(s.requirements().len(), 2);
/// let err = FieldSelector::parse(Kind::Pod, "spec.image=nginx").unwrap_err();
/// assert!(err.to_string().contains("\"spec.image\" is not a known field selector"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

/// The fields every kind supports.
const COMMON: &[&str] = &["metadata.name", "metadata.namespace"];

/// The extra selectable fields of a kind, as upstream registers them.
fn kind_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Pod => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        Kind::Event => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        Kind::Node => &["spec.unschedulable"],
        Kind::Namespace => &["status.phase"],
        Kind::Secret => &["type"],
        Kind::Job => &["status.successful"],
        Kind::ReplicaSet => &["status.replicas"],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parses `f=v`, `f==v` and `f!=v` terms separated by commas, accepting only the kind's fields.
    pub fn parse(kind: Kind, input: &str) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for term in input.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, value, negated) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, v, false)
            } else {
                return Err(SelectorError(format!("invalid selector: '{term}'; can't understand '{term}'")));
            };
            let field = field.trim();
            if !COMMON.contains(&field) && !kind_fields(kind).contains(&field) {
                let mut known: Vec<&str> = COMMON.to_vec();
                known.extend_from_slice(kind_fields(kind));
                return Err(SelectorError(format!(
                    "{field:?} is not a known field selector: only {}",
                    known.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ")
                )));
            }
            requirements.push(FieldRequirement { field: field.to_string(), value: value.trim().to_string(), negated });
        }
        Ok(Self { requirements })
    }

    /// The requirements.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Whether the object satisfies every requirement.
    pub fn matches(&self, object: &Object) -> bool {
        self.requirements.iter().all(|r| (field_value(object, &r.field) == r.value) != r.negated)
    }
}

/// The value of a selectable field as a string (empty when unset, as upstream compares it).
pub fn field_value(object: &Object, field: &str) -> String {
    let meta = object.meta();
    match field {
        "metadata.name" => return meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => return meta.namespace.clone().unwrap_or_default(),
        _ => {}
    }
    let opt = |s: Option<&String>| s.cloned().unwrap_or_default();
    match object {
        Object::Pod(p) => {
            let spec = p.spec.as_ref();
            let status = p.status.as_ref();
            match field {
                "spec.nodeName" => opt(spec.and_then(|s| s.node_name.as_ref())),
                "spec.restartPolicy" => opt(spec.and_then(|s| s.restart_policy.as_ref())),
                "spec.schedulerName" => opt(spec.and_then(|s| s.scheduler_name.as_ref())),
                "spec.serviceAccountName" => opt(spec.and_then(|s| s.service_account_name.as_ref())),
                "spec.hostNetwork" => spec.and_then(|s| s.host_network).unwrap_or(false).to_string(),
                "status.phase" => opt(status.and_then(|s| s.phase.as_ref())),
                "status.podIP" => opt(status.and_then(|s| s.pod_ip.as_ref())),
                "status.nominatedNodeName" => opt(status.and_then(|s| s.nominated_node_name.as_ref())),
                _ => String::new(),
            }
        }
        Object::Event(e) => {
            let io = &e.involved_object;
            match field {
                "involvedObject.kind" => opt(io.kind.as_ref()),
                "involvedObject.namespace" => opt(io.namespace.as_ref()),
                "involvedObject.name" => opt(io.name.as_ref()),
                "involvedObject.uid" => opt(io.uid.as_ref()),
                "involvedObject.apiVersion" => opt(io.api_version.as_ref()),
                "involvedObject.resourceVersion" => opt(io.resource_version.as_ref()),
                "involvedObject.fieldPath" => opt(io.field_path.as_ref()),
                "reason" => opt(e.reason.as_ref()),
                "reportingComponent" => opt(e.reporting_component.as_ref()),
                "source" => opt(e.source.as_ref().and_then(|s| s.component.as_ref())),
                "type" => opt(e.type_.as_ref()),
                _ => String::new(),
            }
        }
        Object::Node(n) if field == "spec.unschedulable" => {
            n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false).to_string()
        }
        Object::Namespace(n) if field == "status.phase" => opt(n.status.as_ref().and_then(|s| s.phase.as_ref())),
        Object::Secret(s) if field == "type" => opt(s.type_.as_ref()),
        Object::Job(j) if field == "status.successful" => {
            j.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0).to_string()
        }
        Object::ReplicaSet(r) if field == "status.replicas" => {
            r.status.as_ref().map(|s| s.replicas).unwrap_or(0).to_string()
        }
        _ => String::new(),
    }
}
