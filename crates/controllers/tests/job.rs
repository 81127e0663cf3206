//! The Job integration tests of upstream `test/integration/job/job_test.go`, on the harness, with the
//! Job properties checked after every step (including upstream's invariant that no finished pod keeps the
//! tracking finalizer once counted) and controller restarts where upstream restarts it.

use k8s_openapi::api::batch::v1::{
    Job, PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyOnPodConditionsPattern,
    PodFailurePolicyRule, SuccessPolicy, SuccessPolicyRule,
};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use themelios_api::{pod as podutil, DeleteOptions, Kind, ObjectRef, Op, Propagation, Reason};
use themelios_controllers::fixtures::{self, labels};
use themelios_controllers::harness::{ActorId, Harness};
use themelios_controllers::job::{self, index_of, JobController, TRACKING_FINALIZER};

const NS: &str = "default";

fn harness() -> (Harness, ActorId) {
    let mut h = Harness::new();
    let controller = h.add(JobController);
    h.check(job::properties());
    (h, controller)
}

fn get(h: &Harness, name: &str) -> Job {
    h.get::<Job>(NS, name).expect("job")
}

fn pods(h: &Harness) -> Vec<Pod> {
    h.list::<Pod>()
}

fn active(h: &Harness) -> Vec<Pod> {
    pods(h).into_iter().filter(podutil::is_active).collect()
}

fn finish(h: &mut Harness, pod: &str, exit_code: i32) {
    let now = h.now();
    h.modify_status::<Pod>(NS, pod, |p| fixtures::finish(p, exit_code, now)).unwrap();
}

fn finish_active(h: &mut Harness, count: usize, exit_code: i32) {
    for p in active(h).into_iter().take(count) {
        finish(h, p.metadata.name.as_deref().unwrap(), exit_code);
    }
}

fn counts(h: &Harness, name: &str) -> (i32, i32, i32) {
    let s = get(h, name).status.unwrap_or_default();
    (s.active.unwrap_or(0), s.succeeded.unwrap_or(0), s.failed.unwrap_or(0))
}

fn has_condition(h: &Harness, name: &str, type_: &str) -> Option<String> {
    job::condition(&get(h, name), type_).map(|c| c.reason.clone().unwrap_or_default())
}

/// Upstream's invariant after most steps: active pods carry the finalizer, counted finished pods do not.
fn assert_finalizers(h: &Harness, name: &str) {
    let status = get(h, name).status.unwrap_or_default();
    let uncounted = status.uncounted_terminated_pods.unwrap_or_default();
    let pending: Vec<String> = uncounted.succeeded.into_iter().chain(uncounted.failed).flatten().collect();
    for p in pods(h) {
        let tracked = p.metadata.finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER);
        if podutil::is_active(&p) {
            assert!(tracked, "active pod {:?} lacks the tracking finalizer", p.metadata.name);
        } else if !pending.contains(p.metadata.uid.as_ref().unwrap()) {
            assert!(!tracked, "finished pod {:?} still tracked", p.metadata.name);
        }
    }
}

#[test]
fn test_non_parallel_job() {
    let (mut h, controller) = harness();
    h.create(fixtures::job(NS, "job", 1, Some(1))).unwrap();
    // Pods run until the test finishes them: the goal is checked only at the end.
    h.expect_goals(false);
    h.settle().unwrap();
    assert_eq!(counts(&h, "job"), (1, 0, 0));
    assert_finalizers(&h, "job");
    h.restart(controller);
    finish_active(&mut h, 1, 1);
    h.run_for(10).unwrap();
    assert_eq!(counts(&h, "job"), (1, 0, 1), "the failed pod is replaced after the backoff");
    assert_finalizers(&h, "job");
    h.restart(controller);
    finish_active(&mut h, 1, 0);
    h.expect_goals(true);
    h.settle().unwrap();
    assert_eq!(counts(&h, "job"), (0, 1, 1));
    assert_eq!(has_condition(&h, "job", "Complete").as_deref(), Some("CompletionsReached"));
    assert_finalizers(&h, "job");
}

