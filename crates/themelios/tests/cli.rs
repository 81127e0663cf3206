//! The `themelios` binary, run as a user runs it.

use std::process::Command;

fn themelios(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_themelios")).args(args).output().expect("run themelios");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("themelios-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn help_lists_the_subcommands() {
    let (code, out, _) = themelios(&["--help"]);
    assert_eq!(code, 0);
    for sub in ["simulate", "validate"] {
        assert!(out.lines().any(|l| l.trim_start().starts_with(sub)), "{sub} missing from:\n{out}");
    }
}

#[test]
fn simulate_runs_the_example_to_a_settled_cluster() {
    let (code, out, err) = themelios(&["simulate", "--quiet", "--seed", "7"]);
    assert_eq!(code, 0, "{err}");
    let web = out.lines().find(|l| l.starts_with("web ")).expect("deployment row");
    assert_eq!(web.split_whitespace().collect::<Vec<_>>(), vec!["web", "3/3", "3", "3"]);
    let rs = out.lines().find(|l| l.starts_with("web-")).expect("replicaset row");
    assert_eq!(rs.split_whitespace().skip(1).collect::<Vec<_>>(), vec!["3", "3", "3"]);
    assert!(out.lines().any(|l| l.starts_with("batch") && l.contains("Failed")), "{out}");
    assert!(out.contains("0/3 nodes are available: 3 Insufficient cpu."), "{out}");
    assert!(out.contains("every property held after every step"));
}

#[test]
fn simulate_logs_every_step_unless_quiet() {
    let (code, out, _) = themelios(&["simulate", "--nodes", "1"]);
    assert_eq!(code, 0);
    assert!(out.contains("default-scheduler") && out.contains("bind default/"), "{out}");
}

#[test]
fn validate_reports_file_line_and_field() {
    let bad = temp_file(
        "bad.yaml",
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web\nspec:\n  replicas: -1\n  selector:\n    matchLabels: {app: a}\n  template:\n    metadata:\n      labels: {app: a}\n    spec:\n      containers:\n      - name: c\n        image: nginx\n",
    );
    let (code, out, _) = themelios(&["validate", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        out.contains(
            "bad.yaml:6: ReplicaSet.apps web: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        ),
        "{out}"
    );
}

#[test]
fn malformed_input_exits_2_with_the_location() {
    let broken = temp_file("broken.yaml", "apiVersion: v1\nkind: Pod\nspec:\n  containers: 5\n");
    let (code, _, err) = themelios(&["simulate", broken.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("broken.yaml:4: spec.containers: invalid type"), "{err}");
    let (code, _, err) = themelios(&["validate", "/nonexistent/file.yaml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/file.yaml: cannot read"), "{err}");
}

#[test]
fn scenarios_lists_the_built_in_scenarios() {
    let (code, out, _) = themelios(&["scenarios"]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.contains("59848")), "{out}");
    // Every built-in is also a file under scenarios/.
    for line in out.lines() {
        let mut fields = line.split_whitespace();
        let (name, file) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        assert_eq!(file, format!("scenarios/{name}.yaml"), "{line}");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(file);
        assert!(path.exists(), "{}", path.display());
    }
    assert!(out.lines().any(|l| l.starts_with("ReplicaSet-TestSpecReplicasChange ")), "{out}");
}

#[test]
fn check_reports_the_59848_counterexample_and_exit_codes() {
    let args = ["check", "StatefulSet-stale-read-59848", "--only", "kubelet/node-1", "--consistency"];
    let (code, out, _) = themelios(&[&args[..], &["resettable-session"]].concat());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("VIOLATED") && out.contains("default/db-0 runs twice"), "{out}");
    assert!(out.contains("kubelet/node-1: crashes and restarts -> lists from the lagging cache"), "{out}");
    // The counterexample shows the objects each step changed as a YAML diff.
    assert!(out.contains("Pod default/db-0:") && out.contains("+   nodeName: node-2"), "{out}");
    // The scenario's own model (resettable session for node-1's kubelet) is the default.
    let (code, out, _) = themelios(&["check", "StatefulSet-stale-read-59848"]);
    assert_eq!(code, 1, "{out}");
    let (code, out, _) =
        themelios(&["check", "StatefulSet-stale-read-59848", "--consistency", "linearizable", "--json"]);
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(json[0]["scenario"], "StatefulSet-stale-read-59848");
    assert_eq!(json[0]["violated"], false);
    assert!(json[0]["unique_states"].as_u64().unwrap_or(0) > 50, "{out}");
    let verdicts = json[0]["verdicts"].as_array().expect("verdicts");
    assert!(verdicts.iter().all(|v| v["status"] == "holds"), "{out}");
    assert!(verdicts.iter().any(|v| v["kind"] == "liveness"), "{out}");
    let (code, out, _) = themelios(&["check", "ReplicaSet-TestSpecReplicasChange"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("holds"), "{out}");
    let (code, _, err) = themelios(&["check", "ReplicaSet-TestSpecReplicasChange", "--consistency", "eventual"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown consistency model \"eventual\""), "{err}");
    let (code, _, err) = themelios(&["check", "ReplicaSet-TestSpecReplicasChange", "--staleness", "sometimes"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown staleness \"sometimes\"; one of unbounded, below-timers"), "{err}");
    // Below the timers the space ends; a restart that lists a pod cache without the last create makes a
    // surplus pod there (exit 1), found over the whole space.
    let bounded = ["check", "ReplicaSet-TestSpecReplicasChange", "--consistency", "lagging-informers"];
    let (code, out, _) = themelios(&[&bounded[..], &["--staleness", "below-timers", "--json"]].concat());
    assert_eq!(code, 1, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(json[0]["staleness"], "below-timers");
    assert_eq!(json[0]["complete"], true, "{out}");
    assert!(out.contains("replicaset: a create never takes a ReplicaSet's active pods above spec.replicas"), "{out}");
    let (code, _, err) = themelios(&["check", "No-Such-Scenario"]);
    assert_eq!(code, 2);
    assert!(err.contains("see `themelios scenarios`"), "{err}");
}

#[test]
fn check_runs_scenario_files_and_reports_their_errors() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/ReplicaSet-TestSpecReplicasChange.yaml");
    let (code, out, err) = themelios(&["check", example]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ReplicaSet-TestSpecReplicasChange / as the scenario says / 1 instance(s): holds"), "{out}");
    // Two instances: a duplicate controller-manager makes surplus pods (a finding, see builtin.rs).
    let (code, out, err) = themelios(&["check", example, "--instances", "2"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("/ 2 instance(s): VIOLATED"), "{out}");
    assert!(out.contains("replicaset: a create never takes a ReplicaSet's active pods above spec.replicas"), "{out}");
    let bad = temp_file("bad-scenario.yaml", "name: x\ncontrollers:\n  - nonsense\n");
    let (code, _, err) = themelios(&["check", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad-scenario.yaml:3: controllers[0]: unknown controller \"nonsense\""), "{err}");
}

#[test]
fn explore_serves_the_explorer_on_a_scenario() {
    use std::io::{Read, Write};
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let address = format!("127.0.0.1:{port}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_themelios"))
        .args(["explore", "ReplicaSet-TestOverlappingRSs", "--address", &address])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the explorer");
    let mut body = String::new();
    for _ in 0..100 {
        if let Ok(mut stream) = std::net::TcpStream::connect(&address) {
            let _ = write!(stream, "GET /.states HTTP/1.0\r\nHost: {address}\r\n\r\n");
            let _ = stream.read_to_string(&mut body);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(body.starts_with("HTTP/1.1 200") || body.starts_with("HTTP/1.0 200"), "{body:.200}");
    assert!(body.contains("ReplicaSet") && body.contains("\"state\""), "the initial state is served: {body:.300}");
    let (code, _, err) = themelios(&["explore", "No-Such-Scenario"]);
    assert_eq!(code, 2);
    assert!(err.contains("see `themelios scenarios`"), "{err}");
}

#[test]
fn leader_election_durations_out_of_range_or_inconsistent_are_refused_with_the_reason() {
    for (flags, expected) in [
        (&["--leader-elect-lease-duration", "99999999999999999999h"][..], "at most 2147483647s"),
        (&["--leader-elect-lease-duration", "0s"][..], "must be more than 0"),
        (&["--leader-elect-retry-period", "1e9"][..], "unknown unit"),
        (&["--leader-elect-lease-duration", "5s"][..], "must be greater than --leader-elect-renew-deadline"),
        (&["--leader-elect-retry-period", "9s"][..], "1.2 × --leader-elect-retry-period"),
    ] {
        for component in ["controller-manager", "scheduler"] {
            let mut args = vec![component, "--leader-elect", "--kubeconfig", "/nonexistent/kubeconfig"];
            args.extend_from_slice(flags);
            let (code, _, err) = themelios(&args);
            assert_eq!(code, 2, "{component} {flags:?}: {err}");
            assert!(err.contains(expected) && !err.contains("panicked"), "{component} {flags:?}: {err}");
        }
    }
}

/// A run that would not end (unbounded staleness: the DaemonSet space grows for ever) still reports the
/// violation it found, whether `--max-seconds` or Ctrl-C stops it; the violation is announced on stderr as
/// soon as it is found. Each model gets its own budget, and a table sums the runs up.
#[test]
fn check_reports_what_it_found_when_stopped_by_time_or_ctrl_c() {
    let (code, out, err) = themelios(&[
        "check",
        "DaemonSet-duplicate-pod-54096",
        "--consistency",
        "lagging-informers,linearizable",
        "--staleness",
        "unbounded",
        "--max-seconds",
        "3",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("found a violation of \"daemonset: at most one daemon pod per node"), "{err}");
    assert!(out.contains("VIOLATED (8 steps)") && out.contains("crashes and restarts"), "{out}");
    let table: Vec<&str> = out.lines().skip_while(|l| !l.starts_with("run ")).collect();
    assert!(table.iter().any(|l| l.contains("lagging-informers") && l.contains("violated (8 steps)")), "{out}");
    assert!(table.iter().any(|l| l.contains("/ linearizable /") && l.contains("holds")), "{out}");

    let child = Command::new(env!("CARGO_BIN_EXE_themelios"))
        .args([
            "check",
            "DaemonSet-duplicate-pod-54096",
            "--consistency",
            "lagging-informers",
            "--staleness",
            "unbounded",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run themelios");
    std::thread::sleep(std::time::Duration::from_secs(4));
    let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(sent.success());
    let out = child.wait_with_output().expect("themelios ends after Ctrl-C");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted; reporting what was found"), "{stderr}");
    assert!(stdout.contains("VIOLATED (8 steps)") && stdout.contains("counterexample"), "{stdout}");
}

/// `--consistency all` runs the models side by side (`--jobs`), each with its own budget: every model
/// gets a verdict in the table, and the progress line shows several runs at once.
#[test]
fn check_runs_models_side_by_side_each_with_its_own_budget() {
    let (code, out, err) = themelios(&[
        "check",
        "DaemonSet-duplicate-pod-54096",
        "--consistency",
        "all",
        "--staleness",
        "unbounded",
        "--jobs",
        "3",
        "--threads",
        "1",
        "--max-seconds",
        "2",
    ]);
    assert_eq!(code, 1, "{err}");
    let table: Vec<&str> = out.lines().skip_while(|l| !l.starts_with("run ")).skip(1).collect();
    assert_eq!(table.len(), 9, "{out}");
    assert!(table.iter().all(|l| !l.contains("not run")), "{out}");
    assert!(table.iter().any(|l| l.contains("/ linearizable /") && l.contains("holds")), "{out}");
    assert!(table.iter().any(|l| l.contains("/ lagging-informers /") && l.contains("violated (8 steps)")), "{out}");
    let side_by_side = err.split('\r').any(|line| line.matches(" unique, ").count() >= 2);
    assert!(side_by_side, "no progress line showed two runs at once: {err}");
}
