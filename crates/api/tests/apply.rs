//! The shared API semantics, request by request: the upstream rule, the upstream error.

use serde_json::json;
use themelios_api::{
    apply, ApiError, ApiState, ApplyContext, DeleteOptions, Kind, Object, ObjectName, ObjectRef, Op, Propagation,
    Reason, StateRead, Time,
};

fn ctx() -> ApplyContext {
    ApplyContext { now: Time::EPOCH }
}

fn obj(kind: Kind, value: serde_json::Value) -> Object {
    Object::from_json(kind, value).expect("test object decodes")
}

fn run(state: &mut ApiState, op: Op) -> Result<Object, ApiError> {
    let change = apply(state, &op, &ctx())?;
    state.commit(&change).expect("change is current");
    Ok(change.response.object().clone())
}

fn cluster() -> ApiState {
    let mut state = ApiState::default();
    run(&mut state, Op::Create(obj(Kind::Namespace, json!({"metadata": {"name": "default"}})))).unwrap();
    state
}

fn rs(name: &str, replicas: i64) -> Object {
    obj(
        Kind::ReplicaSet,
        json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
            }
        }),
    )
}

fn pod(name: &str) -> Object {
    obj(
        Kind::Pod,
        json!({"metadata": {"name": name, "namespace": "default"}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}),
    )
}

fn get(state: &ApiState, kind: Kind, name: &str) -> Option<Object> {
    let key = if kind.namespaced() { ObjectName::new("default", name) } else { ObjectName::cluster(name) };
    state.get(kind, &key).map(|s| s.object().clone())
}

fn field_of(err: &ApiError) -> Vec<String> {
    err.causes().iter().map(|c| c.field.clone()).collect()
}

#[test]
fn create_sets_system_fields_generation_defaults_and_clears_status() {
    let mut state = cluster();
    let mut with_status = rs("web", 2);
    if let Object::ReplicaSet(r) = &mut with_status {
        r.status = Some(k8s_openapi::api::apps::v1::ReplicaSetStatus { replicas: 9, ..Default::default() });
    }
    let created = run(&mut state, Op::Create(with_status)).unwrap();
    let meta = created.meta();
    assert_eq!(meta.resource_version.as_deref(), Some("2"));
    assert_eq!(meta.generation, Some(1));
    assert!(meta.uid.is_some() && meta.creation_timestamp.is_some());
    let Object::ReplicaSet(r) = created else { unreachable!() };
    // Upstream stores a value-typed status: `{replicas: 0}` at the least.
    assert_eq!(r.status.map(|s| s.replicas), Some(0), "the client's status is dropped on create");
    let template = r.spec.unwrap().template.unwrap().spec.unwrap();
    assert_eq!(template.restart_policy.as_deref(), Some("Always"));
    assert_eq!(template.scheduler_name.as_deref(), Some("default-scheduler"));
    // Pods start Pending with a QoS class.
    let Object::Pod(p) = run(&mut state, Op::Create(pod("p"))).unwrap() else { unreachable!() };
    let status = p.status.unwrap();
    assert_eq!((status.phase.as_deref(), status.qos_class.as_deref()), (Some("Pending"), Some("BestEffort")));
}

#[test]
fn generate_name_gets_a_unique_suffix() {
    let mut state = cluster();
    let mut names = std::collections::BTreeSet::new();
    for _ in 0..50 {
        let p = obj(
            Kind::Pod,
            json!({"metadata": {"generateName": "web-", "namespace": "default"}, "spec": {"containers": [{"name": "a", "image": "x"}]}}),
        );
        let name = run(&mut state, Op::Create(p)).unwrap().meta().name.clone().unwrap();
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
        assert!(names.insert(name));
    }
}