#[test]
fn test_parallel_job() {
    let (mut h, _) = harness();
    h.create(fixtures::job(NS, "job", 5, None)).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    assert_eq!(counts(&h, "job").0, 5);
    for p in active(&h).into_iter().take(2) {
        let now = h.now();
        h.modify_status::<Pod>(NS, p.metadata.name.as_deref().unwrap(), |p| fixtures::make_ready(p, now)).unwrap();
    }
    h.settle().unwrap();
    assert_eq!(get(&h, "job").status.unwrap().ready, Some(2), "ready pods are counted");
    finish_active(&mut h, 2, 1);
    h.run_for(20).unwrap();
    assert_eq!(counts(&h, "job"), (5, 0, 2), "failed pods are replaced");
    finish_active(&mut h, 1, 0);
    h.run_for(20).unwrap();
    assert_eq!(counts(&h, "job"), (4, 1, 2), "no new pods after the first success");
    finish_active(&mut h, 2, 1);
    h.run_for(20).unwrap();
    assert_eq!(counts(&h, "job"), (2, 1, 4));
    finish_active(&mut h, 2, 0);
    h.expect_goals(true);
    h.run_to_quiescence().unwrap();
    assert_eq!(counts(&h, "job"), (0, 3, 4));
    assert!(has_condition(&h, "job", "Complete").is_some());
    assert_finalizers(&h, "job");
}

#[test]
fn test_parallel_job_changing_parallelism() {
    let (mut h, _) = harness();
    let mut j = fixtures::job(NS, "job", 5, None);
    j.spec.as_mut().unwrap().backoff_limit = Some(2);
    h.create(j).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    for parallelism in [2, 4] {
        h.modify::<Job>(NS, "job", |j| j.spec.as_mut().unwrap().parallelism = Some(parallelism)).unwrap();
        h.settle().unwrap();
        assert_eq!(counts(&h, "job"), (parallelism, 0, 0), "scale-down deletions are not failures");
        assert_eq!(active(&h).len(), parallelism as usize);
    }
    finish_active(&mut h, 4, 0);
    h.expect_goals(true);
    h.settle().unwrap();
    assert!(has_condition(&h, "job", "Complete").is_some());
}

#[test]
fn test_parallel_job_with_completions() {
    let (mut h, _) = harness();
    h.create(fixtures::job(NS, "job", 54, Some(56))).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    assert_eq!(counts(&h, "job").0, 54);
    finish_active(&mut h, 53, 0);
    h.settle().unwrap();
    assert_eq!(counts(&h, "job"), (3, 53, 0), "active never exceeds the remaining completions");
    finish_active(&mut h, 3, 0);
    h.expect_goals(true);
    h.settle().unwrap();
    assert_eq!(counts(&h, "job"), (0, 56, 0));
}

fn indexed(name: &str, parallelism: i32, completions: i32) -> Job {
    let mut j = fixtures::job(NS, name, parallelism, Some(completions));
    j.spec.as_mut().unwrap().completion_mode = Some("Indexed".into());
    j
}

fn active_indexes(h: &Harness) -> Vec<i32> {
    let mut v: Vec<i32> = active(h).iter().filter_map(index_of).collect();
    v.sort();
    v
}

fn pod_with_index(h: &Harness, index: i32) -> String {
    active(h).into_iter().find(|p| index_of(p) == Some(index)).and_then(|p| p.metadata.name).expect("pod for index")
}

#[test]
fn test_indexed_job() {
    let (mut h, _) = harness();
    h.create(indexed("job", 3, 4)).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    assert_eq!(active_indexes(&h), vec![0, 1, 2]);
    for p in active(&h) {
        let i = index_of(&p).unwrap();
        assert_eq!(p.spec.as_ref().unwrap().hostname.as_deref(), Some(format!("job-{i}").as_str()));
        assert_eq!(p.metadata.labels.as_ref().unwrap()[job::COMPLETION_INDEX], i.to_string());
    }
    let one = pod_with_index(&h, 1);
    finish(&mut h, &one, 0);
    h.settle().unwrap();
    assert_eq!(active_indexes(&h), vec![0, 2, 3], "index 3 starts when index 1 succeeds");
    assert_eq!(get(&h, "job").status.unwrap().completed_indexes.as_deref(), Some("1"));
    let two = pod_with_index(&h, 2);
    finish(&mut h, &two, 1);
    h.run_for(20).unwrap();
    assert_eq!(active_indexes(&h), vec![0, 2, 3], "a failed index is re-created as the same index");
    for i in [0, 2, 3] {
        let name = pod_with_index(&h, i);
        finish(&mut h, &name, 0);
    }
    h.expect_goals(true);
    h.settle().unwrap();
    let status = get(&h, "job").status.unwrap();
    assert_eq!(status.completed_indexes.as_deref(), Some("0-3"));
    assert_eq!(status.succeeded, Some(4));
    assert_finalizers(&h, "job");
}

