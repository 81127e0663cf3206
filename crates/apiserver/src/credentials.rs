//! The data directory's credentials: a CA and a serving certificate, the admin token, and a kubeconfig
//! for kubectl — generated on first start, reused afterwards.

use crate::files::{set_mode, write_atomically, FileError, PRIVATE_FILE, PUBLIC_FILE};
use std::fs;
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
    /// The key that signs service-account tokens (PKCS#8 PEM, ECDSA P-256).
    pub service_account_key_pem: String,
}

/// A credentials problem, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// Certificate generation failed.
    #[error("generating certificates: {0}")]
    Generate(String),
}

/// How long a generated serving certificate is valid, and how long before its end it is renewed at a start.
const SERVING_VALIDITY_DAYS: i64 = 365;
const RENEW_WITHIN_DAYS: i64 = 30;
/// How long the generated CA is valid.
const CA_VALIDITY_DAYS: i64 = 3650;

/// Writes `contents` to `path` readable by the owner only (atomically; an existing file's loosened mode
/// is not kept).
pub fn write_private(path: &Path, contents: &str) -> Result<(), CredentialsError> {
    Ok(write_atomically(path, contents.as_bytes(), PRIVATE_FILE)?)
}

fn random_token() -> Result<String, CredentialsError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| CredentialsError::Generate(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn generate_error(e: rcgen::Error) -> CredentialsError {
    CredentialsError::Generate(e.to_string())
}

/// Validity from an hour ago (tolerating clocks a little behind ours) for `days`.
fn validity(params: &mut rcgen::CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(days);
}

/// A new CA: its certificate and key (PEM).
fn generate_ca() -> Result<(String, String), CredentialsError> {
    let ca_key = rcgen::KeyPair::generate().map_err(generate_error)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(generate_error)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "themelios-ca");
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
    validity(&mut ca_params, CA_VALIDITY_DAYS);
    let ca = ca_params.self_signed(&ca_key).map_err(generate_error)?;
    Ok((ca.pem(), ca_key.serialize_pem()))
}

/// A serving certificate and key (PEM) signed by the CA.
fn generate_serving(ca_pem: &str, ca_key_pem: &str, days: i64) -> Result<(String, String), CredentialsError> {
    let ca_key = rcgen::KeyPair::from_pem(ca_key_pem).map_err(generate_error)?;
    let ca = rcgen::Issuer::from_ca_cert_pem(ca_pem, ca_key).map_err(generate_error)?;
    let key = rcgen::KeyPair::generate().map_err(generate_error)?;
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()])
            .map_err(generate_error)?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "themelios-apiserver");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut params, days);
    let cert = params.signed_by(&key, &ca).map_err(generate_error)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A new service-account signing key, saved owner-only.
fn new_service_account_key(files: &Files) -> Result<String, CredentialsError> {
    let key = rcgen::KeyPair::generate().map_err(generate_error)?.serialize_pem();
    write_atomically(&files.service_account_key, key.as_bytes(), PRIVATE_FILE)?;
    Ok(key)
}

/// When a PEM certificate stops being valid (seconds since the epoch).
pub fn not_after(cert_pem: &str) -> Option<i64> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// The files of a data directory, by role.
struct Files {
    ca_cert: PathBuf,
    ca_key: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    token: PathBuf,
    service_account_key: PathBuf,
}

impl Files {
    fn in_dir(dir: &Path) -> Self {
        Files {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            cert: dir.join("apiserver.crt"),
            key: dir.join("apiserver.key"),
            token: dir.join("token"),
            service_account_key: dir.join("sa.key"),
        }
    }
}

