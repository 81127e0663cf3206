//! `themelios cluster` driven by the real kubectl: the API server, the controller-manager, the scheduler
//! and simulated nodes in one process, and workloads that reach their goals through the real API.

mod common;

use common::{start_command, ApiServer};

fn cluster() -> ApiServer {
    start_command(tempfile::tempdir().unwrap(), &["cluster", "--port", "0", "--nodes", "2"])
}

#[test]
fn a_deployment_rolls_out_is_updated_scaled_and_rolled_back() {
    let server = cluster();
    server.ok(&["create", "deployment", "web", "--image", "nginx:1.25", "--replicas", "3"]);
    let status = server.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    assert!(status.contains("deployment \"web\" successfully rolled out"), "{status}");
    assert_eq!(server.ok(&["get", "deploy", "web", "-o", "jsonpath={.status.availableReplicas}"]), "3");
    let pods =
        server.ok(&["get", "pods", "-o", "jsonpath={range .items[*]}{.spec.nodeName} {.status.phase}{\"\\n\"}{end}"]);
    assert_eq!(pods.lines().count(), 3, "{pods}");
    assert!(pods.lines().all(|l| l.starts_with("node-") && l.ends_with("Running")), "{pods}");

    server.ok(&["set", "image", "deployment/web", "nginx=nginx:1.26"]);
    let status = server.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    assert!(status.contains("successfully rolled out"), "{status}");
    let history = server.ok(&["rollout", "history", "deployment/web"]);
    assert!(history.contains("1 ") && history.contains("2 "), "{history}");
    // 14 pods: the new ReplicaSet's creates pass ten, so its events are combined as upstream's recorder does.
    server.ok(&["scale", "deployment/web", "--replicas", "14"]);
    server.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    assert_eq!(server.ok(&["get", "deploy", "web", "-o", "jsonpath={.status.availableReplicas}"]), "14");
    let described = server.ok(&["describe", "deployment", "web"]);
    assert!(described.contains("NewReplicaSet:"), "{described}");
    assert!(
        described.contains("ScalingReplicaSet")
            && described.contains("deployment-controller")
            && described.contains("Scaled up replica set web-"),
        "describe shows the deployment controller's events: {described}"
    );
    let events = server.ok(&["get", "events", "-o", "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}"]);
    for reason in ["SuccessfulCreate", "Scheduled", "ScalingReplicaSet"] {
        assert!(events.lines().any(|r| r == reason), "no {reason} event: {events}");
    }
    let combined = server.ok(&[
        "get",
        "events",
        "--field-selector",
        "reason=SuccessfulCreate",
        "-o",
        "jsonpath={range .items[*]}{.count} {.message}{\"\\n\"}{end}",
    ]);
    let combined: Vec<&str> =
        combined.lines().filter(|l| l.contains("(combined from similar events): Created pod: web-")).collect();
    assert_eq!(combined.len(), 1, "one combined SuccessfulCreate event: {combined:?}");
    assert!(
        combined[0].split(' ').next().and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n >= 2),
        "repeats count up: {combined:?}"
    );
    server.ok(&["rollout", "undo", "deployment/web"]);
    server.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    assert_eq!(
        server.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"]),
        "nginx:1.25"
    );
    // Undo scales the first ReplicaSet back up rather than making a third (a regression: stored templates
    // carried defaulted zero fields the rolled-back template lacked).
    let sets = server.ok(&["get", "replicasets", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"]);
    assert_eq!(sets.split_whitespace().count(), 2, "rollout undo made a new ReplicaSet: {sets}");
    settles(&server, "deployments,replicasets,pods");
}

/// Waits until the objects of `kinds` stop changing for three seconds. Controllers whose writes change
/// nothing never stop (a regression: status written with zeros the server drops was rewritten for ever,
/// hundreds of times a second).
fn settles(server: &ApiServer, kinds: &str) {
    use std::time::{Duration, Instant};
    let versions = || {
        server.ok(&["get", kinds, "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}"])
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut last, mut since) = (versions(), Instant::now());
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        let now = versions();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= Duration::from_secs(3) {
            return;
        }
    }
    panic!("{kinds} kept changing for a minute; the last versions: {last}");
}