#[test]
fn test_job_pods_created_with_exponential_backoff() {
    let (mut h, _) = harness();
    h.create(fixtures::job(NS, "job", 1, Some(1))).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    let created_at = |h: &Harness| -> Vec<i64> {
        let mut v: Vec<i64> = pods(h)
            .iter()
            .map(|p| themelios_api::Time::from_k8s(p.metadata.creation_timestamp.as_ref().unwrap()).0)
            .collect();
        v.sort();
        v
    };
    for _ in 0..2 {
        finish_active(&mut h, 1, 1);
        let failed_at = h.now();
        h.run_until(|h| active(h).len() == 1).unwrap();
        let _ = failed_at;
    }
    let t = created_at(&h);
    let (first_failure, second_failure) = (t[0], t[1]);
    assert!((10..=20).contains(&(t[1] - first_failure)), "2nd pod {}s after the 1st failure", t[1] - t[0]);
    assert!((20..=40).contains(&(t[2] - second_failure)), "3rd pod {}s after the 2nd failure", t[2] - t[1]);
}

#[test]
fn test_job_failed_with_interrupts() {
    let (mut h, controller) = harness();
    let mut j = fixtures::job(NS, "job", 10, Some(10));
    j.spec.as_mut().unwrap().backoff_limit = Some(0);
    h.create(j).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    h.expect_goals(true);
    h.stop(controller);
    finish_active(&mut h, 1, 1);
    finish_active(&mut h, 9, 0);
    h.restart(controller);
    h.settle().unwrap();
    assert_eq!(has_condition(&h, "job", "Failed").as_deref(), Some("BackoffLimitExceeded"));
    assert_finalizers(&h, "job");
}

#[test]
fn test_finalizers_cleared_when_backoff_limit_exceeded() {
    let (mut h, _) = harness();
    let mut j = indexed("job", 100, 100);
    j.spec.as_mut().unwrap().backoff_limit = Some(0);
    h.create(j).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    finish_active(&mut h, 1, 1);
    h.expect_goals(true);
    h.settle().unwrap();
    assert_eq!(has_condition(&h, "job", "Failed").as_deref(), Some("BackoffLimitExceeded"));
    assert!(pods(&h).iter().all(|p| !p.metadata.finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER)));
}

/// The Job's one active pod, Running, its container restarted `restarts` times in place.
fn restart_in_place(h: &mut Harness, restarts: i32) {
    let pod = active(h).pop().expect("an active pod");
    h.modify_status::<Pod>(NS, pod.metadata.name.as_deref().unwrap(), |p| {
        let status = p.status.get_or_insert_with(Default::default);
        status.phase = Some("Running".into());
        status.container_statuses =
            Some(vec![ContainerStatus { name: "app".into(), restart_count: restarts, ..Default::default() }]);
    })
    .unwrap();
}

#[test]
fn restarts_in_place_count_against_the_backoff_limit_under_restart_policy_on_failure() {
    // Documented upstream ("Pod backoff failure policy"): with restartPolicy OnFailure the retries are the
    // restarts of the containers of pods still Pending or Running, and reaching backoffLimit fails the Job.
    let (mut h, _) = harness();
    let mut j = fixtures::job(NS, "job", 1, Some(1));
    let spec = j.spec.as_mut().unwrap();
    spec.backoff_limit = Some(2);
    spec.template.spec.as_mut().unwrap().restart_policy = Some("OnFailure".into());
    h.create(j).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    restart_in_place(&mut h, 1);
    h.settle().unwrap();
    assert_eq!(has_condition(&h, "job", "Failed"), None, "one restart is within a limit of two");
    assert_eq!(active(&h).len(), 1);
    restart_in_place(&mut h, 2);
    h.expect_goals(true);
    h.settle().unwrap();
    assert_eq!(has_condition(&h, "job", "Failed").as_deref(), Some("BackoffLimitExceeded"));
    assert!(active(&h).is_empty(), "the restarting pod is stopped");
    assert_eq!(counts(&h, "job").2, 0, "a pod the Job stops itself is not a failure");
    assert_finalizers(&h, "job");
}

#[test]
fn restarts_count_only_under_restart_policy_on_failure() {
    let (mut h, _) = harness();
    let mut j = fixtures::job(NS, "job", 1, Some(1));
    j.spec.as_mut().unwrap().backoff_limit = Some(1);
    h.create(j).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    // Under Never a kubelet does not restart containers; a restart count from elsewhere is not a retry.
    restart_in_place(&mut h, 5);
    h.settle().unwrap();
    assert_eq!(has_condition(&h, "job", "Failed"), None);
    assert_eq!(active(&h).len(), 1);
}

