//! Accepting connections with bounds, so clients that connect and never speak cannot hold the server:
//! a deadline on the TLS handshake and on each request's headers (which is also how long an idle
//! keep-alive connection stays open), a cap on open connections, and a pause after a failed accept
//! (no file descriptors left) instead of a busy loop.

use crate::http::{handle, Server};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// How large a request line and headers may be, as upstream's `MaxHeaderBytes` (1 MiB) with Go's 4 KiB of
/// slack; larger gets 431, with no body, as Go's server answers it. hyper checks between reads, so a read
/// that crosses the limit may still be taken whole. (A URI over 64 KiB gets 414 from hyper, where Go would
/// take it.)
const MAX_HEADER_BYTES: usize = (1 << 20) + 4096;

/// How long connections may take and how many may be open.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// The TLS handshake must finish within this.
    pub handshake: Duration,
    /// A request's headers must arrive within this after the connection is ready for a request — so a
    /// keep-alive connection with no request for this long is closed (upstream reads headers within 32 s).
    pub headers: Duration,
    /// At most this many connections per listener; more wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// How long to wait before accepting again after a failed accept (such as no file descriptors left).
    pub accept_pause: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            handshake: Duration::from_secs(10),
            headers: Duration::from_secs(32),
            max_connections: 4096,
            accept_pause: Duration::from_millis(100),
        }
    }
}

/// Serves `listener` until `stopped` changes: TLS (with the bearer token required) when `tls` is given,
/// plain HTTP otherwise.
pub async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    server: Arc<Server>,
    limits: ConnectionLimits,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = JoinSet::new();
    loop {
        // Take a slot before accepting: at the cap, new connections wait in the backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            _ = stopped.changed() => break,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Typically EMFILE: accepting again at once would fail again at once and spin a core.
                drop(slot);
                tokio::time::sleep(limits.accept_pause).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let server = server.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            let _slot = slot;
            serve_connection(stream, tls, server, limits).await;
        });
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
    }
    connections.shutdown().await;
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    server: Arc<Server>,
    limits: ConnectionLimits,
) {
    let require_token = tls.is_some();
    let service = service_fn(move |request| {
        let server = server.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(server, request, require_token).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.headers).max_buf_size(MAX_HEADER_BYTES);
    match tls {
        Some(acceptor) => {
            if let Ok(Ok(stream)) = tokio::time::timeout(limits.handshake, acceptor.accept(stream)).await {
                let _ = builder.serve_connection(TokioIo::new(stream), service).await;
            }
        }
        None => {
            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
        }
    }
}

/// Raises this process's soft limit on open files to its hard limit, as the Go runtime does for
/// kube-apiserver: each connection holds a file descriptor, and the usual soft limit (1024) would cap the
/// server far below what the machine allows. Returns the limit in force.
pub fn raise_open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    Some(limit.rlim_cur)
}
