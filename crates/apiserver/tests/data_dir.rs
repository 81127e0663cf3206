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

const ENCRYPTION: &str = "apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - aesgcm:
      keys:
      - name: key1
        secret: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=
  - identity: {}
";

#[tokio::test]
async fn secrets_are_encrypted_on_disk_when_asked() {
    use base64::Engine;
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let config = temp.path().join("encryption.yaml");
    std::fs::write(&config, ENCRYPTION).unwrap();
    let secret = |name: &str, value: &str| {
        let mut secret = k8s_openapi::api::core::v1::Secret::default();
        secret.metadata.name = Some(name.into());
        secret.metadata.namespace = Some("default".into());
        secret.data = Some([("password".to_string(), k8s_openapi::ByteString(value.into()))].into());
        themelios_api::Op::Create(themelios_api::Resource::into_object(secret))
    };

    // Written before encryption was configured: stays readable afterwards (upstream's advice holds here
    // too: rewrite such secrets once encryption is on).
    let running = start(options(&dir)).await.unwrap();
    running.server.store.write(&secret("before", "written-in-the-clear"), running.server.now()).await.unwrap();
    running.shutdown().await;

    let mut encrypted = options(&dir);
    encrypted.encryption_provider_config = Some(config.clone());
    let running = start(encrypted.clone()).await.unwrap();
    let value = "correct-horse-battery-staple";
    running.server.store.write(&secret("after", value), running.server.now()).await.unwrap();
    let mut config_map = k8s_openapi::api::core::v1::ConfigMap::default();
    config_map.metadata.name = Some("plain".into());
    config_map.metadata.namespace = Some("default".into());
    config_map.data = Some([("note".to_string(), "visible-config-value".to_string())].into());
    let op = themelios_api::Op::Create(themelios_api::Resource::into_object(config_map));
    running.server.store.write(&op, running.server.now()).await.unwrap();
    running.shutdown().await;

    let bytes = std::fs::read(dir.join("store.redb")).unwrap();
    let count = |needle: &[u8]| bytes.windows(needle.len()).filter(|w| *w == needle).count();
    let encoded = base64::engine::general_purpose::STANDARD.encode(value);
    assert_eq!(count(encoded.as_bytes()) + count(value.as_bytes()), 0, "the secret's value is nowhere on disk");
    assert_eq!(count(b"\"name\":\"after\""), 0, "nor its object or its revision in the clear");
    assert!(count(b"k8s:enc:aesgcm:v1:key1:") >= 2, "the secret and its revision are sealed");
    assert!(count(b"visible-config-value") >= 1, "what the configuration leaves out stays plain");

    let running = start(options(&dir)).await;
    let message = running.err().expect("without the key the store does not open").to_string();
    assert!(message.contains("key1"), "{message}");

    let running = start(encrypted).await.unwrap();
    let snapshot = running.server.store.snapshot();
    for (name, expected) in [("before", "written-in-the-clear"), ("after", value)] {
        let stored = themelios_api::StateRead::get(
            &snapshot,
            themelios_api::Kind::Secret,
            &themelios_api::ObjectName::new("default", name),
        )
        .unwrap();
        let json = themelios_api::json::to_value(stored.object());
        assert_eq!(json["data"]["password"], base64::engine::general_purpose::STANDARD.encode(expected), "{name}");
    }
    running.shutdown().await;
}
