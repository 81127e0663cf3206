//! Bad input over real HTTP gets the Kubernetes `Status` with the right code and reason, and writes nothing.

use std::time::Duration;
use themelios_apiserver::serve::{start, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Response {
    status: u16,
    headers: String,
    body: serde_json::Value,
}

/// One HTTP/1.1 request on a fresh connection to the plain loopback listener.
async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Response {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap();
    let status = headers.split_whitespace().nth(1).unwrap().parse().unwrap();
    // Bodies here are small and not chunked unless streamed; take the JSON object in the body.
    let json_start = body.find('{').unwrap_or(0);
    let json_end = body.rfind('}').map_or(body.len(), |e| e + 1);
    let body = serde_json::from_str(&body[json_start..json_end]).unwrap_or(serde_json::Value::Null);
    Response { status, headers: headers.to_string(), body }
}

async fn server() -> (themelios_apiserver::serve::Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::new(dir.path());
    options.port = 0;
    options.insecure_port = Some(0);
    (start(options).await.unwrap(), dir)
}

fn assert_status(response: &Response, code: u16, reason: &str) {
    assert_eq!(response.status, code, "{:?}", response.body);
    assert_eq!(response.body["kind"], "Status", "{:?}", response.body);
    assert_eq!(response.body["code"], code, "{:?}", response.body);
    assert_eq!(response.body["reason"], reason, "{:?}", response.body);
    assert!(response.headers.to_ascii_lowercase().contains("content-type: application/json"), "{}", response.headers);
}

/// What is wrong, the Content-Type, the body, the expected code and reason.
type BadRequestCase = (&'static str, Option<&'static str>, Vec<u8>, u16, &'static str);

const PODS: &str = "/api/v1/namespaces/default/pods";
const POD: &[u8] =
    br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}"#;

#[tokio::test]
async fn malformed_and_contradictory_bodies_are_rejected_without_a_write() {
    let (running, _dir) = server().await;
    let addr = running.insecure.unwrap();
    let revision = running.server.store.snapshot();
    let before = themelios_api::StateRead::revision(&revision);
    let cases: Vec<BadRequestCase> = vec![
        ("malformed JSON", Some("application/json"), b"{\"kind\":".to_vec(), 400, "BadRequest"),
        ("malformed YAML", Some("application/yaml"), b"a: [b".to_vec(), 400, "BadRequest"),
        ("malformed protobuf", Some("application/vnd.kubernetes.protobuf"), b"k8s\0\x0a\xff".to_vec(), 400, "BadRequest"),
        ("wrong kind", Some("application/json"), br#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"p"}}"#.to_vec(), 400, "BadRequest"),
        ("wrong apiVersion", Some("application/json"), br#"{"apiVersion":"apps/v1","kind":"Pod","metadata":{"name":"p"}}"#.to_vec(), 400, "BadRequest"),
        ("wrong namespace", Some("application/json"), br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"other"},"spec":{"containers":[{"name":"c","image":"i"}]}}"#.to_vec(), 400, "BadRequest"),
        ("unsupported media type", Some("text/plain"), POD.to_vec(), 415, "UnsupportedMediaType"),
        ("over 3 MiB", Some("application/json"), vec![b' '; 3 * 1024 * 1024 + 1], 413, "RequestEntityTooLarge"),
        ("invalid object", Some("application/json"), br#"{"metadata":{"name":"Bad_Name"},"spec":{"containers":[]}}"#.to_vec(), 422, "Invalid"),
    ];
    for (what, content_type, body, code, reason) in cases {
        let response = request(addr, "POST", PODS, content_type, &body).await;
        assert_eq!(response.status, code, "{what}: {:?}", response.body);
        assert_status(&response, code, reason);
    }
    let after = themelios_api::StateRead::revision(&running.server.store.snapshot());
    assert_eq!(before, after, "no bad request wrote anything");
    let put = request(addr, "PUT", &format!("{PODS}/q"), Some("application/json"), POD).await;
    assert_status(&put, 400, "BadRequest");
    assert!(put.body["message"].as_str().unwrap().contains("does not match the name on the URL"));
    running.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_selectors_and_verbs_get_statuses() {
    let (running, _dir) = server().await;
    let addr = running.insecure.unwrap();
    assert_status(&request(addr, "GET", "/api/v1/widgets", None, b"").await, 404, "NotFound");
    assert_status(
        &request(addr, "GET", "/apis/apps/v1/namespaces/default/deployments/none", None, b"").await,
        404,
        "NotFound",
    );
    let bad_selector = request(addr, "GET", &format!("{PODS}?labelSelector=a%3D%3D%3Db"), None, b"").await;
    assert_status(&bad_selector, 400, "BadRequest");
    let bad_field = request(addr, "GET", &format!("{PODS}?fieldSelector=spec.image%3Dx"), None, b"").await;
    assert_status(&bad_field, 400, "BadRequest");
    let bad_patch = request(addr, "PATCH", &format!("{PODS}/p"), Some("application/weird-patch"), b"{}").await;
    assert_status(&bad_patch, 415, "UnsupportedMediaType");
    assert_status(&request(addr, "POST", "/version", None, b"").await, 405, "MethodNotAllowed");
    running.shutdown().await;
}

#[tokio::test]
async fn lists_paginate_consistently_and_old_watches_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::new(dir.path());
    options.port = 0;
    options.insecure_port = Some(0);
    options.store.history = 20;
    options.store.snapshots = 2;
    let running = start(options).await.unwrap();
    let addr = running.insecure.unwrap();
    for i in 0..30 {
        let body = format!(r#"{{"metadata":{{"name":"cm-{i:02}"}}}}"#);
        let response =
            request(addr, "POST", "/api/v1/namespaces/default/configmaps", Some("application/json"), body.as_bytes())
                .await;
        assert_eq!(response.status, 201);
    }
    let first = request(addr, "GET", "/api/v1/namespaces/default/configmaps?limit=12", None, b"").await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 12);
    let token = first.body["metadata"]["continue"].as_str().unwrap().to_string();
    let first_token = token.clone();
    // Writes between pages do not show up in the paginated list: it reads one revision, held for it
    // however many revisions (more than the two recent snapshots kept) come after.
    for i in 0..5 {
        let body = format!(r#"{{"metadata":{{"name":"cm-z{i}"}}}}"#);
        let response =
            request(addr, "POST", "/api/v1/namespaces/default/configmaps", Some("application/json"), body.as_bytes())
                .await;
        assert_eq!(response.status, 201);
    }
    let mut names: Vec<String> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    let mut next = token;
    loop {
        let page =
            request(addr, "GET", &format!("/api/v1/namespaces/default/configmaps?limit=12&continue={next}"), None, b"")
                .await;
        names.extend(
            page.body["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()),
        );
        match page.body["metadata"]["continue"].as_str() {
            Some(t) => next = t.to_string(),
            None => break,
        }
    }
    let expected: Vec<String> = (0..30).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(names, expected);
    // A token for a revision neither recent nor held by a paginated list has expired.
    use base64::Engine;
    let codec = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut held: serde_json::Value = serde_json::from_slice(&codec.decode(&first_token).unwrap()).unwrap();
    held["rv"] = (held["rv"].as_u64().unwrap() + 1).into();
    let stale = codec.encode(held.to_string());
    let expired =
        request(addr, "GET", &format!("/api/v1/namespaces/default/configmaps?limit=12&continue={stale}"), None, b"")
            .await;
    assert_status(&expired, 410, "Expired");
    let gone =
        request(addr, "GET", "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=2", None, b"").await;
    assert_status(&gone, 410, "Expired");
    running.shutdown().await;
}

#[tokio::test]
async fn a_patch_writes_only_the_object_its_url_names() {
    let (running, _dir) = server().await;
    let addr = running.insecure.unwrap();
    let configmaps = "/api/v1/namespaces/default/configmaps";
    for name in ["target", "victim"] {
        let body = format!(r#"{{"metadata":{{"name":"{name}"}},"data":{{"owner":"{name}"}}}}"#);
        assert_eq!(request(addr, "POST", configmaps, Some("application/json"), body.as_bytes()).await.status, 201);
    }
    let victim = request(addr, "GET", &format!("{configmaps}/victim"), None, b"").await.body;
    let (uid, rv) =
        (victim["metadata"]["uid"].as_str().unwrap(), victim["metadata"]["resourceVersion"].as_str().unwrap());
    let json_patch = format!(
        r#"[{{"op":"replace","path":"/metadata/name","value":"victim"}},{{"op":"replace","path":"/metadata/uid","value":"{uid}"}},{{"op":"replace","path":"/metadata/resourceVersion","value":"{rv}"}},{{"op":"replace","path":"/data/owner","value":"attacker"}}]"#
    );
    let merge_patch = format!(
        r#"{{"metadata":{{"name":"victim","uid":"{uid}","resourceVersion":"{rv}"}},"data":{{"owner":"attacker"}}}}"#
    );
    let namespace_patch = r#"{"metadata":{"namespace":"kube-system"},"data":{"owner":"attacker"}}"#.to_string();
    let name_removed = r#"[{"op":"remove","path":"/metadata/name"}]"#.to_string();
    let cases = [
        ("application/json-patch+json", json_patch),
        ("application/merge-patch+json", merge_patch.clone()),
        ("application/strategic-merge-patch+json", merge_patch),
        ("application/merge-patch+json", namespace_patch),
        ("application/json-patch+json", name_removed),
    ];
    let before = themelios_api::StateRead::revision(&running.server.store.snapshot());
    for (content_type, patch) in &cases {
        let response =
            request(addr, "PATCH", &format!("{configmaps}/target"), Some(content_type), patch.as_bytes()).await;
        assert_status(&response, 400, "BadRequest");
        let message = response.body["message"].as_str().unwrap();
        assert!(message.contains("does not match"), "{content_type} {patch}: {message}");
    }
    assert_eq!(themelios_api::StateRead::revision(&running.server.store.snapshot()), before, "nothing was written");
    for name in ["target", "victim"] {
        let object = request(addr, "GET", &format!("{configmaps}/{name}"), None, b"").await.body;
        assert_eq!(object["data"]["owner"], name, "{object}");
    }
    // A cluster-scoped object has no namespace to rewrite: the patch applies to the object in the URL.
    let namespace_patch = br#"{"metadata":{"namespace":"default","labels":{"patched":"yes"}}}"#;
    let patched =
        request(addr, "PATCH", "/api/v1/namespaces/kube-public", Some("application/merge-patch+json"), namespace_patch)
            .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["metadata"]["name"], "kube-public");
    assert_eq!(patched.body["metadata"]["labels"]["patched"], "yes");
    assert!(patched.body["metadata"].get("namespace").is_none(), "{}", patched.body);
    running.shutdown().await;
}

#[tokio::test]
async fn deep_yaml_is_refused_at_once_and_large_bodies_still_decode() {
    let (running, _dir) = server().await;
    let addr = running.insecure.unwrap();
    let configmaps = "/api/v1/namespaces/default/configmaps";
    let deep = format!("metadata: {{name: deep}}\ndata: {}{}\n", "{a: ".repeat(100_000), "}".repeat(100_000));
    let started = std::time::Instant::now();
    let refused = request(addr, "POST", configmaps, Some("application/yaml"), deep.as_bytes()).await;
    assert_status(&refused, 400, "BadRequest");
    assert!(refused.body["message"].as_str().unwrap().contains("nested more than 128"), "{}", refused.body);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "refusing 100,000 levels took {took:?}");

    // Bodies over 64 KiB are decoded on a blocking thread; they mean the same.
    let value = "v".repeat(200 * 1024);
    let yaml = format!("metadata:\n  name: large\ndata:\n  big: {value}\n");
    let created = request(addr, "POST", configmaps, Some("application/yaml"), yaml.as_bytes()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let patch = format!(r#"{{"data":{{"bigger":"{value}{value}"}}}}"#);
    let patched =
        request(addr, "PATCH", &format!("{configmaps}/large"), Some("application/merge-patch+json"), patch.as_bytes())
            .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["data"]["big"].as_str().unwrap().len(), value.len());
    assert_eq!(patched.body["data"]["bigger"].as_str().unwrap().len(), 2 * value.len());
    let bad_large = format!("{{\"data\": \"{value}");
    let refused = request(addr, "POST", configmaps, Some("application/json"), bad_large.as_bytes()).await;
    assert_status(&refused, 400, "BadRequest");
    running.shutdown().await;
}

#[tokio::test]
async fn a_json_patch_of_more_than_10000_operations_is_too_large() {
    let (running, _dir) = server().await;
    let addr = running.insecure.unwrap();
    let configmaps = "/api/v1/namespaces/default/configmaps";
    assert_eq!(
        request(addr, "POST", configmaps, Some("application/json"), br#"{"metadata":{"name":"c"}}"#).await.status,
        201
    );
    let operations = |n: usize| {
        let op = r#"{"op":"add","path":"/metadata/labels","value":{}}"#;
        format!("[{}]", vec![op; n].join(","))
    };
    let url = format!("{configmaps}/c");
    let too_many =
        request(addr, "PATCH", &url, Some("application/json-patch+json"), operations(10_001).as_bytes()).await;
    assert_status(&too_many, 413, "RequestEntityTooLarge");
    assert!(too_many.body["message"]
        .as_str()
        .unwrap()
        .contains("maximum operations in a JSON patch is 10000, got 10001"));
    let allowed =
        request(addr, "PATCH", &url, Some("application/json-patch+json"), operations(10_000).as_bytes()).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    running.shutdown().await;
}
