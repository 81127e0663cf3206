//! The upstream oracle for tests: a real kube-apiserver on etcd (and, where a suite asks, upstream's
//! kube-controller-manager and kube-scheduler) built from their Go modules by `upstream/build.sh` and
//! started by `upstream/control-plane.sh`; Themelios' own components started as processes against it; the
//! real kubectl; and a runner for named cases, each in a namespace of its own.
//!
//! Without Go the suites cannot build upstream: they say so and which suite they skip, and pass — unless
//! `THEMELIOS_REQUIRE_UPSTREAM` is set (CI sets it), in which case they fail.

#![allow(dead_code)]

pub mod audit;
pub mod http;
pub mod snapshot;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The repository's `upstream/` directory.
pub fn upstream_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../upstream")
}

/// Builds (or reuses) the upstream binaries. `Err` says why they cannot be had here.
pub fn build() -> Result<PathBuf, String> {
    let started = Instant::now();
    eprintln!("upstream: building or reusing kube-apiserver, kube-controller-manager, kube-scheduler, etcd …");
    let out = Command::new(upstream_dir().join("build.sh"))
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running upstream/build.sh: {e}"))?;
    if !out.status.success() {
        return Err(match out.status.code() {
            Some(3) => "Go is not installed (upstream components are built from their Go modules)".into(),
            _ => format!("upstream/build.sh failed ({})", out.status),
        });
    }
    let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    eprintln!("upstream: binaries in {} ({:.0?})", bin.display(), started.elapsed());
    Ok(bin)
}

/// Either the upstream binaries, or the suite is skipped (printed, with why) — or fails, under
/// `THEMELIOS_REQUIRE_UPSTREAM`.
pub fn build_or_skip(suite: &str) -> Option<PathBuf> {
    match build() {
        Ok(bin) => Some(bin),
        Err(why) if std::env::var_os("THEMELIOS_REQUIRE_UPSTREAM").is_some() => {
            panic!("{suite}: THEMELIOS_REQUIRE_UPSTREAM is set but upstream cannot be built: {why}")
        }
        Err(why) => {
            println!("SKIPPED {suite}: {why}. Install Go 1.24 or newer to run it.");
            None
        }
    }
}

/// A control plane started by `upstream/control-plane.sh`; stopped when dropped.
pub struct ControlPlane {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    _temp: tempfile::TempDir,
}

impl ControlPlane {
    /// etcd and kube-apiserver.
    pub fn start() -> Self {
        let temp = tempfile::tempdir().expect("a temporary directory");
        let dir = temp.path().join("control-plane");
        let out = script(&["start", dir.to_str().expect("a UTF-8 temporary path")]);
        assert!(
            out.status.success(),
            "upstream/control-plane.sh start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let kubeconfig = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        Self { dir, kubeconfig, _temp: temp }
    }

    /// Adds upstream's kube-controller-manager and kube-scheduler.
    pub fn start_upstream_controllers(&self) {
        let out = script(&["start-controllers", self.dir.to_str().unwrap_or_default()]);
        assert!(out.status.success(), "start-controllers failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The audit log: every write kube-apiserver served.
    pub fn audit_log(&self) -> PathBuf {
        self.dir.join("audit.log")
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let _ = script(&["stop", self.dir.to_str().unwrap_or_default()]);
    }
}

fn script(args: &[&str]) -> Output {
    Command::new(upstream_dir().join("control-plane.sh"))
        .args(args)
        .stderr(Stdio::piped())
        .output()
        .expect("run upstream/control-plane.sh")
}

/// A `themelios` process (controller-manager, scheduler, nodes, apiserver); killed when dropped.
pub struct Process {
    child: Child,
    pub log: PathBuf,
}

impl Process {
    /// `themelios <args>`, its output in `log`.
    pub fn themelios(args: &[&str], log: PathBuf) -> Self {
        let file = std::fs::File::create(&log).expect("create a log file");
        let child = Command::new(env!("CARGO_BIN_EXE_themelios"))
            .args(args)
            .stdout(file.try_clone().expect("clone a file handle"))
            .stderr(file)
            .spawn()
            .expect("start themelios");
        Self { child, log }
    }

    /// Stops it at once, as a crash would (the node-loss cases).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The real kubectl against one API server, with a private HOME (no cache shared between tests).
#[derive(Clone)]
pub struct Kubectl {
    pub kubeconfig: PathBuf,
    pub home: PathBuf,
}

impl Kubectl {
    pub fn new(kubeconfig: &Path, home: &Path) -> Self {
        std::fs::create_dir_all(home).expect("create kubectl's HOME");
        Self { kubeconfig: kubeconfig.to_path_buf(), home: home.to_path_buf() }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.home)
            .output()
            .expect("run kubectl")
    }

    /// Runs kubectl with `input` on stdin.
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write kubectl's stdin");
        child.wait_with_output().expect("wait for kubectl")
    }

    /// stdout of a kubectl that must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl apply -f -` of `manifest`.
    pub fn apply(&self, namespace: &str, manifest: &str) -> String {
        let out = self.run_with_input(&["apply", "-n", namespace, "-f", "-"], manifest);
        assert!(out.status.success(), "kubectl apply failed: {}\n{manifest}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until kubectl at least once answers `args` successfully (the server is up, the kind served).
    pub fn wait_ready(&self, args: &[&str], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.run(args).status.success() {
            assert!(Instant::now() < deadline, "kubectl {args:?} never succeeded");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// One named case of a suite.
pub struct Case<C> {
    pub name: &'static str,
    pub run: fn(&C),
}

/// What a suite's run of its cases came to.
pub struct Outcome {
    pub name: &'static str,
    pub passed: Result<(), String>,
    pub took: Duration,
}

/// Runs the cases on `workers` threads, `context(case)` making each one's context (its namespace);
/// prints a line per case as it ends. A case fails by panicking.
pub fn run_cases<C: Send + Sync>(
    label: &str,
    cases: &[Case<C>],
    workers: usize,
    context: impl Fn(&Case<C>) -> C + Sync,
) -> Vec<Outcome> {
    let queue = Mutex::new(cases.iter().collect::<Vec<_>>());
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| loop {
                let Some(case) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop() else { break };
                let started = Instant::now();
                let passed = attempt(|| (case.run)(&context(case)));
                let took = started.elapsed();
                let verdict = if passed.is_ok() { "ok" } else { "FAILED" };
                eprintln!("{label}: {:<55} {verdict} ({:.1?})", case.name, took);
                outcomes.lock().unwrap_or_else(|p| p.into_inner()).push(Outcome { name: case.name, passed, took });
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap_or_else(|p| p.into_inner());
    outcomes.sort_by_key(|o| cases.iter().position(|c| c.name == o.name));
    outcomes
}

/// Runs `f`, turning a panic (a failed assertion) into its message.
pub fn attempt(f: impl FnOnce()) -> Result<(), String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panicked".into())
    })
}

/// Polls `check` every 200 ms until it returns `Some`, or panics with `what` after `timeout`.
pub fn eventually<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting until {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The case filters: `cargo test --test X -- NAME...` keeps cases whose name contains one of NAME.
pub fn name_filters() -> Vec<String> {
    std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect()
}
