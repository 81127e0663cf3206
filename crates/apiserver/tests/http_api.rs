//! API behaviour over real HTTP that kubectl's tests do not reach: watch parameters, dry runs, generated
//! names, deletecollection.

use std::time::Duration;
use themelios_apiserver::serve::{start, Options, Running};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

async fn server() -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::new(dir.path());
    options.port = 0;
    options.insecure_port = Some(0);
    (start(options).await.unwrap(), dir)
}

async fn call(running: &Running, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let mut stream = tokio::net::TcpStream::connect(running.insecure.unwrap()).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (headers, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = headers.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or_default())
}

/// The watch events (one JSON object per line) until the server ends the stream.
async fn watch_lines(running: &Running, path: &str) -> Vec<serde_json::Value> {
    let mut stream = tokio::net::TcpStream::connect(running.insecure.unwrap()).await.unwrap();
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut reader = BufReader::new(stream);
    let mut events = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        let n = tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line)).await.unwrap().unwrap();
        if n == 0 {
            return events;
        }
        // Chunk-size lines and headers are not JSON; event lines are.
        if let Ok(event) = serde_json::from_str::<serde_json::Value>(line.trim()) {
            if event.get("type").is_some() {
                events.push(event);
            }
        }
    }
}

const CONFIG_MAPS: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn watch_sends_initial_events_a_bookmark_and_ends_at_its_timeout() {
    let (running, _dir) = server().await;
    for name in ["a", "b"] {
        let (status, _) = call(&running, "POST", CONFIG_MAPS, &format!(r#"{{"metadata":{{"name":"{name}"}}}}"#)).await;
        assert_eq!(status, 201);
    }
    let (_, list) = call(&running, "GET", CONFIG_MAPS, "").await;
    let revision = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let started = std::time::Instant::now();
    let path = format!(
        "{CONFIG_MAPS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&resourceVersion={revision}&timeoutSeconds=1"
    );
    let events = watch_lines(&running, &path).await;
    assert!(started.elapsed() >= Duration::from_secs(1) && started.elapsed() < Duration::from_secs(5));
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ADDED", "ADDED", "BOOKMARK"], "{events:?}");
    let bookmark = &events[2]["object"];
    assert_eq!(bookmark["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    assert_eq!(bookmark["metadata"]["resourceVersion"], revision.as_str());
    // A watch on one object's URL (`kubectl get cm a -w`) sees that object only.
    let named = watch_lines(&running, &format!("{CONFIG_MAPS}/a?watch=true&resourceVersion=0&timeoutSeconds=1")).await;
    let names: Vec<&str> = named.iter().map(|e| e["object"]["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a"], "{named:?}");
    let (status, _) = call(&running, "PATCH", &format!("{CONFIG_MAPS}/a"), "").await;
    assert_eq!(status, 415, "a PATCH with no patch media type is refused");
    running.shutdown().await;
}

#[tokio::test]
async fn a_filtered_watch_turns_objects_leaving_the_selector_into_deleted() {
    let (running, _dir) = server().await;
    let (_, list) = call(&running, "GET", CONFIG_MAPS, "").await;
    let revision = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let path =
        format!("{CONFIG_MAPS}?watch=true&labelSelector=team%3Dblue&resourceVersion={revision}&timeoutSeconds=2");
    let watch = watch_lines(&running, &path);
    let writes = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        call(&running, "POST", CONFIG_MAPS, r#"{"metadata":{"name":"c","labels":{"team":"blue"}}}"#).await;
        call(&running, "PUT", &format!("{CONFIG_MAPS}/c"), r#"{"metadata":{"name":"c","labels":{"team":"red"}}}"#)
            .await;
        call(&running, "POST", CONFIG_MAPS, r#"{"metadata":{"name":"d","labels":{"team":"red"}}}"#).await;
    };
    let (events, _) = tokio::join!(watch, writes);
    let seen: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["object"]["metadata"]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(seen, [("ADDED", "c"), ("DELETED", "c")]);
    running.shutdown().await;
}

#[tokio::test]
async fn dry_run_writes_nothing_and_generate_name_assigns_a_name() {
    let (running, _dir) = server().await;
    let (status, object) =
        call(&running, "POST", &format!("{CONFIG_MAPS}?dryRun=All"), r#"{"metadata":{"name":"dry"}}"#).await;
    assert_eq!((status, object["metadata"]["name"].as_str()), (201, Some("dry")));
    let (status, _) = call(&running, "GET", &format!("{CONFIG_MAPS}/dry"), "").await;
    assert_eq!(status, 404, "a dry run is not persisted");
    let (status, object) = call(&running, "POST", CONFIG_MAPS, r#"{"metadata":{"generateName":"gen-"}}"#).await;
    assert_eq!(status, 201);
    let name = object["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("gen-") && name.len() == "gen-".len() + 5, "{name}");
    let (status, _) =
        call(&running, "POST", &format!("{CONFIG_MAPS}?dryRun=Some"), r#"{"metadata":{"name":"x"}}"#).await;
    assert_eq!(status, 400);
    running.shutdown().await;
}

#[tokio::test]
async fn deletecollection_deletes_what_the_selector_matches() {
    let (running, _dir) = server().await;
    for (name, team) in [("a", "blue"), ("b", "blue"), ("c", "red")] {
        call(
            &running,
            "POST",
            CONFIG_MAPS,
            &format!(r#"{{"metadata":{{"name":"{name}","labels":{{"team":"{team}"}}}}}}"#),
        )
        .await;
    }
    let (status, reply) = call(&running, "DELETE", &format!("{CONFIG_MAPS}?labelSelector=team%3Dblue"), "").await;
    assert_eq!((status, reply["status"].as_str()), (200, Some("Success")));
    let (_, list) = call(&running, "GET", CONFIG_MAPS, "").await;
    let names: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["c"]);
    running.shutdown().await;
}
