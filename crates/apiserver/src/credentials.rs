//! The data directory's credentials: a CA and a serving certificate, the admin token, and a kubeconfig
//! for kubectl — generated on first start, reused afterwards.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The files in a data directory.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The CA certificate (PEM), which kubectl trusts.
    pub ca_pem: String,
    /// The serving certificate chain (PEM).
    pub cert_pem: String,
    /// The serving key (PEM).
    pub key_pem: String,
    /// The admin bearer token.
    pub token: String,
}

/// A credentials problem, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("generating certificates: {0}")]
    Generate(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CredentialsError + '_ {
    move |source| CredentialsError::Io { path: path.to_path_buf(), source }
}

/// Writes `contents` to `path` readable by the owner only.
pub fn write_private(path: &Path, contents: &str) -> Result<(), CredentialsError> {
    let mut file =
        fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).map_err(io(path))?;
    file.write_all(contents.as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

fn random_token() -> Result<String, CredentialsError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| CredentialsError::Generate(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn generate() -> Result<Credentials, CredentialsError> {
    let err = |e: rcgen::Error| CredentialsError::Generate(e.to_string());
    let ca_key = rcgen::KeyPair::generate().map_err(err)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "themelios-ca");
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(err)?;
    let key = rcgen::KeyPair::generate().map_err(err)?;
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()])
            .map_err(err)?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "themelios-apiserver");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca).map_err(err)?;
    Ok(Credentials { ca_pem: ca.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem(), token: random_token()? })
}

impl Credentials {
    /// Loads the credentials in `dir`, generating and saving them on first start.
    pub fn load_or_create(dir: &Path) -> Result<Self, CredentialsError> {
        let files = ["ca.crt", "apiserver.crt", "apiserver.key", "token"].map(|f| dir.join(f));
        if files.iter().all(|f| f.exists()) {
            let read = |p: &PathBuf| fs::read_to_string(p).map_err(io(p));
            return Ok(Credentials {
                ca_pem: read(&files[0])?,
                cert_pem: read(&files[1])?,
                key_pem: read(&files[2])?,
                token: read(&files[3])?.trim().to_string(),
            });
        }
        let credentials = generate()?;
        fs::write(&files[0], &credentials.ca_pem).map_err(io(&files[0]))?;
        fs::write(&files[1], &credentials.cert_pem).map_err(io(&files[1]))?;
        write_private(&files[2], &credentials.key_pem)?;
        write_private(&files[3], &credentials.token)?;
        Ok(credentials)
    }

    /// A kubeconfig for `server` (e.g. `https://127.0.0.1:6443`) with the CA inline and the admin token.
    pub fn kubeconfig(&self, server: &str) -> String {
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: themelios\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: admin\n  user:\n    token: {}\ncontexts:\n- name: themelios\n  context:\n    cluster: themelios\n    user: admin\n    namespace: default\ncurrent-context: themelios\n",
            self.token
        )
    }
}