#[test]
fn a_job_completes_and_a_namespace_is_deleted_with_its_contents() {
    let server = cluster();
    server.ok(&["create", "job", "once", "--image", "busybox"]);
    let done = server.ok(&["wait", "--for=condition=complete", "job/once", "--timeout=60s"]);
    assert!(done.contains("condition met"), "{done}");
    settles(&server, "jobs,pods");
    server.ok(&["create", "namespace", "scratch"]);
    server.ok(&["create", "deployment", "tmp", "--image", "nginx", "-n", "scratch"]);
    server.ok(&["rollout", "status", "deployment/tmp", "-n", "scratch", "--timeout", "60s"]);
    server.ok(&["delete", "namespace", "scratch", "--timeout=60s"]);
    let left = server.run(&["get", "namespace", "scratch"]);
    assert!(!left.status.success(), "the namespace is gone");
}

#[test]
fn a_restart_resumes_where_it_stopped() {
    let server = cluster();
    server.ok(&["create", "deployment", "web", "--image", "nginx", "--replicas", "2"]);
    server.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    let pods_before = server.ok(&["get", "pods", "-o", "name"]);
    let temp = server.stop();
    let server = start_command(temp, &["cluster", "--port", "0", "--nodes", "2"]);
    assert_eq!(server.ok(&["get", "pods", "-o", "name"]), pods_before, "the same pods, not new ones");
    server.ok(&["scale", "deployment/web", "--replicas", "3"]);
    server.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    assert_eq!(server.ok(&["get", "pods", "-o", "name"]).lines().count(), 3);
}

/// A child process killed when the test ends.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], kubeconfig: &std::path::Path) -> Process {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_themelios"))
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start a themelios process");
    Process(child)
}

#[test]
fn separate_processes_complete_a_rollout_against_an_external_api_server() {
    let server = common::start();
    let _controllers = spawn(&["controller-manager"], &server.kubeconfig);
    let _scheduler = spawn(&["scheduler"], &server.kubeconfig);
    let _nodes = spawn(&["nodes", "--count", "2"], &server.kubeconfig);
    server.ok(&["create", "deployment", "web", "--image", "nginx", "--replicas", "3"]);
    let status = server.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    assert!(status.contains("successfully rolled out"), "{status}");
    let nodes = server.ok(&["get", "pods", "-o", "jsonpath={.items[*].spec.nodeName}"]);
    assert!(nodes.split_whitespace().all(|n| n == "node-1" || n == "node-2"), "{nodes}");
}

fn spawn_logged(args: &[&str], kubeconfig: &std::path::Path, log: &std::path::Path) -> Process {
    let file = std::fs::File::create(log).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_themelios"))
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .stdout(file)
        .spawn()
        .expect("start a themelios process");
    Process(child)
}