#[test]
fn test_orphan_pods_finalizers_cleared_with_gc() {
    for policy in [Propagation::Orphan, Propagation::Background, Propagation::Foreground] {
        let (mut h, _) = harness();
        h.create(fixtures::job(NS, "job", 2, Some(2))).unwrap();
        h.expect_goals(false);
        h.settle().unwrap();
        let options = DeleteOptions { propagation: Some(policy), ..Default::default() };
        h.submit(Op::Delete { target: ObjectRef::new(Kind::Job, NS, "job"), options }).unwrap();
        h.settle().unwrap();
        assert!(
            pods(&h).iter().all(|p| !p.metadata.finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER)),
            "{policy:?}"
        );
    }
}

#[test]
fn test_orphan_pods_finalizers_cleared_on_restart() {
    let (mut h, controller) = harness();
    h.create(fixtures::job(NS, "job", 2, Some(2))).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    h.stop(controller);
    h.submit(Op::delete(ObjectRef::new(Kind::Job, NS, "job"))).unwrap();
    h.restart(controller);
    h.settle().unwrap();
    assert!(pods(&h).iter().all(|p| !p.metadata.finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER)));
}

#[test]
fn test_suspend_job_and_restart() {
    let (mut h, controller) = harness();
    let mut j = fixtures::job(NS, "job", 2, Some(4));
    j.spec.as_mut().unwrap().suspend = Some(true);
    h.create(j).unwrap();
    h.settle().unwrap();
    assert_eq!(counts(&h, "job").0, 0);
    assert_eq!(has_condition(&h, "job", "Suspended").as_deref(), Some("JobSuspended"));
    h.restart(controller);
    h.settle().unwrap();
    assert_eq!(counts(&h, "job").0, 0, "a suspended Job stays at 0 active after a restart");
    h.modify::<Job>(NS, "job", |j| j.spec.as_mut().unwrap().suspend = Some(false)).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    assert_eq!(counts(&h, "job").0, 2);
    let suspended = job::condition(&get(&h, "job"), "Suspended").is_none();
    assert!(suspended, "Suspended is False once resumed");
    let cond = get(&h, "job").status.unwrap().conditions.unwrap().into_iter().find(|c| c.type_ == "Suspended").unwrap();
    assert_eq!((cond.status.as_str(), cond.reason.as_deref()), ("False", Some("JobResumed")));
    assert!(get(&h, "job").status.unwrap().start_time.is_some());
    h.modify::<Job>(NS, "job", |j| j.spec.as_mut().unwrap().suspend = Some(true)).unwrap();
    h.settle().unwrap();
    assert!(active(&h).is_empty(), "suspending deletes active pods");
    assert_eq!(counts(&h, "job"), (0, 0, 0));
    assert!(get(&h, "job").status.unwrap().start_time.is_none());
}

#[test]
fn test_node_selector_update() {
    let (mut h, _) = harness();
    let mut j = fixtures::job(NS, "job", 1, Some(1));
    j.spec.as_mut().unwrap().suspend = Some(true);
    h.create(j).unwrap();
    h.settle().unwrap();
    h.modify::<Job>(NS, "job", |j| {
        let spec = j.spec.as_mut().unwrap();
        spec.suspend = Some(false);
        spec.template.spec.as_mut().unwrap().node_selector = Some(labels(&[("foo", "bar")]));
    })
    .expect("the template may change in the update that unsuspends");
    h.expect_goals(false);
    h.settle().unwrap();
    let selector = active(&h)[0].spec.clone().unwrap().node_selector.unwrap();
    assert_eq!(selector["foo"], "bar");
    let err = h
        .modify::<Job>(NS, "job", |j| j.spec.as_mut().unwrap().template.spec.as_mut().unwrap().node_selector = None)
        .unwrap_err();
    assert_eq!(err.reason, Reason::Invalid);
    assert!(err.message.contains("spec.template: Invalid value"), "{}", err.message);
}

fn failure_policy() -> PodFailurePolicy {
    PodFailurePolicy {
        rules: vec![
            PodFailurePolicyRule {
                action: "Ignore".into(),
                on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                    type_: "DisruptionTarget".into(),
                    status: "True".into(),
                }]),
                on_exit_codes: None,
            },
            PodFailurePolicyRule {
                action: "Count".into(),
                on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                    container_name: None,
                    operator: "In".into(),
                    values: vec![10],
                }),
                on_pod_conditions: None,
            },
            PodFailurePolicyRule {
                action: "FailJob".into(),
                on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                    container_name: None,
                    operator: "In".into(),
                    values: vec![5, 6, 7],
                }),
                on_pod_conditions: None,
            },
        ],
    }
}

