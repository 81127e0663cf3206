//! With no file descriptors left, the server pauses between failed accepts instead of spinning a core,
//! and serves again once descriptors free up. (Alone in its test binary: it lowers the process's limit.)

use std::time::Duration;
use themelios_apiserver::connections::ConnectionLimits;
use themelios_apiserver::serve::{start, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()), 0);
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_file_descriptors_left_does_not_spin_the_accept_loop() {
    let temp = tempfile::tempdir().unwrap();
    let mut options = Options::new(temp.path());
    options.port = 0;
    options.insecure_port = Some(0);
    options.connections = ConnectionLimits { headers: Duration::from_secs(2), ..ConnectionLimits::default() };
    let running = start(options).await.unwrap();
    let plain = running.insecure.unwrap();

    let limit = libc::rlimit { rlim_cur: 96, rlim_max: 96 };
    // SAFETY: setrlimit reads the struct passed by pointer.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    // Connect until this process (client and server share it) has no descriptors left; the kernel still
    // completes the handshakes of the rest into the listen backlog, where accept fails with EMFILE.
    let mut held = Vec::new();
    while let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(plain)).await {
        held.push(stream);
        if held.len() > 200 {
            break;
        }
    }
    let before = cpu_seconds();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let spent = cpu_seconds() - before;
    assert!(spent < 0.25, "{spent:.2} s of CPU in one second with accepts failing ({} connections held)", held.len());

    drop(held);
    let mut stream = None;
    for _ in 0..50 {
        if let Ok(s) = TcpStream::connect(plain).await {
            stream = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut stream = stream.expect("a connection once descriptors are free");
    stream.write_all(b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&response).starts_with("HTTP/1.1 200"));
    running.shutdown().await;
}
