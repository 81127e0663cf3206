//! The real binary started as a process, and the real kubectl pointed at the kubeconfig it writes.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// A running `themelios` server process (`apiserver` or `cluster`) and a private HOME for kubectl.
pub struct ApiServer {
    child: Child,
    /// The data directory.
    #[allow(dead_code)]
    pub data_dir: PathBuf,
    home: PathBuf,
    /// The kubeconfig the server wrote.
    pub kubeconfig: PathBuf,
    temp: Option<tempfile::TempDir>,
}

/// Starts `themelios apiserver` in a temporary directory.
pub fn start_in(temp: tempfile::TempDir) -> ApiServer {
    start_command(temp, &["apiserver", "--port", "0"])
}

/// Starts `themelios <args> --data-dir <temp>/data` and waits for it to print its kubeconfig.
pub fn start_command(temp: tempfile::TempDir, args: &[&str]) -> ApiServer {
    let data_dir = temp.path().join("data");
    let home = temp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_themelios"))
        .args(args)
        .arg("--data-dir")
        .arg(&data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start themelios apiserver");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut kubeconfig = None;
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 {
        if let Some(path) = line.trim().strip_prefix("kubeconfig: ") {
            kubeconfig = Some(PathBuf::from(path));
            break;
        }
        line.clear();
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in stdout.lines() {});
    ApiServer {
        child,
        data_dir,
        home,
        kubeconfig: kubeconfig.expect("the server printed its kubeconfig"),
        temp: Some(temp),
    }
}

/// Starts `themelios apiserver` in a new temporary directory.
#[allow(dead_code)]
pub fn start() -> ApiServer {
    start_in(tempfile::tempdir().unwrap())
}

impl ApiServer {
    #[allow(dead_code)]
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("kubectl");
        command.args(args).env("KUBECONFIG", &self.kubeconfig).env("HOME", &self.home);
        command
    }

    #[allow(dead_code)]
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run kubectl")
    }

    /// Runs kubectl and returns stdout, failing the test with stderr if kubectl failed.
    #[allow(dead_code)]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl expecting failure; returns stderr.
    #[allow(dead_code)]
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "kubectl {args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    #[allow(dead_code)]
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.home.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Stops the server with Ctrl-C (SIGINT) and waits for it to exit.
    #[allow(dead_code)]
    pub fn stop(mut self) -> tempfile::TempDir {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the server exits cleanly on Ctrl-C: {status}");
        self.temp.take().unwrap()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