impl Credentials {
    /// Loads the credentials in `dir`, generating and saving them on first start; restores owner-only modes
    /// on the private files and renews a serving certificate close to its end.
    ///
    /// Every file is written atomically and the token last, so a crash during the first start leaves
    /// either no token (and everything is generated again) or a complete set.
    pub fn load_or_create(dir: &Path) -> Result<Self, CredentialsError> {
        let files = Files::in_dir(dir);
        let read = |p: &PathBuf| fs::read_to_string(p).map_err(|source| FileError { path: p.clone(), source });
        let complete = [&files.ca_cert, &files.cert, &files.key, &files.token].iter().all(|f| f.exists());
        let token = if complete { read(&files.token)?.trim().to_string() } else { String::new() };
        if token.is_empty() {
            return Self::generate(&files);
        }
        for private in [&files.key, &files.token, &files.ca_key, &files.service_account_key] {
            if private.exists() {
                set_mode(private, PRIVATE_FILE)?;
            }
        }
        let service_account_key_pem = match files.service_account_key.exists() {
            true => read(&files.service_account_key)?,
            false => new_service_account_key(&files)?,
        };
        let mut credentials = Credentials {
            ca_pem: read(&files.ca_cert)?,
            cert_pem: read(&files.cert)?,
            key_pem: read(&files.key)?,
            token,
            service_account_key_pem,
        };
        let renew_before = time::OffsetDateTime::now_utc() + time::Duration::days(RENEW_WITHIN_DAYS);
        if not_after(&credentials.cert_pem).is_none_or(|end| end < renew_before.unix_timestamp()) {
            if !files.ca_key.exists() {
                // A data directory from before the CA key was kept: start over (the kubeconfig is rewritten
                // at every start with the new CA).
                return Self::generate(&files);
            }
            let (cert_pem, key_pem) =
                generate_serving(&credentials.ca_pem, &read(&files.ca_key)?, SERVING_VALIDITY_DAYS)?;
            write_atomically(&files.key, key_pem.as_bytes(), PRIVATE_FILE)?;
            write_atomically(&files.cert, cert_pem.as_bytes(), PUBLIC_FILE)?;
            (credentials.cert_pem, credentials.key_pem) = (cert_pem, key_pem);
        }
        Ok(credentials)
    }

    fn generate(files: &Files) -> Result<Self, CredentialsError> {
        let (ca_pem, ca_key_pem) = generate_ca()?;
        let (cert_pem, key_pem) = generate_serving(&ca_pem, &ca_key_pem, SERVING_VALIDITY_DAYS)?;
        let token = random_token()?;
        let service_account_key_pem = new_service_account_key(files)?;
        write_atomically(&files.ca_key, ca_key_pem.as_bytes(), PRIVATE_FILE)?;
        write_atomically(&files.ca_cert, ca_pem.as_bytes(), PUBLIC_FILE)?;
        write_atomically(&files.key, key_pem.as_bytes(), PRIVATE_FILE)?;
        write_atomically(&files.cert, cert_pem.as_bytes(), PUBLIC_FILE)?;
        write_atomically(&files.token, token.as_bytes(), PRIVATE_FILE)?;
        Ok(Credentials { ca_pem, cert_pem, key_pem, token, service_account_key_pem })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn days_from_now(timestamp: i64) -> i64 {
        (timestamp - time::OffsetDateTime::now_utc().unix_timestamp()) / 86_400
    }

    #[test]
    fn the_serving_certificate_lasts_a_year_and_is_renewed_near_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let first = Credentials::load_or_create(dir.path()).unwrap();
        let end = not_after(&first.cert_pem).unwrap();
        assert!((364..=365).contains(&days_from_now(end)), "{} days", days_from_now(end));
        assert!((3649..=3650).contains(&days_from_now(not_after(&first.ca_pem).unwrap())));

        let again = Credentials::load_or_create(dir.path()).unwrap();
        assert_eq!(again.cert_pem, first.cert_pem, "a certificate far from its end is kept");

        let files = Files::in_dir(dir.path());
        let ca_key = fs::read_to_string(&files.ca_key).unwrap();
        let (ending_cert, ending_key) = generate_serving(&first.ca_pem, &ca_key, 10).unwrap();
        fs::write(&files.cert, &ending_cert).unwrap();
        fs::write(&files.key, &ending_key).unwrap();
        let renewed = Credentials::load_or_create(dir.path()).unwrap();
        assert_ne!(renewed.cert_pem, ending_cert);
        assert!(days_from_now(not_after(&renewed.cert_pem).unwrap()) >= 364);
        assert_eq!(renewed.ca_pem, first.ca_pem, "the CA that kubeconfigs trust stays");
        assert_eq!(renewed.token, first.token);
        assert_eq!(fs::read_to_string(&files.cert).unwrap(), renewed.cert_pem, "the renewal is saved");
    }

    #[test]
    fn an_empty_or_missing_token_means_the_first_start_did_not_finish() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::in_dir(dir.path());
        fs::write(&files.ca_cert, "partial").unwrap();
        fs::write(&files.cert, "").unwrap();
        fs::write(&files.key, "").unwrap();
        fs::write(&files.token, "").unwrap();
        let credentials = Credentials::load_or_create(dir.path()).unwrap();
        assert_eq!(credentials.token.len(), 48);
        assert!(not_after(&credentials.cert_pem).is_some());
        assert_eq!(fs::read_to_string(&files.token).unwrap(), credentials.token);
    }
}
