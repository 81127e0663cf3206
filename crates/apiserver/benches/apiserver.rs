//! `cargo bench -p themelios-apiserver`: drives the real server over loopback HTTP with keep-alive clients and
//! prints throughput and latency for pod create, get, update, list and watch at 1, 16 and 64 concurrent
//! clients (every write durable: fsync'd before it is acknowledged), and the delivery latency of one write
//! to 1,000 watchers. Targets from the issue are printed beside the figures.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use themelios_apiserver::serve::{start, Options};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A keep-alive HTTP/1.1 connection that sends one request at a time.
struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).ok();
        Client { stream: BufReader::new(stream) }
    }

    /// Sends a request and returns (status, body).
    async fn send(&mut self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let stream = self.stream.get_mut();
        stream.write_all(head.as_bytes()).await.expect("write");
        stream.write_all(body).await.expect("write");
        let mut line = String::new();
        self.stream.read_line(&mut line).await.expect("status line");
        let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await.expect("body");
        (status, body)
    }
}

fn pod(name: &str, namespace: &str, version: u64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "bench", "v": version.to_string()}},
        "spec": {"containers": [{"name": "c", "image": "registry.example/app:1.0", "ports": [{"containerPort": 8080}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
    }))
    .unwrap_or_default()
}

struct Figures {
    operations: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default()
    }
    fn rate(&self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64()
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Runs `per_client` operations on each of `clients` connections; `op(client, index)` makes one request.
async fn phase<F, Fut>(addr: SocketAddr, clients: usize, per_client: usize, op: F) -> Figures
where
    F: Fn(usize, usize, Client) -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = (Client, Duration)> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            let mut latencies = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let (back, latency) = op(c, i, client).await;
                client = back;
                latencies.push(latency);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("client task"));
    }
    Figures { operations: latencies.len(), elapsed: started.elapsed(), latencies }
}

async fn timed(mut client: Client, method: &str, path: &str, body: &[u8], expect: u16) -> (Client, Duration) {
    let at = Instant::now();
    let (status, response) = client.send(method, path, body).await;
    assert_eq!(status, expect, "{method} {path}: {}", String::from_utf8_lossy(&response));
    (client, at.elapsed())
}

fn print_row(phase: &str, clients: usize, figures: &Figures, target: &str) {
    println!(
        "{phase:<8} {clients:>7} {:>8} {:>11.0} {:>9} {:>9}   {target}",
        figures.operations,
        figures.rate(),
        ms(figures.percentile(0.5)),
        ms(figures.percentile(0.99)),
    );
}

async fn create_namespace(addr: SocketAddr, name: &str) {
    let mut client = Client::connect(addr).await;
    let body = serde_json::to_vec(&serde_json::json!({"metadata": {"name": name}})).unwrap_or_default();
    let (status, _) = client.send("POST", "/api/v1/namespaces", &body).await;
    assert_eq!(status, 201);
}

async fn crud(addr: SocketAddr, clients: usize) {
    let namespace = format!("bench-{clients}");
    create_namespace(addr, &namespace).await;
    let per_client = match clients {
        1 => 1500,
        16 => 400,
        _ => 200,
    };
    let ns = Arc::new(namespace);
    let n = ns.clone();
    let created = phase(addr, clients, per_client, move |c, i, client| {
        let ns = n.clone();
        async move {
            let path = format!("/api/v1/namespaces/{ns}/pods");
            timed(client, "POST", &path, &pod(&format!("p-{c}-{i}"), &ns, 0), 201).await
        }
    })
    .await;
    let target = if clients == 64 { "target ≥ 5,000/s with p99 < 50 ms" } else { "" };
    print_row("create", clients, &created, target);
    let n = ns.clone();
    let got = phase(addr, clients, per_client, move |c, i, client| {
        let ns = n.clone();
        async move { timed(client, "GET", &format!("/api/v1/namespaces/{ns}/pods/p-{c}-{i}"), b"", 200).await }
    })
    .await;
    print_row("get", clients, &got, "");
    // The bodies to PUT, made before the phase: each stored pod with a changed label and no
    // resourceVersion (an unconditional replace). A PUT of the original manifest would not do: the
    // stored pod has what admission added on create (priority, service account), which an update may
    // not remove, on upstream's server as on ours.
    let mut reader = Client::connect(addr).await;
    let mut bodies = Vec::with_capacity(clients);
    for c in 0..clients {
        let mut of_client = Vec::with_capacity(per_client);
        for i in 0..per_client {
            let (status, body) = reader.send("GET", &format!("/api/v1/namespaces/{ns}/pods/p-{c}-{i}"), b"").await;
            assert_eq!(status, 200);
            let mut stored: serde_json::Value = serde_json::from_slice(&body).expect("a pod");
            stored["metadata"]["labels"]["v"] = "1".into();
            if let Some(meta) = stored["metadata"].as_object_mut() {
                meta.remove("resourceVersion");
                meta.remove("managedFields");
            }
            of_client.push(serde_json::to_vec(&stored).unwrap_or_default());
        }
        bodies.push(of_client);
    }
    let bodies = Arc::new(bodies);
    let n = ns.clone();
    let updated = phase(addr, clients, per_client, move |c, i, client| {
        let (ns, bodies) = (n.clone(), bodies.clone());
        async move {
            let path = format!("/api/v1/namespaces/{ns}/pods/p-{c}-{i}");
            timed(client, "PUT", &path, &bodies[c][i], 200).await
        }
    })
    .await;
    print_row("update", clients, &updated, "");
    let n = ns.clone();
    let lists = phase(addr, clients, 20.min(per_client), move |_, _, client| {
        let ns = n.clone();
        async move { timed(client, "GET", &format!("/api/v1/namespaces/{ns}/pods?limit=500"), b"", 200).await }
    })
    .await;
    print_row("list500", clients, &lists, "");
}

