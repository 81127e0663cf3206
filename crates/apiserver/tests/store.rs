//! The durable store: group commit, restarts, and what readers and watchers see.

use std::sync::Arc;
use themelios_api::{Kind, ObjectName, Op, Resource, StateRead, Time};
use themelios_apiserver::storage::RedbBackend;
use themelios_apiserver::store::{Store, StoreOptions};

fn config_map(name: &str) -> Op {
    let mut cm = k8s_openapi::api::core::v1::ConfigMap::default();
    cm.metadata.name = Some(name.into());
    cm.metadata.namespace = Some("default".into());
    Op::Create(cm.into_object())
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(RedbBackend::open(&dir.join("store.redb")).unwrap(), StoreOptions::default()).unwrap()
}

/// A new store with the `default` namespace (revision 1).
async fn open_new(dir: &std::path::Path) -> Store {
    let store = open(dir);
    let mut ns = k8s_openapi::api::core::v1::Namespace::default();
    ns.metadata.name = Some("default".into());
    store.write(&Op::Create(ns.into_object()), Time::EPOCH).await.unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_commits_and_a_restart_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open_new(dir.path()).await);
    let writers: Vec<_> = (0..64)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..10 {
                    store.write(&config_map(&format!("w{w}-{i}")), Time::EPOCH).await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let snapshot = store.snapshot();
    assert_eq!(snapshot.count(Kind::ConfigMap), 640);
    assert_eq!(snapshot.revision(), 641);
    assert!(store.commits() < 641, "group commit: {} commits for 641 writes", store.commits());
    drop(store);
    // The commit thread has acknowledged every write, so a new store sees them all.
    let reopened = open(dir.path());
    let snapshot = reopened.snapshot();
    assert_eq!((snapshot.revision(), snapshot.count(Kind::ConfigMap)), (641, 640));
    let cm = snapshot.get(Kind::ConfigMap, &ObjectName::new("default", "w63-9")).unwrap();
    assert!(cm.revision() > 0);
    let next = reopened.write(&config_map("after"), Time::EPOCH).await.unwrap();
    assert_eq!(next.revision(), 642, "revisions continue after a restart");
    // The history survives too: a watch from before the restart replays what came after it.
    let events = reopened.watch_cache().events_after(631, 100).unwrap();
    assert_eq!(events.iter().map(|e| e.revision).collect::<Vec<_>>(), (632..=642).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_rejected_request_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_new(dir.path()).await;
    store.write(&config_map("a"), Time::EPOCH).await.unwrap();
    let err = store.write(&config_map("a"), Time::EPOCH).await.unwrap_err();
    assert_eq!(err.reason, themelios_api::Reason::AlreadyExists);
    assert_eq!(store.snapshot().revision(), 2);
    assert_eq!(store.commits(), 2);
}
