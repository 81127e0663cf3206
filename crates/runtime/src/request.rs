//! One `Op` as one request to the API server, and its outcome as a controller expects it.

use serde_json::{json, Value};
use std::sync::Arc;
use themelios_api::{rest, ApiError, DeleteOptions, Kind, Object, ObjectRef, Op, Reason, StoredObject};
use themelios_controllers::framework::Outcome;

/// The collection URL of a kind in a namespace (see [`themelios_api::rest`]).
pub fn collection_path(kind: Kind, namespace: Option<&str>) -> String {
    rest::collection_path(kind, namespace)
}

/// The URL of one object.
pub fn object_path(target: &ObjectRef) -> String {
    rest::object_path(target.kind, &target.name.namespace, &target.name.name)
}

fn delete_body(options: &DeleteOptions) -> Value {
    let mut body = json!({"kind": "DeleteOptions", "apiVersion": "v1"});
    if let Some(p) = options.propagation {
        body["propagationPolicy"] = p.as_str().into();
    }
    if let Some(grace) = options.grace_period_seconds {
        body["gracePeriodSeconds"] = grace.into();
    }
    if options.uid.is_some() || options.resource_version.is_some() {
        body["preconditions"] = json!({"uid": options.uid, "resourceVersion": options.resource_version});
    }
    body
}

/// The method, URL and body of an `Op`.
pub fn http_request(op: &Op) -> (http::Method, String, Option<Value>) {
    let to_json = |o: &Object| themelios_api::json::to_value(o);
    match op {
        Op::Get(target) => (http::Method::GET, object_path(target), None),
        Op::Create(object) => {
            let target = ObjectRef::of(object);
            (http::Method::POST, collection_path(target.kind, Some(&target.name.namespace)), Some(to_json(object)))
        }
        Op::Update(object) => (http::Method::PUT, object_path(&ObjectRef::of(object)), Some(to_json(object))),
        Op::UpdateStatus(object) => {
            (http::Method::PUT, format!("{}/status", object_path(&ObjectRef::of(object))), Some(to_json(object)))
        }
        Op::Finalize(object) => {
            (http::Method::PUT, format!("{}/finalize", object_path(&ObjectRef::of(object))), Some(to_json(object)))
        }
        Op::Delete { target, options } => (http::Method::DELETE, object_path(target), Some(delete_body(options))),
        Op::Bind { pod, uid, node } => {
            let target = ObjectRef { kind: Kind::Pod, name: pod.clone() };
            let body = json!({"kind": "Binding", "apiVersion": "v1",
                "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": uid},
                "target": {"kind": "Node", "apiVersion": "v1", "name": node}});
            (http::Method::POST, format!("{}/binding", object_path(&target)), Some(body))
        }
        Op::Scale { target, replicas, resource_version } => {
            let body = json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": target.name.name, "namespace": target.name.namespace, "resourceVersion": resource_version},
                "spec": {"replicas": replicas}});
            (http::Method::PUT, format!("{}/scale", object_path(target)), Some(body))
        }
        Op::Evict { pod, options } => {
            let target = ObjectRef { kind: Kind::Pod, name: pod.clone() };
            let body = json!({"kind": "Eviction", "apiVersion": "policy/v1",
                "metadata": {"name": pod.name, "namespace": pod.namespace}, "deleteOptions": delete_body(options)});
            (http::Method::POST, format!("{}/eviction", object_path(&target)), Some(body))
        }
    }
}

/// Sends an `Op` and returns what the controller observes: the object the server returned, or for a
/// response that is a `Status` (a finished delete, a binding) the last version the caller knew.
pub async fn execute(client: &kube::Client, op: &Op, known: Option<Arc<StoredObject>>) -> Outcome {
    let (method, path, body) = http_request(op);
    let body = body.map(|b| themelios_api::json::to_vec(&b)).unwrap_or_default();
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body)
        .map_err(|e| ApiError::new(Reason::BadRequest, e.to_string()))?;
    match client.request::<Value>(request).await {
        Ok(value) if value.get("kind").and_then(Value::as_str) == Some("Status") || value.get("kind").is_none() => {
            known.ok_or_else(|| ApiError::new(Reason::InternalError, "the server answered with a Status only"))
        }
        Ok(value) => {
            let kind = op.target().kind;
            let object =
                Object::from_json(kind, value).map_err(|e| ApiError::new(Reason::InternalError, e.to_string()))?;
            Ok(StoredObject::new(object))
        }
        Err(kube::Error::Api(status)) => {
            Err(ApiError::new(Reason::from_status(&status.reason, status.code), status.message.clone()))
        }
        Err(other) => Err(ApiError::new(Reason::Timeout, other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_api_layout() {
        assert_eq!(collection_path(Kind::Pod, Some("default")), "/api/v1/namespaces/default/pods");
        assert_eq!(collection_path(Kind::Node, Some("")), "/api/v1/nodes");
        assert_eq!(
            object_path(&ObjectRef::new(Kind::Deployment, "d", "web")),
            "/apis/apps/v1/namespaces/d/deployments/web"
        );
        let (method, path, body) =
            http_request(&Op::Bind { pod: themelios_api::ObjectName::new("d", "p"), uid: None, node: "n1".into() });
        assert_eq!((method, path.as_str()), (http::Method::POST, "/api/v1/namespaces/d/pods/p/binding"));
        assert_eq!(body.unwrap()["target"]["name"], "n1");
    }
}
