//! `themelios apiserver` killed with SIGKILL at any moment of its very first start leaves a data directory
//! that the next start opens.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn kill_9_during_the_first_start_never_leaves_an_unopenable_store() {
    const TRIES: u64 = 40;
    let mut killed_before_ready = 0;
    for attempt in 0..TRIES {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = temp.path().join("data");
        let mut child = Command::new(env!("CARGO_BIN_EXE_themelios"))
            .args(["apiserver", "--port", "0", "--data-dir"])
            .arg(&data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kills over the first start: from before anything is written to after it serves.
        std::thread::sleep(Duration::from_micros(attempt * 1_500));
        child.kill().unwrap();
        child.wait().unwrap();
        if !data_dir.join("kubeconfig").exists() {
            killed_before_ready += 1;
        }
        let server = common::start_in(temp);
        let namespaces = server.ok(&["get", "namespaces", "-o", "name"]);
        assert!(namespaces.contains("namespace/default"), "attempt {attempt}: {namespaces}");
        server.ok(&["create", "configmap", "after-crash"]);
        drop(server.stop());
    }
    eprintln!("{killed_before_ready} of {TRIES} kills came before the first start finished");
    assert!(killed_before_ready >= TRIES / 4, "the kills hit the first start ({killed_before_ready} of {TRIES})");
}
