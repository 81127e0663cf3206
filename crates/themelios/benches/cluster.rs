//! `cargo bench -p themelios --bench cluster`: the real `themelios cluster` binary with 100 simulated nodes,
//! driven by the real kubectl: a 1,000-replica Deployment from create to all available, then `set image` to
//! rollout complete. Prints each phase's time, pods/s and the cluster's peak memory.
//!
//! Not measured yet: the 5,000-node, 50,000-pod phase of issue 9 (every simulated kubelet still scans the
//! whole pod cache on each change; it needs per-node indexing first).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

fn kubectl(kubeconfig: &str, home: &std::path::Path, args: &[&str]) -> String {
    let out =
        Command::new("kubectl").args(args).env("KUBECONFIG", kubeconfig).env("HOME", home).output().expect("kubectl");
    assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn main() {
    let (nodes, replicas) = (100, 1000);
    let temp = tempfile::tempdir().expect("temp dir");
    let home = temp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_themelios"))
        .args(["cluster", "--port", "0", "--nodes", &nodes.to_string(), "--data-dir"])
        .arg(temp.path().join("data"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("start themelios cluster");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let kubeconfig = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("kubeconfig: ").map(str::to_string))
        .expect("kubeconfig line");
    let serving = started.elapsed();
    std::thread::spawn(move || for _ in lines {});
    let k = |args: &[&str]| kubectl(&kubeconfig, &home, args);
    while k(&["get", "nodes", "--no-headers"]).lines().count() < nodes {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    println!("themelios cluster: {nodes} simulated nodes, serving after {:.2} s (target < 2 s)", serving.as_secs_f64());

    let create = Instant::now();
    k(&["create", "deployment", "big", "--image", "nginx:1", "--replicas", &replicas.to_string()]);
    k(&["rollout", "status", "deployment/big", "--timeout", "600s"]);
    let created = create.elapsed().as_secs_f64();
    println!(
        "create -> {replicas} available:   {created:>6.1} s  {:>6.0} pods/s  (target < 30 s: {:.2}x)",
        replicas as f64 / created,
        created / 30.0
    );

    let update = Instant::now();
    k(&["set", "image", "deployment/big", "nginx=nginx:2"]);
    k(&["rollout", "status", "deployment/big", "--timeout", "600s"]);
    let updated = update.elapsed().as_secs_f64();
    println!(
        "set image -> rollout complete: {updated:>6.1} s  {:>6.0} pods/s  (target < 30 s: {:.2}x)",
        replicas as f64 / updated,
        updated / 30.0
    );
    println!("cluster peak RSS: {:.0} MiB", peak_rss_mib(child.id()));
    let _ = child.kill();
    let _ = child.wait();
}