#[test]
fn test_job_pod_failure_policy() {
    // (exit code, disruption condition, restart the controller, expected: Some(failed count) or None for FailJob)
    let cases = [
        (5, false, false, None),
        (5, false, true, None),
        (10, false, false, Some(1)),
        (3, false, false, Some(1)),
        (1, true, false, Some(0)),
    ];
    for (exit_code, disrupted, restart, expected) in cases {
        let (mut h, controller) = harness();
        let mut j = fixtures::job(NS, "job", 1, Some(1));
        j.spec.as_mut().unwrap().pod_failure_policy = Some(failure_policy());
        h.create(j).unwrap();
        h.expect_goals(false);
        h.settle().unwrap();
        let victim = active(&h)[0].metadata.name.clone().unwrap();
        let now = h.now();
        h.modify_status::<Pod>(NS, &victim, |p| {
            fixtures::finish(p, exit_code, now);
            if disrupted {
                podutil::set_condition(
                    p,
                    podutil::new_condition("DisruptionTarget", true, "EvictionByEvictionAPI", ""),
                    now,
                );
            }
        })
        .unwrap();
        if restart {
            h.restart(controller);
        }
        h.run_for(30).unwrap();
        let case = format!("exit {exit_code}, disrupted {disrupted}, restart {restart}");
        match expected {
            None => {
                assert_eq!(has_condition(&h, "job", "Failed").as_deref(), Some("PodFailurePolicy"), "{case}");
                let message = job::condition(&get(&h, "job"), "Failed").unwrap().message.clone().unwrap();
                assert!(message.contains("matching FailJob rule at index 2"), "{case}: {message}");
            }
            Some(failed) => {
                assert_eq!(counts(&h, "job").2, failed, "{case}");
                assert_eq!(active(&h).len(), 1, "{case}: the pod is replaced");
            }
        }
    }
}

#[test]
fn test_job_pod_failure_policy_with_failed_pod_deleted_during_controller_restart() {
    let (mut h, controller) = harness();
    let mut j = fixtures::job(NS, "job", 1, Some(1));
    j.spec.as_mut().unwrap().pod_failure_policy = Some(failure_policy());
    h.create(j).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    let victim = active(&h)[0].metadata.name.clone().unwrap();
    finish(&mut h, &victim, 5);
    // Run until the controller has recorded FailureTarget and released the pod's finalizer, then crash it.
    h.run_until(|h| {
        h.get::<Pod>(NS, &victim)
            .is_some_and(|p| !p.metadata.finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER))
    })
    .unwrap();
    assert!(has_condition(&h, "job", "FailureTarget").is_some());
    h.stop(controller);
    h.submit(Op::delete(ObjectRef::new(Kind::Pod, NS, &victim))).unwrap();
    h.restart(controller);
    h.expect_goals(true);
    h.settle().unwrap();
    assert_eq!(has_condition(&h, "job", "Failed").as_deref(), Some("PodFailurePolicy"));
}

#[test]
fn test_backoff_limit_per_index() {
    let (mut h, _) = harness();
    let mut j = indexed("job", 2, 2);
    let spec = j.spec.as_mut().unwrap();
    spec.backoff_limit_per_index = Some(1);
    spec.backoff_limit = None;
    h.create(j).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    let zero = pod_with_index(&h, 0);
    finish(&mut h, &zero, 1);
    h.run_for(20).unwrap();
    let replacement = active(&h).into_iter().find(|p| index_of(p) == Some(0)).expect("index 0 retried");
    assert_eq!(replacement.metadata.annotations.as_ref().unwrap()[job::INDEX_FAILURE_COUNT], "1");
    finish(&mut h, replacement.metadata.name.as_deref().unwrap(), 1);
    h.run_for(40).unwrap();
    assert!(active_indexes(&h).iter().all(|i| *i != 0), "index 0 used up its limit");
    assert_eq!(get(&h, "job").status.unwrap().failed_indexes.as_deref(), Some("0"));
    let one = pod_with_index(&h, 1);
    finish(&mut h, &one, 0);
    h.expect_goals(true);
    h.settle().unwrap();
    assert_eq!(has_condition(&h, "job", "Failed").as_deref(), Some("FailedIndexes"));
}

#[test]
fn test_max_failed_indexes_ends_the_job_early() {
    let (mut h, _) = harness();
    let mut j = indexed("job", 3, 3);
    let spec = j.spec.as_mut().unwrap();
    spec.backoff_limit_per_index = Some(0);
    spec.max_failed_indexes = Some(0);
    h.create(j).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    let zero = pod_with_index(&h, 0);
    finish(&mut h, &zero, 1);
    h.expect_goals(true);
    h.settle().unwrap();
    assert_eq!(has_condition(&h, "job", "Failed").as_deref(), Some("MaxFailedIndexesExceeded"));
    assert!(active(&h).is_empty(), "remaining pods are terminated");
}

