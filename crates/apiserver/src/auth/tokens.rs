//! Service-account tokens: JWTs signed with the data directory's service-account key (ES256), naming the
//! account and optionally the pod or secret they are bound to, for the audiences asked. A token
//! authenticates while it has not expired, is meant for this server, and the objects it names still
//! exist with the same uid — so deleting the account or the pod revokes it.

use super::UserInfo;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use serde_json::{json, Value};
use themelios_api::{Kind, ObjectName, StateRead, Time};

/// The issuer, and the audience the API server accepts, as upstream's default cluster names it.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Signs and verifies service-account tokens.
pub struct TokenIssuer {
    key: EcdsaKeyPair,
    key_id: String,
}

/// What a token names and for how long.
pub struct Claims {
    /// The account's namespace.
    pub namespace: String,
    /// The account's name.
    pub account: String,
    /// The account's uid.
    pub account_uid: String,
    /// The object the token is bound to: its kind (`Pod`, `Secret`), name and uid.
    pub bound: Option<(String, String, String)>,
    /// Who the token is for.
    pub audiences: Vec<String>,
    /// When it was issued.
    pub issued: Time,
    /// How long it lasts.
    pub seconds: i64,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl TokenIssuer {
    /// The issuer of a PKCS#8 ECDSA P-256 key (PEM).
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let der = rustls::pki_types::PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| format!("the service-account key: {e}"))?;
        let key = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            der.secret_pkcs8_der(),
            &SystemRandom::new(),
        )
        .map_err(|e| format!("the service-account key: {e}"))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, key.public_key().as_ref());
        let key_id = b64(&digest.as_ref()[..16]);
        Ok(TokenIssuer { key, key_id })
    }

    /// The public key (uncompressed P-256 point), which verifies every token this issuer signs.
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    /// The public key as a JSON Web Key Set, which `/openid/v1/jwks` serves so that anyone can verify a
    /// token.
    pub fn jwks(&self) -> Value {
        let point = self.public_key();
        let (x, y) = point[1..].split_at(32);
        json!({"keys": [{"use": "sig", "kty": "EC", "kid": self.key_id, "crv": "P-256", "alg": "ES256", "x": b64(x), "y": b64(y)}]})
    }

    /// A signed token.
    pub fn issue(&self, claims: &Claims) -> Result<String, String> {
        let header = json!({"alg": "ES256", "kid": self.key_id});
        let issued = claims.issued.seconds_since(Time::EPOCH);
        let mut kubernetes = json!({
            "namespace": claims.namespace,
            "serviceaccount": {"name": claims.account, "uid": claims.account_uid},
        });
        if let Some((kind, name, uid)) = &claims.bound {
            kubernetes[kind.to_ascii_lowercase()] = json!({"name": name, "uid": uid});
        }
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).map_err(|e| e.to_string())?;
        let body = json!({
            "aud": claims.audiences, "exp": issued + claims.seconds, "iat": issued, "nbf": issued,
            "iss": ISSUER, "jti": b64(&jti),
            "sub": format!("system:serviceaccount:{}:{}", claims.namespace, claims.account),
            "kubernetes.io": kubernetes,
        });
        let signing_input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(body.to_string().as_bytes()));
        let signature =
            self.key.sign(&SystemRandom::new(), signing_input.as_bytes()).map_err(|e| format!("signing: {e}"))?;
        Ok(format!("{signing_input}.{}", b64(signature.as_ref())))
    }

    /// The service account a token authenticates now, if it does.
    pub fn authenticate(&self, token: &str, state: &impl StateRead, now: Time) -> Option<UserInfo> {
        let claims = verify(self.public_key(), token)?;
        let seconds = now.seconds_since(Time::EPOCH);
        let number = |field: &str| claims.get(field).and_then(Value::as_i64);
        if number("exp")? <= seconds || number("nbf").is_some_and(|nbf| nbf > seconds + 60) {
            return None;
        }
        let audiences = claims.get("aud").and_then(Value::as_array)?;
        if !audiences.iter().any(|a| a.as_str() == Some(ISSUER)) {
            return None;
        }
        let kubernetes = claims.get("kubernetes.io")?;
        let namespace = kubernetes.get("namespace").and_then(Value::as_str)?;
        let exists = |kind: Kind, field: &str| -> Option<()> {
            let named = kubernetes.get(field)?;
            let name = named.get("name").and_then(Value::as_str)?;
            let uid = named.get("uid").and_then(Value::as_str)?;
            let stored = state.get(kind, &ObjectName::new(namespace, name))?;
            let meta = stored.object().meta();
            (meta.uid.as_deref() == Some(uid) && meta.deletion_timestamp.is_none()).then_some(())
        };
        exists(Kind::ServiceAccount, "serviceaccount")?;
        for (kind, field) in [(Kind::Pod, "pod"), (Kind::Secret, "secret")] {
            if kubernetes.get(field).is_some() {
                exists(kind, field)?;
            }
        }
        let account = kubernetes.pointer("/serviceaccount/name").and_then(Value::as_str)?;
        let uid = kubernetes.pointer("/serviceaccount/uid").and_then(Value::as_str).unwrap_or_default();
        Some(UserInfo::new(
            format!("system:serviceaccount:{namespace}:{account}"),
            uid,
            ["system:serviceaccounts".to_string(), format!("system:serviceaccounts:{namespace}")],
        ))
    }
}

