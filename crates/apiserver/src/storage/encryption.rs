//! Encryption at rest, configured as upstream's `--encryption-provider-config`: an
//! `EncryptionConfiguration` lists, per resource, providers — the first encrypts what is written, all of
//! them decrypt what is read (so keys can be rotated). Providers: `aesgcm` (AES-GCM with a random 96-bit
//! nonce per write, the stored key name in the value's prefix, the storage key as associated data) and
//! `identity` (plain).

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use serde_json::Value;
use themelios_api::Kind;

const AESGCM_PREFIX: &str = "k8s:enc:aesgcm:v1:";

/// One provider of a resource rule.
enum Provider {
    AesGcm(Vec<(String, LessSafeKey)>),
    Identity,
}

/// The resources a rule covers (`secrets`, `deployments.apps`, `*.apps`, `*.*`) and its providers.
struct Rule {
    resources: Vec<String>,
    providers: Vec<Provider>,
}

/// What is encrypted on disk, and with which keys.
#[derive(Default)]
pub struct Encryption {
    rules: Vec<Rule>,
}

impl Encryption {
    /// Nothing encrypted.
    pub fn none() -> Self {
        Encryption::default()
    }

    /// Reads an `EncryptionConfiguration` (YAML or JSON).
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let at = |why: String| format!("{}: {why}", path.display());
        let text = std::fs::read_to_string(path).map_err(|e| at(e.to_string()))?;
        let config: Value = serde_yaml_ng::from_str(&text).map_err(|e| at(e.to_string()))?;
        if config.get("kind").and_then(Value::as_str) != Some("EncryptionConfiguration") {
            return Err(at("kind: must be EncryptionConfiguration".into()));
        }
        let mut rules = Vec::new();
        for (i, rule) in config.get("resources").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let field = |name: &str| format!("resources[{i}].{name}");
            let resources = themelios_api::json::strings_of(rule, "resources");
            if resources.is_empty() {
                return Err(at(format!("{}: at least one resource is required", field("resources"))));
            }
            let mut providers = Vec::new();
            for (j, provider) in rule.get("providers").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let here = field(&format!("providers[{j}]"));
                providers.push(provider_of(provider).map_err(|why| at(format!("{here}: {why}")))?);
            }
            if providers.is_empty() {
                return Err(at(format!("{}: at least one provider is required", field("providers"))));
            }
            rules.push(Rule { resources, providers });
        }
        Ok(Encryption { rules })
    }

    /// The providers for `kind`: the first rule naming it (or a wildcard covering it).
    fn providers(&self, kind: Kind) -> Option<&[Provider]> {
        let group = kind.group();
        let names = [
            if group.is_empty() { kind.plural().to_string() } else { format!("{}.{group}", kind.plural()) },
            format!("*.{group}"),
            "*.*".to_string(),
        ];
        self.rules.iter().find(|r| r.resources.iter().any(|res| names.contains(res))).map(|r| r.providers.as_slice())
    }

    /// Whether `kind` is written encrypted.
    pub fn encrypts(&self, kind: Kind) -> bool {
        matches!(self.providers(kind).and_then(<[Provider]>::first), Some(Provider::AesGcm(_)))
    }

    /// `plain` as stored for `kind`: sealed by its first provider, bound to `context` (the storage key).
    pub fn seal(&self, kind: Kind, context: &str, plain: Vec<u8>) -> Result<Vec<u8>, String> {
        let Some(Provider::AesGcm(keys)) = self.providers(kind).and_then(<[Provider]>::first) else { return Ok(plain) };
        let (name, key) = keys.first().ok_or("an aesgcm provider without keys")?;
        let mut nonce = [0u8; aead::NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
        let mut sealed = plain;
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context.as_bytes()), &mut sealed)
            .map_err(|_| "encryption failed".to_string())?;
        let mut out = format!("{AESGCM_PREFIX}{name}:").into_bytes();
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The plain bytes of a stored value: decrypted with the named key if sealed, as is otherwise.
    pub fn open(&self, context: &str, stored: &[u8]) -> Result<Vec<u8>, String> {
        let Some(rest) = stored.strip_prefix(AESGCM_PREFIX.as_bytes()) else { return Ok(stored.to_vec()) };
        let colon = rest.iter().position(|b| *b == b':').ok_or("a sealed value without a key name")?;
        let name = String::from_utf8_lossy(&rest[..colon]).into_owned();
        let key = self
            .rules
            .iter()
            .flat_map(|r| &r.providers)
            .filter_map(|p| match p {
                Provider::AesGcm(keys) => Some(keys),
                Provider::Identity => None,
            })
            .flatten()
            .find(|(known, _)| *known == name)
            .map(|(_, key)| key)
            .ok_or_else(|| {
                format!("encrypted with the aesgcm key {name:?}, which the encryption configuration does not have")
            })?;
        let body = &rest[colon + 1..];
        if body.len() < aead::NONCE_LEN {
            return Err("a sealed value too short to hold its nonce".into());
        }
        let (nonce, sealed) = body.split_at(aead::NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "a bad nonce".to_string())?;
        let mut buffer = sealed.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| format!("the aesgcm key {name:?} does not decrypt it (wrong key, or the data was altered)"))?;
        Ok(plain.to_vec())
    }
}