#[test]
fn create_errors_match_upstream() {
    let mut state = cluster();
    run(&mut state, Op::Create(pod("p"))).unwrap();
    let dup = run(&mut state, Op::Create(pod("p"))).unwrap_err();
    assert_eq!((dup.reason, dup.code()), (Reason::AlreadyExists, 409));
    assert_eq!(dup.message, r#"pods "p" already exists"#);

    let bad_name = run(&mut state, Op::Create(pod("Not_Valid"))).unwrap_err();
    assert_eq!((bad_name.reason, bad_name.code()), (Reason::Invalid, 422));
    assert_eq!(field_of(&bad_name), vec!["metadata.name"]);
    assert!(
        bad_name.message.starts_with(
            r#"Pod "Not_Valid" is invalid: metadata.name: Invalid value: "Not_Valid": a lowercase RFC 1123 subdomain"#
        ),
        "{}",
        bad_name.message
    );

    let negative = run(&mut state, Op::Create(rs("neg", -1))).unwrap_err();
    assert_eq!(negative.reason, Reason::Invalid);
    assert_eq!(
        negative.message,
        r#"ReplicaSet.apps "neg" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"#
    );
    let status = negative.to_status();
    let cause = &status.details.unwrap().causes.unwrap()[0];
    assert_eq!((cause.reason.as_deref(), cause.field.as_deref()), (Some("FieldValueInvalid"), Some("spec.replicas")));

    let no_ns = obj(
        Kind::Pod,
        json!({"metadata": {"name": "x", "namespace": "nowhere"}, "spec": {"containers": [{"name": "a", "image": "x"}]}}),
    );
    let missing = run(&mut state, Op::Create(no_ns)).unwrap_err();
    assert_eq!((missing.reason, missing.message.as_str()), (Reason::NotFound, r#"namespaces "nowhere" not found"#));

    let no_image = obj(
        Kind::Pod,
        json!({"metadata": {"name": "x", "namespace": "default"}, "spec": {"containers": [{"name": "a"}]}}),
    );
    assert_eq!(field_of(&run(&mut state, Op::Create(no_image)).unwrap_err()), vec!["spec.containers[0].image"]);

    let mismatch = obj(
        Kind::ReplicaSet,
        json!({"metadata": {"name": "m", "namespace": "default"}, "spec": {"selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}}}}),
    );
    let err = run(&mut state, Op::Create(mismatch)).unwrap_err();
    assert_eq!(field_of(&err), vec!["spec.template.metadata.labels"]);
    assert!(err.message.contains("`selector` does not match template `labels`"));

    let with_rv = obj(
        Kind::Pod,
        json!({"metadata": {"name": "rv", "namespace": "default", "resourceVersion": "5"}, "spec": {"containers": [{"name": "a", "image": "x"}]}}),
    );
    assert_eq!(run(&mut state, Op::Create(with_rv)).unwrap_err().reason, Reason::BadRequest);
    assert_eq!(state.revision(), 2, "no failed request wrote anything");
}

#[test]
fn update_checks_resource_version_and_bumps_generation_on_spec_changes_only() {
    let mut state = cluster();
    let created = run(&mut state, Op::Create(rs("web", 1))).unwrap();
    let stale = created.clone();

    let mut labelled = created.clone();
    labelled.meta_mut().labels = Some([("tier".to_string(), "front".to_string())].into());
    let after_label = run(&mut state, Op::Update(labelled)).unwrap();
    assert_eq!(after_label.meta().generation, Some(1), "metadata changes keep the generation");

    let conflict = run(&mut state, Op::Update(stale)).unwrap_err();
    assert_eq!(conflict.reason, Reason::Conflict);
    assert_eq!(
        conflict.message,
        r#"Operation cannot be fulfilled on replicasets.apps "web": the object has been modified; please apply your changes to the latest version and try again"#
    );

    let Object::ReplicaSet(mut scaled) = after_label else { unreachable!() };
    scaled.spec.as_mut().unwrap().replicas = Some(4);
    scaled.status = Some(k8s_openapi::api::apps::v1::ReplicaSetStatus { replicas: 99, ..Default::default() });
    let Object::ReplicaSet(after_scale) = run(&mut state, Op::Update(Object::ReplicaSet(scaled))).unwrap() else {
        unreachable!()
    };
    assert_eq!(after_scale.metadata.generation, Some(2));
    assert_eq!(after_scale.status.as_ref().map(|s| s.replicas), Some(0), "the main resource never writes status");

    let rv_before = state.revision();
    let same = run(&mut state, Op::Update(Object::ReplicaSet(after_scale.clone()))).unwrap();
    assert_eq!(state.revision(), rv_before, "a no-op update writes nothing");
    assert_eq!(same.meta().resource_version, after_scale.metadata.resource_version);
}

#[test]
fn status_subresource_changes_only_status() {
    let mut state = cluster();
    let Object::ReplicaSet(mut r) = run(&mut state, Op::Create(rs("web", 1))).unwrap() else { unreachable!() };
    r.spec.as_mut().unwrap().replicas = Some(7);
    r.status = Some(k8s_openapi::api::apps::v1::ReplicaSetStatus { replicas: 1, ..Default::default() });
    let Object::ReplicaSet(after) = run(&mut state, Op::UpdateStatus(Object::ReplicaSet(r))).unwrap() else {
        unreachable!()
    };
    assert_eq!(after.spec.unwrap().replicas, Some(1), "spec ignored through /status");
    assert_eq!(after.status.unwrap().replicas, 1);
    assert_eq!(after.metadata.generation, Some(1));
    // Kinds without status have no status subresource.
    let cm =
        run(&mut state, Op::Create(obj(Kind::ConfigMap, json!({"metadata": {"name": "c", "namespace": "default"}}))))
            .unwrap();
    assert_eq!(run(&mut state, Op::UpdateStatus(cm)).unwrap_err().reason, Reason::NotFound);
}

#[test]
fn immutable_fields_are_rejected_with_their_field() {
    let mut state = cluster();
    let Object::ReplicaSet(mut r) = run(&mut state, Op::Create(rs("web", 1))).unwrap() else { unreachable!() };
    r.spec.as_mut().unwrap().selector.match_labels =
        Some([("app".to_string(), "web".to_string()), ("x".to_string(), "y".to_string())].into());
    r.spec.as_mut().unwrap().template.as_mut().unwrap().metadata.as_mut().unwrap().labels =
        Some([("app".to_string(), "web".to_string()), ("x".to_string(), "y".to_string())].into());
    let err = run(&mut state, Op::Update(Object::ReplicaSet(r))).unwrap_err();
    assert_eq!(err.reason, Reason::Invalid);
    assert_eq!(field_of(&err), vec!["spec.selector"]);
    assert!(err.causes()[0].message.ends_with("field is immutable"));

    let Object::Pod(mut p) = run(&mut state, Op::Create(pod("p"))).unwrap() else { unreachable!() };
    let mut image_only = p.clone();
    image_only.spec.as_mut().unwrap().containers[0].image = Some("nginx:2".into());
    let Object::Pod(after) = run(&mut state, Op::Update(Object::Pod(image_only))).unwrap() else { unreachable!() };
    p.metadata.resource_version = after.metadata.resource_version.clone();
    p.spec.as_mut().unwrap().restart_policy = Some("Never".into());
    let err = run(&mut state, Op::Update(Object::Pod(p))).unwrap_err();
    assert_eq!(field_of(&err), vec!["spec"]);
    assert!(err.causes()[0].message.starts_with("Forbidden: pod updates may not change fields other than"));
}

#[test]
fn finalizers_hold_deleted_objects_and_none_may_be_added() {
    let mut state = cluster();
    let mut held = pod("p");
    held.meta_mut().finalizers = Some(vec!["example.com/hold".into()]);
    run(&mut state, Op::Create(held)).unwrap();
    let deleting = run(&mut state, Op::delete(ObjectRef::new(Kind::Pod, "default", "p"))).unwrap();
    assert!(deleting.meta().deletion_timestamp.is_some());
    assert!(get(&state, Kind::Pod, "p").is_some(), "held by its finalizer");

    let mut more = deleting.clone();
    more.meta_mut().finalizers = Some(vec!["example.com/hold".into(), "example.com/another".into()]);
    let err = run(&mut state, Op::Update(more)).unwrap_err();
    assert_eq!(field_of(&err), vec!["metadata.finalizers"]);
    assert!(err.causes()[0].message.contains("no new finalizers can be added if the object is being deleted"));

    let mut released = deleting;
    released.meta_mut().finalizers = None;
    run(&mut state, Op::Update(released)).unwrap();
    assert!(get(&state, Kind::Pod, "p").is_none(), "removed with its last finalizer");
}

#[test]
fn delete_preconditions_and_propagation_finalizers() {
    let mut state = cluster();
    run(&mut state, Op::Create(rs("web", 1))).unwrap();
    let wrong_uid = DeleteOptions { uid: Some("nope".into()), ..Default::default() };
    let err =
        run(&mut state, Op::Delete { target: ObjectRef::new(Kind::ReplicaSet, "default", "web"), options: wrong_uid })
            .unwrap_err();
    assert_eq!(err.reason, Reason::Conflict);
    assert_eq!(
        err.message,
        "Operation cannot be fulfilled on ReplicaSet.apps \"web\": the UID in the precondition (nope) does not match \
         the UID in record (7e3e1105-0000-4000-8000-000000000002). The object might have been deleted and then recreated"
    );
    assert_eq!(err.to_status().details.unwrap().kind.as_deref(), Some("ReplicaSet"));

    for (policy, finalizer) in [(Propagation::Foreground, "foregroundDeletion"), (Propagation::Orphan, "orphan")] {
        let name = format!("rs-{finalizer}").to_lowercase();
        run(&mut state, Op::Create(rs(&name, 1))).unwrap();
        let options = DeleteOptions { propagation: Some(policy), ..Default::default() };
        let after = run(&mut state, Op::Delete { target: ObjectRef::new(Kind::ReplicaSet, "default", &name), options })
            .unwrap();
        assert_eq!(after.meta().finalizers, Some(vec![finalizer.to_string()]));
        assert!(after.meta().deletion_timestamp.is_some());
        assert_eq!(after.meta().generation, Some(2), "setting deletionTimestamp bumps the generation");
    }
    run(&mut state, Op::delete(ObjectRef::new(Kind::ReplicaSet, "default", "web"))).unwrap();
    assert!(get(&state, Kind::ReplicaSet, "web").is_none(), "background deletes at once");
    let gone = run(&mut state, Op::delete(ObjectRef::new(Kind::ReplicaSet, "default", "web"))).unwrap_err();
    assert_eq!(gone.message, r#"replicasets.apps "web" not found"#);
}

#[test]
fn bound_pods_delete_gracefully_and_unbound_pods_at_once() {
    let mut state = cluster();
    run(&mut state, Op::Create(pod("unbound"))).unwrap();
    run(&mut state, Op::delete(ObjectRef::new(Kind::Pod, "default", "unbound"))).unwrap();
    assert!(get(&state, Kind::Pod, "unbound").is_none());

    run(&mut state, Op::Create(pod("bound"))).unwrap();
    let bound =
        run(&mut state, Op::Bind { pod: ObjectName::new("default", "bound"), uid: None, node: "n1".into() }).unwrap();
    let Object::Pod(p) = &bound else { unreachable!() };
    assert_eq!(p.spec.as_ref().unwrap().node_name.as_deref(), Some("n1"));
    assert!(themelios_api::pod::condition(p, "PodScheduled").is_some_and(|c| c.status == "True"));
    let again = run(&mut state, Op::Bind { pod: ObjectName::new("default", "bound"), uid: None, node: "n2".into() })
        .unwrap_err();
    assert_eq!(again.reason, Reason::Conflict);
    assert!(again.message.contains(r#"is already assigned to node "n1""#));

    let deleting = run(&mut state, Op::delete(ObjectRef::new(Kind::Pod, "default", "bound"))).unwrap();
    assert_eq!(deleting.meta().deletion_grace_period_seconds, Some(30));
    assert_eq!(deleting.meta().deletion_timestamp.as_ref().map(Time::from_k8s), Some(Time::EPOCH.plus_seconds(30)));
    let shorter = DeleteOptions { grace_period_seconds: Some(0), ..Default::default() };
    run(&mut state, Op::Delete { target: ObjectRef::new(Kind::Pod, "default", "bound"), options: shorter }).unwrap();
    assert!(get(&state, Kind::Pod, "bound").is_none(), "a zero grace period finishes the deletion");
}

#[test]
fn eviction_honours_disruption_budgets() {
    let mut state = cluster();
    let mut p = pod("p");
    p.meta_mut().labels = Some([("app".to_string(), "web".to_string())].into());
    run(&mut state, Op::Create(p)).unwrap();
    run(&mut state, Op::Bind { pod: ObjectName::new("default", "p"), uid: None, node: "n1".into() }).unwrap();
    let pdb = obj(
        Kind::PodDisruptionBudget,
        json!({"metadata": {"name": "budget", "namespace": "default"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}),
    );
    let Object::PodDisruptionBudget(mut pdb) = run(&mut state, Op::Create(pdb)).unwrap() else { unreachable!() };
    pdb.status = Some(k8s_openapi::api::policy::v1::PodDisruptionBudgetStatus {
        observed_generation: Some(1),
        current_healthy: 1,
        desired_healthy: 1,
        expected_pods: 1,
        disruptions_allowed: 0,
        ..Default::default()
    });
    let Object::PodDisruptionBudget(mut pdb) =
        run(&mut state, Op::UpdateStatus(Object::PodDisruptionBudget(pdb))).unwrap()
    else {
        unreachable!()
    };

    let refused =
        run(&mut state, Op::Evict { pod: ObjectName::new("default", "p"), options: DeleteOptions::default() })
            .unwrap_err();
    assert_eq!((refused.reason, refused.code()), (Reason::TooManyRequests, 429));
    assert_eq!(refused.message, "Cannot evict pod as it would violate the pod's disruption budget.");
    assert_eq!(refused.causes()[0].reason, "DisruptionBudget");

    pdb.status.as_mut().unwrap().disruptions_allowed = 1;
    run(&mut state, Op::UpdateStatus(Object::PodDisruptionBudget(pdb))).unwrap();
    let evicted =
        run(&mut state, Op::Evict { pod: ObjectName::new("default", "p"), options: DeleteOptions::default() }).unwrap();
    assert!(evicted.meta().deletion_timestamp.is_some());
    let Some(Object::PodDisruptionBudget(after)) = get(&state, Kind::PodDisruptionBudget, "budget") else {
        unreachable!()
    };
    assert_eq!(after.status.unwrap().disruptions_allowed, 0, "the budget is spent in the same write");
}

#[test]
fn terminating_namespace_forbids_creates_until_finalized() {
    let mut state = cluster();
    run(&mut state, Op::Create(obj(Kind::Namespace, json!({"metadata": {"name": "doomed"}})))).unwrap();
    let ns = run(&mut state, Op::delete(ObjectRef::new(Kind::Namespace, "", "doomed"))).unwrap();
    let Object::Namespace(ns) = ns else { unreachable!() };
    assert_eq!(ns.status.as_ref().unwrap().phase.as_deref(), Some("Terminating"));
    let p = obj(
        Kind::Pod,
        json!({"metadata": {"name": "late", "namespace": "doomed"}, "spec": {"containers": [{"name": "a", "image": "x"}]}}),
    );
    let err = run(&mut state, Op::Create(p)).unwrap_err();
    assert_eq!(err.reason, Reason::Forbidden);
    assert!(
        err.message.ends_with("unable to create new content in namespace doomed because it is being terminated"),
        "{}",
        err.message
    );
}

#[test]
fn replacing_a_pod_with_its_original_body_keeps_admission_on_update_and_not_on_create() {
    // DefaultTolerationSeconds adds tolerations on create and on update; a PUT of the manifest as first
    // sent must not read as removing them. The ServiceAccount plugin runs on create only: without its
    // token volume the same PUT changes the spec, which upstream forbids too.
    let mut state = cluster();
    let mut opted_out = pod("p");
    if let Object::Pod(p) = &mut opted_out {
        let spec = p.spec.as_mut().unwrap();
        spec.automount_service_account_token = Some(false);
        spec.service_account_name = Some("default".into());
    }
    run(&mut state, Op::Create(opted_out.clone())).unwrap();
    let replaced = run(&mut state, Op::Update(opted_out)).unwrap();
    let Object::Pod(p) = replaced else { panic!("a pod") };
    let tolerations = p.spec.unwrap().tolerations.unwrap();
    assert_eq!(tolerations.len(), 2);

    run(&mut state, Op::Create(pod("q"))).unwrap();
    let err = run(&mut state, Op::Update(pod("q"))).unwrap_err();
    assert_eq!(err.reason, Reason::Invalid, "the token volume is part of the spec");
    assert!(err.message.contains("pod updates may not change fields"), "{}", err.message);
}

#[test]
fn the_system_namespaces_may_not_be_deleted() {
    let mut state = cluster();
    for name in ["default", "kube-system", "kube-public"] {
        let mut ns = k8s_openapi::api::core::v1::Namespace::default();
        ns.metadata.name = Some(name.into());
        let _ = run(&mut state, Op::Create(themelios_api::Resource::into_object(ns)));
        let err = run(&mut state, Op::delete(themelios_api::ObjectRef::new(Kind::Namespace, "", name))).unwrap_err();
        assert_eq!(err.reason, themelios_api::Reason::Forbidden);
        assert_eq!(err.message, format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted"));
    }
}