/// The uncompressed P-256 point of the first key of a JSON Web Key Set.
pub fn public_key_of(jwks: &Value) -> Option<Vec<u8>> {
    let key = jwks.pointer("/keys/0")?;
    let decode = |field: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(key.get(field).and_then(Value::as_str)?).ok()
    };
    let mut point = vec![4u8];
    point.extend(decode("x")?);
    point.extend(decode("y")?);
    Some(point)
}

/// The claims of `token` if `public_key` (an uncompressed P-256 point) signed it.
pub fn verify(public_key: &[u8], token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (header, body, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let decode = |part: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).ok();
    let header: Value = serde_json::from_slice(&decode(header)?).ok()?;
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return None;
    }
    let key = UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, public_key);
    let signing_input = &token[..token.len() - signature.len() - 1];
    key.verify(signing_input.as_bytes(), &decode(signature)?).ok()?;
    serde_json::from_slice(&decode(body)?).ok()
}

use rustls::pki_types::pem::PemObject;

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> TokenIssuer {
        TokenIssuer::from_pem(&rcgen::KeyPair::generate().unwrap().serialize_pem()).unwrap()
    }

    fn claims(seconds: i64) -> Claims {
        Claims {
            namespace: "team".into(),
            account: "robot".into(),
            account_uid: "u-1".into(),
            bound: None,
            audiences: vec![ISSUER.into()],
            issued: Time::EPOCH.plus_seconds(1_000),
            seconds,
        }
    }

    #[test]
    fn a_token_verifies_with_the_published_key_and_with_no_other() {
        let (signer, other) = (issuer(), issuer());
        let token = signer.issue(&claims(3600)).unwrap();
        let key = public_key_of(&signer.jwks()).unwrap();
        let body = verify(&key, &token).expect("verifies with the issuer's key");
        assert_eq!(body["sub"], "system:serviceaccount:team:robot");
        assert_eq!(body["exp"], 1_000 + 3600);
        assert!(verify(other.public_key(), &token).is_none());
        let mut tampered = token.clone();
        tampered.replace_range(token.find('.').unwrap() + 2..token.find('.').unwrap() + 3, "A");
        assert!(verify(&key, &tampered).is_none() || tampered == token);
    }

    #[test]
    fn a_token_authenticates_only_while_unexpired_and_its_account_exists() {
        let signer = issuer();
        let mut state = themelios_api::ApiState::default();
        let context = themelios_api::ApplyContext { now: Time::EPOCH };
        let write = |state: &mut themelios_api::ApiState, op: themelios_api::Op| {
            let change = themelios_api::apply(&*state, &op, &context).unwrap();
            state.commit(&change).unwrap();
        };
        let mut namespace = k8s_openapi::api::core::v1::Namespace::default();
        namespace.metadata.name = Some("team".into());
        write(&mut state, themelios_api::Op::Create(themelios_api::Resource::into_object(namespace)));
        let mut account = k8s_openapi::api::core::v1::ServiceAccount::default();
        account.metadata.name = Some("robot".into());
        account.metadata.namespace = Some("team".into());
        write(&mut state, themelios_api::Op::Create(themelios_api::Resource::into_object(account)));
        let robot = ObjectName::new("team", "robot");
        let uid = state.get(Kind::ServiceAccount, &robot).unwrap().object().meta().uid.clone().unwrap();
        let token = signer.issue(&Claims { account_uid: uid, ..claims(3600) }).unwrap();
        let now = Time::EPOCH.plus_seconds(2_000);
        let user = signer.authenticate(&token, &state, now).expect("the account exists");
        assert_eq!(user.name, "system:serviceaccount:team:robot");
        assert!(user.groups.contains(&"system:serviceaccounts:team".to_string()));
        assert!(signer.authenticate(&token, &state, Time::EPOCH.plus_seconds(1_000 + 3600)).is_none(), "expired");
        let stale = signer.issue(&claims(3600)).unwrap();
        assert!(signer.authenticate(&stale, &state, now).is_none(), "an account of another uid");
        let target = themelios_api::ObjectRef { kind: Kind::ServiceAccount, name: robot };
        write(&mut state, themelios_api::Op::Delete { target, options: Default::default() });
        assert!(signer.authenticate(&token, &state, now).is_none(), "the account is gone");
    }
}