#[test]
fn test_success_policy() {
    let (mut h, _) = harness();
    let mut j = indexed("job", 3, 3);
    j.spec.as_mut().unwrap().success_policy = Some(SuccessPolicy {
        rules: vec![SuccessPolicyRule { succeeded_indexes: Some("0".into()), succeeded_count: None }],
    });
    h.create(j).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    let zero = pod_with_index(&h, 0);
    finish(&mut h, &zero, 0);
    let mut saw_interim = false;
    h.run_until(|h| {
        let j = h.get::<Job>(NS, "job").unwrap();
        saw_interim |= job::condition(&j, "SuccessCriteriaMet").is_some() && job::condition(&j, "Complete").is_none();
        false
    })
    .unwrap();
    assert!(saw_interim, "SuccessCriteriaMet comes before Complete");
    assert_eq!(has_condition(&h, "job", "Complete").as_deref(), Some("SuccessPolicy"));
    assert!(active(&h).is_empty(), "the remaining pods are terminated");
}

#[test]
fn test_delay_terminal_phase_condition() {
    let (mut h, _) = harness();
    let mut j = fixtures::job(NS, "job", 2, Some(2));
    j.spec.as_mut().unwrap().backoff_limit = Some(0);
    h.create(j).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    // The surviving pod is held while terminating: Failed waits until it is terminal.
    let pods_now = active(&h);
    let held = pods_now[1].metadata.name.clone().unwrap();
    h.modify::<Pod>(NS, &held, |p| p.metadata.finalizers.get_or_insert_with(Vec::new).push("example.com/hold".into()))
        .unwrap();
    finish(&mut h, pods_now[0].metadata.name.as_deref().unwrap(), 1);
    h.settle().unwrap();
    assert_eq!(has_condition(&h, "job", "FailureTarget").as_deref(), Some("BackoffLimitExceeded"));
    assert!(has_condition(&h, "job", "Failed").is_none(), "not Failed while a pod is terminating");
    assert_eq!(get(&h, "job").status.unwrap().terminating, Some(1));
    let now = h.now();
    h.modify_status::<Pod>(NS, &held, |p| fixtures::finish(p, 137, now)).unwrap();
    h.expect_goals(true);
    h.settle().unwrap();
    assert_eq!(has_condition(&h, "job", "Failed").as_deref(), Some("BackoffLimitExceeded"));
}

#[test]
fn test_job_pod_replacement_policy() {
    for (policy, replaced_while_terminating) in [("Failed", false), ("TerminatingOrFailed", true)] {
        let (mut h, _) = harness();
        let mut j = fixtures::job(NS, "job", 1, Some(1));
        j.spec.as_mut().unwrap().pod_replacement_policy = Some(policy.into());
        h.create(j).unwrap();
        h.expect_goals(false);
        h.settle().unwrap();
        let first = active(&h)[0].metadata.name.clone().unwrap();
        h.modify::<Pod>(NS, &first, |p| {
            p.metadata.finalizers.get_or_insert_with(Vec::new).push("example.com/hold".into())
        })
        .unwrap();
        h.submit(Op::delete(ObjectRef::new(Kind::Pod, NS, &first))).unwrap();
        h.run_for(30).unwrap();
        assert_eq!(active(&h).len() == 1, replaced_while_terminating, "{policy}");
        assert_eq!(get(&h, "job").status.unwrap().terminating, Some(1), "{policy}");
        let now = h.now();
        h.modify_status::<Pod>(NS, &first, |p| fixtures::finish(p, 137, now)).unwrap();
        h.run_for(30).unwrap();
        assert_eq!(active(&h).len(), 1, "{policy}: replaced once Failed");
    }
}

