//! Posting the Events the controllers' requests imply (see `themelios_controllers::events`).

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use themelios_api::{Op, Resource, Time};
use themelios_controllers::events::EventNote;

/// The core/v1 Event create for a note, named as upstream's recorder names them (`<object>.<hex>`).
pub fn event_op(note: &EventNote, now: Time) -> Op {
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
    Op::Create(event.into_object())
}