/// Opens a watch and returns the reader positioned after the response headers.
async fn open_watch(addr: SocketAddr, path: &str) -> BufReader<TcpStream> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).ok();
    let head = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.expect("header");
        if line == "\r\n" {
            return reader;
        }
    }
}

/// Reads chunked watch events until one whose object is named `name`; returns when it arrived.
async fn await_event(reader: &mut BufReader<TcpStream>, name: &str) -> Instant {
    let needle = format!("\"name\":\"{name}\"");
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await.expect("event") == 0 {
            panic!("watch closed");
        }
        if line.contains(&needle) {
            return Instant::now();
        }
    }
}

/// The collection's current resourceVersion, for a watch from now on.
async fn current_revision(addr: SocketAddr, collection: &str) -> String {
    let (_, body) = Client::connect(addr).await.send("GET", collection, b"").await;
    let list: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    list["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_string()
}

async fn watch_throughput(addr: SocketAddr) {
    create_namespace(addr, "bench-watch").await;
    let collection = "/api/v1/namespaces/bench-watch/configmaps";
    let revision = current_revision(addr, collection).await;
    let mut watch = open_watch(addr, &format!("{collection}?watch=true&resourceVersion={revision}")).await;
    let writes = 2000;
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        let mut tasks = Vec::new();
        for c in 0..16 {
            tasks.push(tokio::spawn(async move {
                let mut client = Client::connect(addr).await;
                for i in 0..writes / 16 {
                    let body = serde_json::to_vec(
                        &serde_json::json!({"metadata": {"name": format!("cm-{c}-{i}")}, "data": {"k": "v"}}),
                    )
                    .unwrap_or_default();
                    client.send("POST", "/api/v1/namespaces/bench-watch/configmaps", &body).await;
                }
            }));
        }
        for t in tasks {
            t.await.ok();
        }
    });
    let mut received = 0;
    let mut line = String::new();
    while received < writes {
        line.clear();
        assert!(watch.read_line(&mut line).await.expect("event") > 0, "the watch closed");
        if line.contains("\"type\":\"ADDED\"") {
            received += 1;
        }
    }
    writer.await.ok();
    let elapsed = started.elapsed();
    println!(
        "watch    {:>7} {:>8} {:>11.0}   events/s delivered to one watcher while 16 clients create",
        16,
        received,
        received as f64 / elapsed.as_secs_f64()
    );
}

async fn fan_out(addr: SocketAddr, watchers: usize, rounds: usize) {
    create_namespace(addr, "bench-fanout").await;
    let collection = "/api/v1/namespaces/bench-fanout/configmaps";
    let revision = current_revision(addr, collection).await;
    let mut streams = Vec::with_capacity(watchers);
    for _ in 0..watchers {
        streams.push(open_watch(addr, &format!("{collection}?watch=true&resourceVersion={revision}")).await);
    }
    // Let every watch task reach its wait before the first write.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut latencies = Vec::with_capacity(watchers * rounds);
    let mut writer = Client::connect(addr).await;
    let mut readers: Vec<_> = streams.into_iter().map(Some).collect();
    for round in 0..rounds {
        let name = format!("fan-{round}");
        let body = serde_json::to_vec(&serde_json::json!({"metadata": {"name": name}})).unwrap_or_default();
        let mut handles = Vec::with_capacity(watchers);
        for slot in readers.iter_mut() {
            let mut reader = slot.take().expect("reader");
            let name = name.clone();
            handles.push(tokio::spawn(async move {
                let at = await_event(&mut reader, &name).await;
                (reader, at)
            }));
        }
        let sent = Instant::now();
        let (status, _) = writer.send("POST", "/api/v1/namespaces/bench-fanout/configmaps", &body).await;
        assert_eq!(status, 201);
        for (slot, handle) in readers.iter_mut().zip(handles) {
            let (reader, at) = handle.await.expect("watcher");
            latencies.push(at.saturating_duration_since(sent));
            *slot = Some(reader);
        }
    }
    let figures = Figures { operations: latencies.len(), elapsed: Duration::from_secs(1), latencies };
    println!(
        "fan-out: {watchers} watchers x {rounds} writes: delivery after the write was sent p50 {} ms, p99 {} ms, max {} ms (target p99 < 100 ms: {:.2}x of budget)",
        ms(figures.percentile(0.5)),
        ms(figures.percentile(0.99)),
        ms(figures.percentile(1.0)),
        figures.percentile(0.99).as_secs_f64() / 0.1
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut options = Options::new(dir.path());
        options.port = 0;
        options.insecure_port = Some(0);
        let running = start(options).await.expect("start server");
        let addr = running.insecure.expect("plain listener");
        println!("themelios apiserver bench: real server, loopback HTTP/1.1 keep-alive, durable writes (redb, fsync per group commit), data in {}", dir.path().display());
        println!("{:<8} {:>7} {:>8} {:>11} {:>9} {:>9}", "phase", "clients", "ops", "ops/s", "p50 ms", "p99 ms");
        for clients in [1, 16, 64] {
            let commits_before = running.server.store.commits();
            crud(addr, clients).await;
            let commits = running.server.store.commits() - commits_before;
            println!("         ({clients} clients: {commits} group commits)");
        }
        watch_throughput(addr).await;
        fan_out(addr, 1000, 20).await;
        running.shutdown().await;
    });
}