#[test]
fn test_elastic_indexed_job() {
    let (mut h, _) = harness();
    h.create(indexed("job", 3, 3)).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    // Scale up.
    h.modify::<Job>(NS, "job", |j| {
        let spec = j.spec.as_mut().unwrap();
        spec.completions = Some(5);
        spec.parallelism = Some(5);
    })
    .unwrap();
    h.settle().unwrap();
    assert_eq!(active_indexes(&h), vec![0, 1, 2, 3, 4]);
    let four = pod_with_index(&h, 4);
    finish(&mut h, &four, 0);
    h.settle().unwrap();
    // Scale down: the success outside the new range does not count.
    h.modify::<Job>(NS, "job", |j| {
        let spec = j.spec.as_mut().unwrap();
        spec.completions = Some(2);
        spec.parallelism = Some(2);
    })
    .unwrap();
    h.settle().unwrap();
    assert_eq!(active_indexes(&h), vec![0, 1]);
    // Zero is not stored (`succeeded` is `omitempty` upstream).
    assert_eq!(get(&h, "job").status.unwrap().succeeded, None);
    // Scale to zero: the Job succeeds.
    h.modify::<Job>(NS, "job", |j| {
        let spec = j.spec.as_mut().unwrap();
        spec.completions = Some(0);
        spec.parallelism = Some(0);
    })
    .unwrap();
    h.expect_goals(true);
    h.settle().unwrap();
    assert!(has_condition(&h, "job", "Complete").is_some());
}

#[test]
fn test_managed_by() {
    let (mut h, _) = harness();
    let mut j = fixtures::job(NS, "job", 1, Some(1));
    j.spec.as_mut().unwrap().managed_by = Some("example.com/custom-controller".into());
    h.create(j).unwrap();
    h.settle().unwrap();
    assert!(pods(&h).is_empty());
    // `status: {}`, as upstream stores a Job's value-typed status.
    assert_eq!(get(&h, "job").status.unwrap_or_default(), Default::default(), "status is left to the other controller");
    // A Job re-created under the same name is a different object (identified by uid).
    h.submit(Op::delete(ObjectRef::new(Kind::Job, NS, "job"))).unwrap();
    h.create(fixtures::job(NS, "job", 1, Some(1))).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    assert_eq!(active(&h).len(), 1);
}

#[test]
fn invalid_job_specs_are_rejected_with_their_field() {
    let (mut h, _) = harness();
    let mut bad = fixtures::job(NS, "bad", 1, Some(1));
    bad.spec.as_mut().unwrap().template.spec.as_mut().unwrap().restart_policy = Some("Always".into());
    let err = h.create(bad).unwrap_err();
    assert_eq!(err.causes()[0].field, "spec.template.spec.restartPolicy");
    let mut bad = indexed("bad", 1, 1);
    bad.spec.as_mut().unwrap().completions = None;
    assert_eq!(h.create(bad).unwrap_err().causes()[0].field, "spec.completions");
    let mut bad = fixtures::job(NS, "bad", -1, Some(1));
    bad.spec.as_mut().unwrap().active_deadline_seconds = Some(0);
    let fields: Vec<String> = h.create(bad).unwrap_err().causes().iter().map(|c| c.field.clone()).collect();
    assert!(
        fields.contains(&"spec.parallelism".to_string()) && fields.contains(&"spec.activeDeadlineSeconds".to_string()),
        "{fields:?}"
    );
}

#[test]
fn active_deadline_fails_the_job() {
    let (mut h, _) = harness();
    let mut j = fixtures::job(NS, "job", 1, Some(1));
    j.spec.as_mut().unwrap().active_deadline_seconds = Some(30);
    h.create(j).unwrap();
    h.run_to_quiescence().unwrap();
    assert_eq!(has_condition(&h, "job", "Failed").as_deref(), Some("DeadlineExceeded"));
    assert!(active(&h).is_empty());
}

#[test]
fn test_backoff_limit_per_index_global_limit_first_and_fail_index() {
    // The global backoffLimit is reached before any index uses up its own limit.
    let (mut h, _) = harness();
    let mut j = indexed("job", 2, 2);
    let spec = j.spec.as_mut().unwrap();
    spec.backoff_limit_per_index = Some(2);
    spec.backoff_limit = Some(1);
    h.create(j).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    finish_active(&mut h, 2, 1);
    h.expect_goals(true);
    h.settle().unwrap();
    assert_eq!(has_condition(&h, "job", "Failed").as_deref(), Some("BackoffLimitExceeded"));

    // A FailIndex rule fails the index at once.
    let (mut h, _) = harness();
    let mut j = indexed("job", 2, 2);
    let spec = j.spec.as_mut().unwrap();
    spec.backoff_limit_per_index = Some(3);
    spec.pod_failure_policy = Some(PodFailurePolicy {
        rules: vec![PodFailurePolicyRule {
            action: "FailIndex".into(),
            on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                container_name: None,
                operator: "In".into(),
                values: vec![42],
            }),
            on_pod_conditions: None,
        }],
    });
    h.create(j).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    let zero = pod_with_index(&h, 0);
    finish(&mut h, &zero, 42);
    let one = pod_with_index(&h, 1);
    finish(&mut h, &one, 0);
    h.expect_goals(true);
    h.run_to_quiescence().unwrap();
    let status = get(&h, "job").status.unwrap();
    assert_eq!(status.failed_indexes.as_deref(), Some("0"));
    assert_eq!(has_condition(&h, "job", "Failed").as_deref(), Some("FailedIndexes"));
}