fn provider_of(provider: &Value) -> Result<Provider, String> {
    if provider.get("identity").is_some() {
        return Ok(Provider::Identity);
    }
    let Some(aesgcm) = provider.get("aesgcm") else {
        let name = provider.as_object().and_then(|o| o.keys().next().cloned()).unwrap_or_default();
        return Err(format!("provider {name:?} is not supported: use aesgcm or identity"));
    };
    let mut keys = Vec::new();
    for key in aesgcm.get("keys").and_then(Value::as_array).into_iter().flatten() {
        let name = key.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()).ok_or("a key needs a name")?;
        use base64::Engine;
        let secret = key.get("secret").and_then(Value::as_str).unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(secret)
            .map_err(|e| format!("key {name:?}: secret is not base64: {e}"))?;
        let algorithm = match bytes.len() {
            16 => &aead::AES_128_GCM,
            32 => &aead::AES_256_GCM,
            n => return Err(format!("key {name:?}: an aesgcm key is 16 or 32 bytes, not {n}")),
        };
        let key_bytes = UnboundKey::new(algorithm, &bytes).map_err(|_| format!("key {name:?}: unusable"))?;
        keys.push((name.to_string(), LessSafeKey::new(key_bytes)));
    }
    if keys.is_empty() {
        return Err("an aesgcm provider needs at least one key".into());
    }
    Ok(Provider::AesGcm(keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, text: &str) -> Result<Encryption, String> {
        let path = dir.join("encryption.yaml");
        std::fs::write(&path, text).unwrap();
        Encryption::load(&path)
    }

    const CONFIG: &str = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys:\n      - name: key1\n        secret: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n  - identity: {}\n";

    #[test]
    fn secrets_are_sealed_and_open_again_and_other_kinds_stay_plain() {
        let dir = tempfile::tempdir().unwrap();
        let encryption = config(dir.path(), CONFIG).unwrap();
        let sealed = encryption.seal(Kind::Secret, "Secret/ns/s", b"{\"password\":\"hunter2\"}".to_vec()).unwrap();
        assert!(sealed.starts_with(b"k8s:enc:aesgcm:v1:key1:"));
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(encryption.open("Secret/ns/s", &sealed).unwrap(), b"{\"password\":\"hunter2\"}");
        assert!(encryption.open("Secret/ns/other", &sealed).is_err(), "bound to its storage key");
        assert_eq!(encryption.seal(Kind::ConfigMap, "c", b"plain".to_vec()).unwrap(), b"plain");
        assert_eq!(encryption.open("c", b"{\"plain\":1}").unwrap(), b"{\"plain\":1}", "identity reads plain data");
        let error = Encryption::none().open("Secret/ns/s", &sealed).err().unwrap();
        assert!(error.contains("key1"), "{error}");
    }

    #[test]
    fn a_bad_configuration_says_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let short = CONFIG.replace("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "c2hvcnQ=");
        assert!(config(dir.path(), &short).err().unwrap().contains("16 or 32 bytes, not 5"));
        let kms = CONFIG.replace("aesgcm:", "kms:");
        assert!(config(dir.path(), &kms).err().unwrap().contains("provider \"kms\" is not supported"));
    }
}