#[test]
fn with_leader_election_one_controller_manager_acts_and_the_other_takes_over() {
    let server = common::start();
    let temp = tempfile::tempdir().unwrap();
    let elect = [
        "controller-manager",
        "--leader-elect",
        "--leader-elect-lease-duration=3s",
        "--leader-elect-renew-deadline=2s",
        "--leader-elect-retry-period=200ms",
    ];
    let holder = || {
        server.run(&[
            "get",
            "lease",
            "kube-controller-manager",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
    };
    let mut first = Some(spawn_logged(&elect, &server.kubeconfig, &temp.path().join("first.log")));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !holder().status.success() {
        assert!(std::time::Instant::now() < deadline, "the first controller-manager takes the lease");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let second = spawn_logged(&elect, &server.kubeconfig, &temp.path().join("second.log"));
    let _scheduler = spawn(&["scheduler"], &server.kubeconfig);
    let _nodes = spawn(&["nodes", "--count", "2"], &server.kubeconfig);
    server.ok(&["create", "deployment", "web", "--image", "nginx", "--replicas", "3"]);
    server.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);

    let leader = String::from_utf8_lossy(&holder().stdout).into_owned();
    let first_pid = first.as_ref().unwrap().0.id();
    assert!(leader.ends_with(&format!("_{first_pid}")), "the first candidate leads: {leader}");
    let standby = std::fs::read_to_string(temp.path().join("second.log")).unwrap();
    assert!(standby.contains("standing by") && !standby.contains("leading"), "{standby}");

    // Kill the leader: the other takes the lease once it expires, and carries on without duplicates.
    let killed_at = std::time::Instant::now();
    drop(first.take());
    let second_identity = format!("_{}", second.0.id());
    loop {
        let now_leading = String::from_utf8_lossy(&holder().stdout).into_owned();
        if now_leading.ends_with(&second_identity) {
            break;
        }
        assert!(killed_at.elapsed() < std::time::Duration::from_secs(10), "no takeover; lease held by {now_leading}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let took = killed_at.elapsed();
    assert!(took < std::time::Duration::from_secs(3) + std::time::Duration::from_secs(2), "took over after {took:?}");
    server.ok(&["scale", "deployment/web", "--replicas", "5"]);
    server.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    assert_eq!(server.ok(&["get", "pods", "-o", "name"]).lines().count(), 5, "no duplicate pods");
    assert_eq!(server.ok(&["get", "rs", "-o", "name"]).lines().count(), 1, "one ReplicaSet");
    let log = std::fs::read_to_string(temp.path().join("second.log")).unwrap();
    assert!(log.contains("acquired lease kube-system/kube-controller-manager; leading"), "{log}");
}

const STATEFUL_AND_DAEMON: &str = "apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: a, image: agent}]}
";

#[test]
fn a_daemonset_covers_every_node_and_drain_evicts_the_rest() {
    let server = start_command(tempfile::tempdir().unwrap(), &["cluster", "--port", "0", "--nodes", "3"]);
    let file = server.write("workloads.yaml", STATEFUL_AND_DAEMON);
    server.ok(&["apply", "-f", file.to_str().unwrap()]);
    server.ok(&["rollout", "status", "statefulset/db", "--timeout", "60s"]);
    server.ok(&["rollout", "status", "daemonset/agent", "--timeout", "60s"]);
    let agents = server.ok(&["get", "pods", "-l", "app=agent", "-o", "jsonpath={.items[*].spec.nodeName}"]);
    let mut nodes: Vec<&str> = agents.split_whitespace().collect();
    nodes.sort();
    assert_eq!(nodes, ["node-1", "node-2", "node-3"], "one agent per node");
    let on_node_1 =
        server.ok(&["get", "pods", "-l", "app=db", "--field-selector", "spec.nodeName=node-1", "-o", "name"]);
    server.ok(&["cordon", "node-2"]);
    let drained = server.ok(&["drain", "node-1", "--ignore-daemonsets", "--timeout=60s"]);
    assert!(drained.contains("node/node-1 drained"), "{drained}");
    server.ok(&["rollout", "status", "statefulset/db", "--timeout", "60s"]);
    let db_nodes = server.ok(&["get", "pods", "-l", "app=db", "-o", "jsonpath={.items[*].spec.nodeName}"]);
    // The scheduler spreads the set over the three nodes; a cordon keeps node-2's pod where it is, and
    // node-1's comes back on node-3, the only schedulable node.
    assert!(!db_nodes.split_whitespace().any(|n| n == "node-1"), "node-1 is drained: {db_nodes}");
    let on_node_3 = db_nodes.split_whitespace().filter(|n| *n == "node-3").count();
    assert!(on_node_3 > usize::from(!on_node_1.trim().is_empty()), "evicted pods come back on node-3: {db_nodes}");
    assert_eq!(db_nodes.split_whitespace().count(), 3);
}

/// Lines `get -w` prints until `done` holds for the lines so far (or 60 s pass).
fn watch_until(server: &ApiServer, args: &[&str], done: impl Fn(&[String]) -> bool) -> Vec<String> {
    use std::io::BufRead;
    let mut child = server.command(args).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut lines = Vec::new();
    while std::time::Instant::now() < deadline && !done(&lines) {
        if let Ok(line) = receiver.recv_timeout(std::time::Duration::from_millis(200)) {
            lines.push(line);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

#[test]
fn a_statefulset_is_created_in_order_and_scaled_down_in_reverse() {
    let server = cluster();
    let file = server.write("db.yaml", STATEFUL_AND_DAEMON.split("---").next().unwrap());
    let watch_args = ["get", "pods", "-l", "app=db", "-w", "--output-watch-events"];
    let create = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            watch_until(&server, &watch_args, |l| l.iter().any(|x| x.contains(" db-2 ") && x.contains("1/1")))
        });
        std::thread::sleep(std::time::Duration::from_millis(500));
        server.ok(&["apply", "-f", file.to_str().unwrap()]);
        watcher.join().unwrap()
    });
    let first_seen = |lines: &[String], pod: &str| lines.iter().position(|l| l.split_whitespace().nth(1) == Some(pod));
    let (p0, p1, p2) = (first_seen(&create, "db-0"), first_seen(&create, "db-1"), first_seen(&create, "db-2"));
    assert!(p0.is_some() && p0 < p1 && p1 < p2, "created in order: {create:#?}");
    let ready_0 = create.iter().position(|l| l.contains(" db-0 ") && l.contains("1/1")).unwrap();
    assert!(ready_0 < p1.unwrap(), "db-1 only after db-0 is ready: {create:#?}");
    server.ok(&["rollout", "status", "statefulset/db", "--timeout", "60s"]);
    let scale_down = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            watch_until(&server, &["get", "pods", "-l", "app=db", "-w", "--output-watch-events", "--watch-only"], |l| {
                l.iter().any(|x| x.starts_with("DELETED") && x.contains("db-1"))
            })
        });
        std::thread::sleep(std::time::Duration::from_millis(500));
        server.ok(&["scale", "statefulset/db", "--replicas", "1"]);
        watcher.join().unwrap()
    });
    let deleted = |pod: &str| {
        scale_down.iter().position(|l| l.starts_with("DELETED") && l.split_whitespace().nth(1) == Some(pod))
    };
    assert!(
        deleted("db-2").is_some() && deleted("db-2") < deleted("db-1"),
        "removed in reverse order: {scale_down:#?}"
    );
}

