//! The data directory: owner-only modes at every start, and a first start that a crash cannot leave
//! half-done.

use themelios_apiserver::files::mode_of;
use themelios_apiserver::serve::{start, Options};

fn options(dir: &std::path::Path) -> Options {
    let mut options = Options::new(dir);
    options.port = 0;
    options
}

const PRIVATE: [&str; 5] = ["store.redb", "token", "apiserver.key", "ca.key", "kubeconfig"];

#[tokio::test]
async fn the_data_directory_and_its_secrets_are_owner_only_at_every_start() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let running = start(options(&dir)).await.unwrap();
    let token = running.server.token.clone();
    running.shutdown().await;
    assert_eq!(mode_of(&dir).unwrap(), 0o700);
    for file in PRIVATE {
        assert_eq!(mode_of(&dir.join(file)).unwrap(), 0o600, "{file}");
    }
    assert_eq!(mode_of(&dir.join("ca.crt")).unwrap(), 0o644, "a certificate is public");

    // Someone loosens everything; the next start tightens it again.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for file in PRIVATE {
        std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let running = start(options(&dir)).await.unwrap();
    assert_eq!(running.server.token, token, "the credentials are reused");
    running.shutdown().await;
    assert_eq!(mode_of(&dir).unwrap(), 0o700);
    for file in PRIVATE {
        assert_eq!(mode_of(&dir.join(file)).unwrap(), 0o600, "{file} after a restart");
    }
}

#[tokio::test]
async fn what_a_crashed_first_start_left_does_not_stop_the_next() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    // A database being initialised (the first bytes of a redb file, cut short), a credential being written,
    // and a token never written.
    std::fs::write(dir.join("store.redb.new"), b"redb\x1a\x0a\xa9\x0d\x0a").unwrap();
    std::fs::write(dir.join("ca.crt"), "-----BEGIN CERT").unwrap();
    std::fs::write(dir.join("token.new"), "").unwrap();
    let running = start(options(&dir)).await.unwrap();
    let namespaces = running.server.store.snapshot();
    let default = themelios_api::ObjectName::cluster("default");
    assert!(themelios_api::StateRead::get(&namespaces, themelios_api::Kind::Namespace, &default).is_some());
    assert!(!dir.join("store.redb.new").exists(), "the staging file was replaced");
    running.shutdown().await;
}

#[tokio::test]
async fn a_damaged_store_is_refused_with_what_to_do() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("store.redb"), b"not a database at all").unwrap();
    let error = start(options(&dir)).await.err().expect("a damaged store does not open");
    let message = error.to_string();
    assert!(message.contains("store.redb"), "{message}");
    assert!(message.contains("move it away"), "{message}");
    assert_eq!(std::fs::read(dir.join("store.redb")).unwrap(), b"not a database at all", "left as it was");
}
