//! POST: name generation, system fields, defaulting, validation, namespace checks.

use super::{put, ApplyContext};
use crate::defaults;
use crate::error::{ApiError, FieldError};
use crate::identity::{generated_suffix, uid_for_revision, SUFFIX_LEN};
use crate::kind::{Kind, Object};
use crate::store::{Change, ObjectName, StateRead};
use crate::validation;

const MAX_GENERATE_NAME_PREFIX: usize = 63 - SUFFIX_LEN;

pub(super) fn create(state: &impl StateRead, object: &Object, ctx: &ApplyContext) -> Result<Change, ApiError> {
    let kind = object.kind();
    let revision = state.revision() + 1;
    let mut object = object.clone();
    let shown_name = object.meta().name.clone().or_else(|| object.meta().generate_name.clone()).unwrap_or_default();

    if object.meta().resource_version.as_deref().is_some_and(|rv| !rv.is_empty()) {
        return Err(ApiError::bad_request("resourceVersion should not be set on objects to be created"));
    }
    let meta = object.meta_mut();
    if meta.name.as_deref().unwrap_or("").is_empty() {
        match meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
            Some(prefix) => {
                let prefix: String = prefix.chars().take(MAX_GENERATE_NAME_PREFIX).collect();
                meta.name = Some(format!("{prefix}{}", generated_suffix(revision)));
            }
            None => {
                return Err(ApiError::invalid(
                    kind,
                    "",
                    vec![FieldError::required("metadata.name", "name or generateName is required")],
                ))
            }
        }
    }
    if !kind.namespaced() && meta.namespace.as_deref().is_some_and(|n| !n.is_empty()) {
        return Err(ApiError::invalid(
            kind,
            &shown_name,
            vec![FieldError::forbidden("metadata.namespace", "not allowed on this type")],
        ));
    }
    // System fields are the server's: whatever the client sent is replaced.
    meta.uid = Some(uid_for_revision(revision));
    meta.creation_timestamp = Some(ctx.now.to_k8s());
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
    meta.generation = kind.tracks_generation().then_some(1);
    if meta.finalizers.as_ref().is_some_and(|f| f.is_empty()) {
        meta.finalizers = None;
    }

    defaults::reset_status_on_create(&mut object);
    defaults::apply_defaults(&mut object);
    defaults::admit_pod(&mut object);
    crate::admission::on_create(&mut object, ctx.now, revision);
    defaults::generate_job_selector(&mut object);
    // Upstream defaults again when it reads the object back: a Job's labels then come from its template.
    defaults::apply_defaults(&mut object);
    let name = object.meta().name.clone().unwrap_or_default();
    let errors = validation::validate(&object);
    if !errors.is_empty() {
        return Err(ApiError::invalid(kind, &name, errors));
    }

    let namespace = object.meta().namespace.clone().unwrap_or_default();
    if kind.namespaced() {
        let ns = state
            .get(Kind::Namespace, &ObjectName::cluster(&namespace))
            .ok_or_else(|| ApiError::not_found(Kind::Namespace, &namespace))?;
        if ns.object().meta().deletion_timestamp.is_some() {
            return Err(ApiError::forbidden(
                kind,
                &name,
                &format!("unable to create new content in namespace {namespace} because it is being terminated"),
            ));
        }
    }
    let key = ObjectName::new(if kind.namespaced() { namespace } else { String::new() }, name.clone());
    if state.get(kind, &key).is_some() {
        return Err(ApiError::already_exists(kind, &name));
    }
    put(state, object)
}
