//! Informers: a kube-rs watcher per kind (list, then watch, relisting after 410 Gone) feeding [`Caches`].

use crate::cache::Caches;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::watcher;
use std::sync::Arc;
use themelios_api::{Kind, Object};

/// kube-rs's description of a kind.
pub fn api_resource(kind: Kind) -> ApiResource {
    ApiResource {
        group: kind.group().to_string(),
        version: kind.version().to_string(),
        api_version: kind.api_version().to_string(),
        kind: kind.name().to_string(),
        plural: kind.plural().to_string(),
    }
}

fn decode(kind: Kind, object: DynamicObject) -> Option<Object> {
    let mut value = serde_json::to_value(object).ok()?;
    value["apiVersion"] = kind.api_version().into();
    value["kind"] = kind.name().into();
    Object::from_json(kind, value).ok()
}

/// Runs the informer of `kind` until the task is dropped.
pub async fn run(client: kube::Client, kind: Kind, caches: Arc<Caches>) {
    let api: Api<DynamicObject> = Api::all_with(client, &api_resource(kind));
    let mut pending: Vec<Object> = Vec::new();
    let mut stream = watcher(api, watcher::Config::default()).boxed();
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Init) => pending.clear(),
            Ok(watcher::Event::InitApply(object)) => pending.extend(decode(kind, object)),
            Ok(watcher::Event::InitDone) => caches.replace(kind, std::mem::take(&mut pending)),
            Ok(watcher::Event::Apply(object)) => {
                if let Some(object) = decode(kind, object) {
                    caches.apply(object);
                }
            }
            Ok(watcher::Event::Delete(object)) => {
                if let Some(object) = decode(kind, object) {
                    caches.delete(object);
                }
            }
            // The watcher retries by itself; back off a little so a down server is not hammered.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
        }
    }
}
