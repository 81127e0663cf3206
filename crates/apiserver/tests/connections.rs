//! Connections that never speak are closed by deadlines and do not keep clients with the token out.

use std::sync::Arc;
use std::time::{Duration, Instant};
use themelios_apiserver::connections::ConnectionLimits;
use themelios_apiserver::serve::{start, Options, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn server(dir: &std::path::Path, limits: ConnectionLimits) -> Running {
    let mut options = Options::new(dir);
    options.port = 0;
    options.insecure_port = Some(0);
    options.connections = limits;
    start(options).await.unwrap()
}

/// GET `path` over TLS with the admin token; the status code.
async fn authenticated_get(running: &Running, dir: &std::path::Path, path: &str) -> u16 {
    let ca = std::fs::read(dir.join("ca.crt")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(running.secure).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let token = running.server.token.clone();
    let head =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    tls.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

use rustls::pki_types::pem::PemObject;

/// Whether the server closed `stream` (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 1];
    matches!(tokio::time::timeout(within, stream.read(&mut byte)).await, Ok(Ok(0)) | Ok(Err(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_and_do_not_keep_clients_out() {
    let temp = tempfile::tempdir().unwrap();
    let limits = ConnectionLimits {
        handshake: Duration::from_secs(1),
        headers: Duration::from_secs(1),
        ..ConnectionLimits::default()
    };
    let running = server(temp.path(), limits).await;
    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(TcpStream::connect(running.secure).await.unwrap());
    }
    let mut silent_plain = Vec::new();
    for _ in 0..50 {
        silent_plain.push(TcpStream::connect(running.insecure.unwrap()).await.unwrap());
    }
    let started = Instant::now();
    assert_eq!(authenticated_get(&running, temp.path(), "/api/v1/namespaces").await, 200);
    let served_in = started.elapsed();
    assert!(
        served_in < Duration::from_millis(900),
        "an authenticated client waited {served_in:?} behind 350 silent ones"
    );

    // Each silent connection is closed once its deadline passes: no handshake, no headers.
    for stream in silent.iter_mut().chain(silent_plain.iter_mut()) {
        assert!(closed_within(stream, Duration::from_secs(5)).await, "a silent connection stayed open");
    }
    // A connection that starts a request and never finishes its headers is closed too.
    let mut slow = TcpStream::connect(running.insecure.unwrap()).await.unwrap();
    slow.write_all(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    assert!(closed_within(&mut slow, Duration::from_secs(5)).await, "half a request held the connection");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_until_one_closes() {
    let temp = tempfile::tempdir().unwrap();
    let limits =
        ConnectionLimits { max_connections: 3, headers: Duration::from_millis(500), ..ConnectionLimits::default() };
    let running = server(temp.path(), limits).await;
    let plain = running.insecure.unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(plain).await.unwrap());
    }
    let started = Instant::now();
    let mut waiting = TcpStream::connect(plain).await.unwrap();
    waiting.write_all(b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), waiting.read_to_end(&mut response)).await.unwrap().unwrap();
    let waited = started.elapsed();
    assert!(String::from_utf8_lossy(&response).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&response));
    assert!(
        waited >= Duration::from_millis(400),
        "the fourth connection was served at once ({waited:?}) over a cap of 3"
    );
    running.shutdown().await;
}

/// The status line of one request on a fresh plain-HTTP connection.
async fn status_line(addr: std::net::SocketAddr, head: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).lines().next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_up_to_a_mebibyte_are_read_as_upstream_reads_them() {
    let temp = tempfile::tempdir().unwrap();
    let running = server(temp.path(), ConnectionLimits::default()).await;
    let plain = running.insecure.unwrap();
    let with_header = |bytes: usize| {
        format!("GET /version HTTP/1.1\r\nHost: x\r\nX-Large: {}\r\nConnection: close\r\n\r\n", "a".repeat(bytes))
    };
    assert!(status_line(plain, &with_header(600 * 1024)).await.starts_with("HTTP/1.1 200"));
    let too_large = status_line(plain, &with_header(2 * 1024 * 1024)).await;
    assert!(too_large.starts_with("HTTP/1.1 431"), "{too_large:?}");
    running.shutdown().await;
}