const FAILING_JOB: &str = "apiVersion: batch/v1
kind: Job
metadata: {name: flaky}
spec:
  backoffLimit: 1
  template:
    metadata:
      annotations: {themelios.dev/exit-code: '1', themelios.dev/run-seconds: '1'}
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
";

#[test]
fn a_job_fails_on_its_backoff_limit_and_a_cronjob_creates_a_job() {
    let server = cluster();
    let file = server.write("flaky.yaml", FAILING_JOB);
    server.ok(&["apply", "-f", file.to_str().unwrap()]);
    let failed = server.ok(&["wait", "--for=condition=failed", "job/flaky", "--timeout=90s"]);
    assert!(failed.contains("condition met"), "{failed}");
    let reason =
        server.ok(&["get", "job", "flaky", "-o", "jsonpath={.status.conditions[?(@.type==\"Failed\")].reason}"]);
    assert_eq!(reason, "BackoffLimitExceeded");
    server.ok(&["create", "cronjob", "tick", "--image", "busybox", "--schedule", "* * * * *"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(75);
    loop {
        let jobs = server.ok(&["get", "jobs", "-o", "jsonpath={.items[*].metadata.ownerReferences[0].name}"]);
        if jobs.split_whitespace().any(|owner| owner == "tick") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the CronJob created no Job within a minute: {jobs}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[test]
fn pause_resume_and_the_three_cascades() {
    let server = cluster();
    server.ok(&["create", "deployment", "web", "--image", "nginx:1", "--replicas", "2"]);
    server.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    server.ok(&["rollout", "pause", "deployment/web"]);
    server.ok(&["set", "image", "deployment/web", "nginx=nginx:2"]);
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(server.ok(&["get", "rs", "-o", "name"]).lines().count(), 1, "paused: no new ReplicaSet");
    server.ok(&["rollout", "resume", "deployment/web"]);
    server.ok(&["rollout", "status", "deployment/web", "--timeout", "60s"]);
    assert_eq!(server.ok(&["get", "rs", "-o", "name"]).lines().count(), 2);

    server.ok(&["delete", "deployment", "web", "--cascade=orphan"]);
    let orphans = server.ok(&["get", "rs", "-o", "jsonpath={.items[*].metadata.ownerReferences}"]);
    assert!(orphans.trim().is_empty(), "orphaned ReplicaSets lose their owner: {orphans}");
    assert_eq!(server.ok(&["get", "rs", "-o", "name"]).lines().count(), 2);
    for rs in server.ok(&["get", "rs", "-o", "name"]).lines() {
        server.ok(&["delete", rs, "--cascade=foreground", "--timeout=60s"]);
    }
    server.ok(&["wait", "--for=delete", "pod", "--all", "--timeout=60s"]);
    assert!(server.ok(&["get", "pods", "-o", "name"]).trim().is_empty(), "foreground deletion removed the pods first");

    server.ok(&["create", "deployment", "bg", "--image", "nginx", "--replicas", "2"]);
    server.ok(&["rollout", "status", "deployment/bg", "--timeout", "60s"]);
    server.ok(&["delete", "deployment", "bg", "--cascade=background"]);
    server.ok(&["wait", "--for=delete", "pod", "--all", "--timeout=60s"]);
    assert!(server.ok(&["get", "rs", "-o", "name"]).trim().is_empty(), "background deletion collected the ReplicaSet");
}
