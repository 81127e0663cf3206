//! Starting the server: the data directory, the store, the listeners (HTTPS, and plain HTTP on loopback
//! when asked), and shutdown.

use crate::connections::{accept_loop, ConnectionLimits};
use crate::credentials::{write_private, Credentials, CredentialsError};
use crate::http::Server;
use crate::storage::{RedbBackend, StorageError};
use crate::store::{Store, StoreOptions};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use themelios_api::{Kind, ObjectName, Op, Resource, StateRead};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How to start the API server.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where the store, credentials and kubeconfig live.
    pub data_dir: PathBuf,
    /// The address to listen on.
    pub bind: IpAddr,
    /// The HTTPS port (0 picks a free one).
    pub port: u16,
    /// A plain-HTTP port on loopback without authentication, for tests (0 picks a free one).
    pub insecure_port: Option<u16>,
    /// Store tuning.
    pub store: StoreOptions,
    /// Deadlines and the cap on connections.
    pub connections: ConnectionLimits,
    /// Users' bearer tokens, in upstream's `--token-auth-file` format (`token,user,uid,"group1,group2"`).
    pub token_auth_file: Option<PathBuf>,
    /// Which resources are encrypted on disk, in upstream's `EncryptionConfiguration` format.
    pub encryption_provider_config: Option<PathBuf>,
}

impl Options {
    /// Defaults for a data directory: HTTPS on 127.0.0.1:6443, no plain-HTTP listener.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Options {
            data_dir: data_dir.into(),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 6443,
            insecure_port: None,
            store: StoreOptions::default(),
            connections: ConnectionLimits::default(),
            token_auth_file: None,
            encryption_provider_config: None,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory's files.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The store.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A listener or the TLS setup.
    #[error("{0}")]
    Io(String),
}

/// A running server.
pub struct Running {
    /// The HTTPS address.
    pub secure: SocketAddr,
    /// The plain-HTTP address, if asked for.
    pub insecure: Option<SocketAddr>,
    /// The kubeconfig written for kubectl.
    pub kubeconfig: PathBuf,
    /// The shared state (for in-process callers such as `themelios cluster`).
    pub server: Arc<Server>,
    shutdown: watch::Sender<bool>,
    listeners: JoinSet<()>,
}

impl Running {
    /// Stops accepting, closes every connection, and waits for the listeners to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.listeners.join_next().await.is_some() {}
    }
}

const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Opens the store in the data directory, writes the kubeconfig and starts serving.
pub async fn start(options: Options) -> Result<Running, StartError> {
    let io = |e: std::io::Error| StartError::Io(e.to_string());
    crate::connections::raise_open_file_limit();
    crate::files::prepare_private_dir(&options.data_dir).map_err(CredentialsError::from)?;
    let credentials = Credentials::load_or_create(&options.data_dir)?;
    let encryption = match &options.encryption_provider_config {
        Some(path) => crate::storage::encryption::Encryption::load(path).map_err(StartError::Io)?,
        None => crate::storage::encryption::Encryption::none(),
    };
    let backend = RedbBackend::open_encrypted(&options.data_dir.join("store.redb"), encryption)?;
    let store = Store::open(backend, options.store)?;
    let mut authenticator = crate::auth::Authenticator::with_admin(&credentials.token);
    authenticator.service_accounts =
        Some(crate::auth::tokens::TokenIssuer::from_pem(&credentials.service_account_key_pem).map_err(StartError::Io)?);
    if let Some(file) = &options.token_auth_file {
        authenticator.load_token_file(file).map_err(StartError::Io)?;
    }
    let server = Arc::new(Server { store, token: credentials.token.clone(), authenticator });
    for name in SYSTEM_NAMESPACES {
        if server.store.snapshot().get(Kind::Namespace, &ObjectName::cluster(*name)).is_none() {
            let mut namespace = k8s_openapi::api::core::v1::Namespace::default();
            namespace.metadata.name = Some(name.to_string());
            server
                .store
                .write(&Op::Create(namespace.into_object()), server.now())
                .await
                .map_err(|e| StartError::Io(format!("creating namespace {name}: {}", e.message)))?;
        }
    }

    for object in crate::auth::bootstrap::objects() {
        let reference = themelios_api::ObjectRef::of(&object);
        let existing = server.store.snapshot().get(reference.kind, &reference.name);
        let op = match existing {
            None => Op::Create(object),
            Some(existing) => match crate::auth::bootstrap::reconciled(existing.object(), &object) {
                Some(updated) => Op::Update(updated),
                None => continue,
            },
        };
        server
            .store
            .write(&op, server.now())
            .await
            .map_err(|e| StartError::Io(format!("writing the bootstrap {reference}: {}", e.message)))?;
    }

    let tls = tls_acceptor(&credentials)?;
    let secure_listener = TcpListener::bind(SocketAddr::new(options.bind, options.port)).await.map_err(io)?;
    let secure = secure_listener.local_addr().map_err(io)?;
    let kubeconfig = options.data_dir.join("kubeconfig");
    let host = match secure.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_string(),
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    write_private(&kubeconfig, &credentials.kubeconfig(&format!("https://{host}:{}", secure.port())))?;

    let (shutdown, stopped) = watch::channel(false);
    let mut listeners = JoinSet::new();
    listeners.spawn(accept_loop(secure_listener, Some(tls), server.clone(), options.connections, stopped.clone()));
    let mut insecure = None;
    if let Some(port) = options.insecure_port {
        let listener = TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)).await.map_err(io)?;
        insecure = Some(listener.local_addr().map_err(io)?);
        listeners.spawn(accept_loop(listener, None, server.clone(), options.connections, stopped));
    }
    Ok(Running { secure, insecure, kubeconfig, server, shutdown, listeners })
}

fn tls_acceptor(credentials: &Credentials) -> Result<tokio_rustls::TlsAcceptor, StartError> {
    let bad = |what: &str, e: String| StartError::Io(format!("{what}: {e}"));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(credentials.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| bad("apiserver.crt", e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(credentials.key_pem.as_bytes())
        .map_err(|e| bad("apiserver.key", e.to_string()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("TLS", e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