#[test]
fn test_backoff_limit_per_index_delayed_pod_deletion() {
    let (mut h, _) = harness();
    let mut j = indexed("job", 1, 1);
    j.spec.as_mut().unwrap().backoff_limit_per_index = Some(1);
    h.create(j).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    let first = pod_with_index(&h, 0);
    finish(&mut h, &first, 1);
    // Someone deletes the failed pod right away (as PodGC might).
    h.submit(Op::delete(ObjectRef::new(Kind::Pod, NS, &first))).unwrap();
    h.run_until(|h| !active(h).is_empty()).unwrap();
    let replacement = &active(&h)[0];
    assert_eq!(replacement.metadata.annotations.as_ref().unwrap()[job::INDEX_FAILURE_COUNT], "1");
    h.settle().unwrap();
    assert!(h.get::<Pod>(NS, &first).is_none(), "released once the replacement exists");
    assert_finalizers(&h, "job");
}

#[test]
fn test_backoff_limit_per_index_backoff_is_per_index() {
    let (mut h, _) = harness();
    let mut j = indexed("job", 2, 2);
    j.spec.as_mut().unwrap().backoff_limit_per_index = Some(3);
    h.create(j).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    // Index 0 fails twice; index 1 once, later: each index waits on its own failures.
    let zero = pod_with_index(&h, 0);
    finish(&mut h, &zero, 1);
    h.run_until(|h| active_indexes(h) == vec![0, 1]).unwrap();
    let first_retry = h.now().seconds_since(themelios_api::Time::EPOCH);
    let zero = pod_with_index(&h, 0);
    finish(&mut h, &zero, 1);
    let failed_again = h.now();
    h.run_until(|h| active_indexes(h) == vec![0, 1]).unwrap();
    assert_eq!(first_retry, 10);
    assert_eq!(h.now().seconds_since(failed_again), 20, "the second failure of index 0 waits 20 s");
}

/// The removal of a counted pod's finalizer fails with a conflict: the pod stays uncounted until a removal
/// succeeds, then counts once (upstream moves a pod into the counters only after its finalizer patch
/// succeeded). The harness holds every step to "succeeded and failed count each finished pod once".
#[test]
fn a_finalizer_removal_that_conflicts_is_not_counted() {
    let (mut h, _) = harness();
    let conflicts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = conflicts.clone();
    h.admit(move |op, _| {
        let removes_finalizer = matches!(op, Op::Update(o) if o.kind() == Kind::Pod
            && !o.meta().finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER));
        (removes_finalizer && seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0)
            .then(|| themelios_api::ApiError::stale(Kind::Pod, &o_name(op)))
    });
    h.create(fixtures::job(NS, "job", 1, Some(1))).unwrap();
    h.expect_goals(false);
    h.settle().unwrap();
    finish_active(&mut h, 1, 0);
    h.expect_goals(true);
    h.run_to_quiescence().unwrap();
    assert!(conflicts.load(std::sync::atomic::Ordering::SeqCst) >= 2, "the removal was refused, then retried");
    assert_eq!(counts(&h, "job"), (0, 1, 0));
    assert_finalizers(&h, "job");
}

fn o_name(op: &Op) -> String {
    match op {
        Op::Update(o) => o.meta().name.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// A Job whose writes keep failing is retried after 1 s, 2 s, 4 s … as upstream's rate-limited queue
/// requeues its key, not at once.
#[test]
fn failed_writes_back_off_per_job() {
    let (mut h, _) = harness();
    h.admit(|op, _| {
        matches!(op, Op::UpdateStatus(o) if o.kind() == Kind::Job)
            .then(|| themelios_api::ApiError::new(Reason::InternalError, "etcd is unavailable"))
    });
    h.create(fixtures::job(NS, "job", 1, Some(1))).unwrap();
    h.expect_goals(false);
    h.run_for(20).unwrap();
    let tries: Vec<i64> = h
        .log()
        .iter()
        .filter(|e| e.actor == "job-controller" && e.request.starts_with("update status Job"))
        .map(|e| e.time.seconds_since(themelios_api::Time::EPOCH))
        .collect();
    assert_eq!(tries, [0, 1, 3, 7, 15], "{tries:?}");
}
