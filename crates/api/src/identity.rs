//! Server-assigned identities — uids and generated name suffixes — and the *revision tokens* they carry.
//!
//! Every identity the server assigns derives from the revision of the write that created the object, so
//! model runs replay exactly. A revision number therefore appears in an object in three forms: its
//! `resourceVersion`, a uid (its own, an owner's, a Job's `controller-uid` label), and a generated name.
//! A model checker that wants to treat two states as equal *up to an order-preserving renaming of
//! revisions* needs to find all three: [`Shape`](crate::shape::Shape) is an object with every revision token cut out, and
//! the tokens in the order they occur.
//!
//! ```
//! use themelios_api::identity::{revision_of_uid, uid_for_revision};
//! assert_eq!(revision_of_uid(&uid_for_revision(42)), Some(42));
//! assert_eq!(revision_of_uid("not-a-uid"), None);
//! ```

use crate::kind::Object;
use std::hash::Hasher;

/// Every uid this server assigns starts with this; the last 12 characters are the revision in hex.
pub(crate) const UID_PREFIX: &str = "7e3e1105-0000-4000-8000-";
pub(crate) const UID_HEX_LEN: usize = 12;

/// Upstream's alphabet for generated name suffixes (no vowels, no confusable digits).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
/// How long a generated suffix is.
pub const SUFFIX_LEN: usize = 5;

/// The uid the object created at `revision` gets: unique per store and deterministic, so model runs replay.
pub fn uid_for_revision(revision: u64) -> String {
    format!("{UID_PREFIX}{revision:012x}")
}

/// The revision a server-assigned uid was created at; `None` for any other string.
pub fn revision_of_uid(uid: &str) -> Option<u64> {
    revision_of_uid_bytes(uid.as_bytes())
}

pub(crate) fn revision_of_uid_bytes(uid: &[u8]) -> Option<u64> {
    if uid.len() != UID_PREFIX.len() + UID_HEX_LEN || !uid.starts_with(UID_PREFIX.as_bytes()) {
        return None;
    }
    parse_hex(&uid[UID_PREFIX.len()..])
}

fn parse_hex(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, d| Some(n * 16 + (*d as char).to_digit(16)? as u64))
}

/// The 5-character suffix `generateName` gets at `revision`: deterministic, distinct for distinct revisions
/// below 27^5.
pub fn generated_suffix(revision: u64) -> String {
    // A bijective scramble of the revision keeps suffixes from looking sequential.
    let space = (SUFFIX_ALPHABET.len() as u64).pow(SUFFIX_LEN as u32);
    let mut n = (revision.wrapping_mul(4_294_967_311) ^ 0x5bd1) % space;
    let mut out = String::with_capacity(SUFFIX_LEN);
    for _ in 0..SUFFIX_LEN {
        out.push(SUFFIX_ALPHABET[(n % SUFFIX_ALPHABET.len() as u64) as usize] as char);
        n /= SUFFIX_ALPHABET.len() as u64;
    }
    out
}

/// The revision whose generated name an object carries: its uid's revision, when its name is its
/// `generateName` followed by that revision's suffix.
pub fn generated_name_revision(object: &Object) -> Option<u64> {
    let meta = object.meta();
    let prefix = meta.generate_name.as_deref().filter(|p| !p.is_empty())?;
    let revision = revision_of_uid(meta.uid.as_deref()?)?;
    let name = meta.name.as_deref()?;
    let stem = name.strip_suffix(generated_suffix(revision).as_str())?;
    prefix.starts_with(stem).then_some(revision)
}

/// Which revisions a token may be compared with. Behaviour compares an object's resourceVersions only
/// with other versions of the same object, and uids (and generated names) only with uids; so a model
/// checker may rank each bucket's revisions on its own.
pub type Bucket = u32;

/// The bucket of uids and generated names.
pub const UID_BUCKET: Bucket = 0;
/// The bucket of datastore-wide revisions (the store's, caches', a client's last write).
pub const GLOBAL_BUCKET: Bucket = 1;

/// The bucket of the resourceVersions of one object (by kind, namespace and name).
pub fn object_bucket(kind: &str, namespace: &str, name: &str) -> Bucket {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(kind.as_bytes());
    h.write_u8(0);
    h.write(namespace.as_bytes());
    h.write_u8(0);
    h.write(name.as_bytes());
    // 0 and 1 are taken; a collision only ranks two objects' versions together, which loses reduction,
    // not soundness.
    (h.finish() as u32).max(2)
}
