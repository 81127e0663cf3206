//! `cargo bench -p themelios --bench cluster [-- rollout|scale]`: the real `themelios cluster` binary,
//! driven by the real kubectl.
//!
//! - `rollout`: 100 simulated nodes; a 1,000-replica Deployment from create to all available, then
//!   `set image` to rollout complete. Prints each phase's time, pods/s and the cluster's peak memory.
//! - `scale`: 5,000 simulated nodes and 50,000 pods (50 namespaces, each with one 1,000-replica
//!   Deployment, all scheduled and running); at that size, the cluster's memory and the latency of get and
//!   list on pods, measured from a client over HTTPS while the 5,000 kubelets keep renewing their leases.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn kubectl(kubeconfig: &str, home: &std::path::Path, args: &[&str]) -> String {
    let out =
        Command::new("kubectl").args(args).env("KUBECONFIG", kubeconfig).env("HOME", home).output().expect("kubectl");
    assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The process's resident memory now and at its peak, in MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A running `themelios cluster` and what it takes to talk to it.
struct Cluster {
    child: Child,
    kubeconfig: String,
    home: std::path::PathBuf,
    _temp: tempfile::TempDir,
}

impl Cluster {
    fn start(nodes: usize) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let home = temp.path().join("home");
        std::fs::create_dir_all(&home).expect("home dir");
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_themelios"))
            .args(["cluster", "--port", "0", "--nodes", &nodes.to_string(), "--data-dir"])
            .arg(temp.path().join("data"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start themelios cluster");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let kubeconfig = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("kubeconfig: ").map(str::to_string))
            .expect("kubeconfig line");
        let serving = started.elapsed();
        std::thread::spawn(move || for _ in lines {});
        let cluster = Cluster { child, kubeconfig, home, _temp: temp };
        // Every node has registered once its lease exists.
        let wait = Instant::now();
        while cluster.kubectl(&["get", "leases", "-n", "kube-node-lease", "--no-headers"]).lines().count() < nodes {
            std::thread::sleep(Duration::from_millis(500));
        }
        println!(
            "themelios cluster: {nodes} simulated nodes; serving after {:.2} s (target < 2 s), all nodes registered after {:.1} s",
            serving.as_secs_f64(),
            wait.elapsed().as_secs_f64()
        );
        cluster
    }

    fn kubectl(&self, args: &[&str]) -> String {
        kubectl(&self.kubeconfig, &self.home, args)
    }

    fn rss_mib(&self) -> (f64, f64) {
        rss_mib(self.child.id())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `change`, waits for the rollout of deployment/big to complete, and prints how long it took.
fn timed_rollout(cluster: &Cluster, label: &str, change: &[&str], replicas: usize) {
    let started = Instant::now();
    cluster.kubectl(change);
    cluster.kubectl(&["rollout", "status", "deployment/big", "--timeout", "600s"]);
    let took = started.elapsed().as_secs_f64();
    println!("{label} {took:>6.1} s  {:>6.0} pods/s  (target < 30 s: {:.2}x)", replicas as f64 / took, took / 30.0);
}

fn rollout() {
    let replicas = 1000;
    let cluster = Cluster::start(100);
    let replicas_text = replicas.to_string();
    let create = ["create", "deployment", "big", "--image", "nginx:1", "--replicas", &replicas_text];
    timed_rollout(&cluster, "create -> 1000 available:  ", &create, replicas);
    timed_rollout(
        &cluster,
        "set image -> rollout complete:",
        &["set", "image", "deployment/big", "nginx=nginx:2"],
        replicas,
    );
    println!("cluster peak RSS: {:.0} MiB", cluster.rss_mib().1);
}

const NAMESPACES: usize = 50;
const REPLICAS_PER_NAMESPACE: usize = 1000;

fn load_manifest() -> String {
    (1..=NAMESPACES)
        .map(|i| {
            format!(
                "apiVersion: v1\nkind: Namespace\nmetadata: {{name: load-{i}}}\n---\n\
                 apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: load, namespace: load-{i}}}\n\
                 spec:\n  replicas: {REPLICAS_PER_NAMESPACE}\n  selector: {{matchLabels: {{app: load}}}}\n\
                 \x20 template:\n    metadata: {{labels: {{app: load}}}}\n\
                 \x20   spec: {{containers: [{{name: c, image: nginx:1}}]}}\n---\n"
            )
        })
        .collect()
}

fn available(cluster: &Cluster) -> usize {
    let out = cluster.kubectl(&[
        "get",
        "deployments",
        "--all-namespaces",
        "-o",
        "jsonpath={range .items[*]}{.status.availableReplicas} {end}",
    ]);
    out.split_whitespace().filter_map(|n| n.parse::<usize>().ok()).sum()
}

/// Latencies of one kind of request, in seconds, sorted.
struct Latencies {
    what: &'static str,
    seconds: Vec<f64>,
    bytes: usize,
}

impl Latencies {
    fn percentile(&self, p: f64) -> f64 {
        let i = ((self.seconds.len() as f64 * p).ceil() as usize).clamp(1, self.seconds.len()) - 1;
        self.seconds[i]
    }
}

async fn measure(client: &kube::Client, what: &'static str, paths: &[String]) -> Latencies {
    let mut seconds = Vec::with_capacity(paths.len());
    let mut bytes = 0;
    for path in paths {
        let request = http::Request::get(path.as_str()).body(Vec::new()).expect("a request");
        let started = Instant::now();
        let body = client.request_text(request).await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        seconds.push(started.elapsed().as_secs_f64());
        bytes = body.len();
    }
    seconds.sort_by(f64::total_cmp);
    Latencies { what, seconds, bytes }
}

fn scale() {
    let nodes = 5000;
    let pods = NAMESPACES * REPLICAS_PER_NAMESPACE;
    let cluster = Cluster::start(nodes);
    let manifest = cluster._temp.path().join("load.yaml");
    std::fs::write(&manifest, load_manifest()).expect("write the manifest");
    let started = Instant::now();
    cluster.kubectl(&["apply", "-f", manifest.to_str().expect("a UTF-8 path")]);
    let deadline = Duration::from_secs(45 * 60);
    let mut ready = 0;
    while ready < pods && started.elapsed() < deadline {
        std::thread::sleep(Duration::from_secs(15));
        ready = available(&cluster);
        let (rss, _) = cluster.rss_mib();
        println!(
            "  {:>5.0} s  {ready:>6} / {pods} pods available  {:>5.0} pods/s  RSS {rss:.0} MiB",
            started.elapsed().as_secs_f64(),
            ready as f64 / started.elapsed().as_secs_f64()
        );
    }
    let ramp = started.elapsed().as_secs_f64();
    assert_eq!(ready, pods, "not every pod became available within {} s", deadline.as_secs());
    println!("{pods} pods on {nodes} nodes available after {ramp:.0} s ({:.0} pods/s)", pods as f64 / ramp);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let latencies = runtime.block_on(async {
        let config = kube::config::Kubeconfig::read_from(&cluster.kubeconfig).expect("the kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(config, &kube::config::KubeConfigOptions::default())
            .await
            .expect("a client config");
        let client = kube::Client::try_from(config).expect("a client");
        let names: Vec<String> = (0..300).map(|i| format!("load-{}", 1 + i % NAMESPACES)).collect();
        let mut gets = Vec::new();
        for namespace in names.iter().take(NAMESPACES) {
            let list = client
                .request_text(
                    http::Request::get(format!("/api/v1/namespaces/{namespace}/pods?limit=6"))
                        .body(Vec::new())
                        .expect("a request"),
                )
                .await
                .expect("list a few pods");
            let list: serde_json::Value = serde_json::from_str(&list).expect("a pod list");
            for item in list["items"].as_array().into_iter().flatten() {
                let name = item["metadata"]["name"].as_str().unwrap_or_default();
                gets.push(format!("/api/v1/namespaces/{namespace}/pods/{name}"));
            }
        }
        let in_namespace: Vec<String> =
            names.iter().take(100).map(|ns| format!("/api/v1/namespaces/{ns}/pods")).collect();
        let pages: Vec<String> = (0..100).map(|_| "/api/v1/pods?limit=500".to_string()).collect();
        let everything: Vec<String> = (0..10).map(|_| "/api/v1/pods".to_string()).collect();
        vec![
            measure(&client, "get one pod", &gets).await,
            measure(&client, "list one namespace (1,000 pods)", &in_namespace).await,
            measure(&client, "list a page of 500 (kubectl's chunk)", &pages).await,
            measure(&client, "list all 50,000 pods", &everything).await,
        ]
    });
    println!("latency at that size (target: p99 < 1 s)");
    println!("  {:<40} {:>6} {:>9} {:>9} {:>9} {:>10}", "request", "count", "p50", "p99", "max", "body");
    for l in &latencies {
        println!(
            "  {:<40} {:>6} {:>7.0}ms {:>7.0}ms {:>7.0}ms {:>8.1}MB  p99/target {:.2}x",
            l.what,
            l.seconds.len(),
            l.percentile(0.5) * 1000.0,
            l.percentile(0.99) * 1000.0,
            l.seconds.last().copied().unwrap_or(0.0) * 1000.0,
            l.bytes as f64 / 1e6,
            l.percentile(0.99)
        );
    }
    let (rss, peak) = cluster.rss_mib();
    println!("cluster RSS at {pods} pods: {rss:.0} MiB, peak {peak:.0} MiB (target < 2048 MiB: {:.2}x)", peak / 2048.0);
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument names the phases to run.
    let phases: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wants = |phase: &str| phases.is_empty() || phases.iter().any(|p| p == phase);
    if wants("rollout") {
        rollout();
    }
    if wants("scale") {
        scale();
    }
}
