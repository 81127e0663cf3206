//! The short hashes that name ReplicaSets and ControllerRevisions.

/// The characters a hash is spelled in (no vowels, so no words).
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Upstream's `HashControllerRevision`: 32-bit FNV-1 over the revision's data and then the collision
/// count in decimal, the sum's decimal digits spelled in the safe alphabet. Given the data's exact bytes
/// — the pod template as Go encodes it, keys sorted — this names a StatefulSet's revisions as upstream does.
///
/// ```
/// use themelios_controllers::common::hash::revision_hash;
/// // Values upstream's own HashControllerRevision gives (k8s.io/kubernetes v1.33).
/// assert_eq!(revision_hash(b"", None), "65bb57b6b5");
/// assert_eq!(revision_hash(b"", Some(0)), "d8bfb7bc");
/// let data = br#"{"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null}}}}"#;
/// assert_eq!(revision_hash(data, Some(0)), "75b7dcf49c");
/// ```
pub fn revision_hash(bytes: &[u8], collision_count: Option<i32>) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash = hash.wrapping_mul(0x0100_0193);
            hash ^= u32::from(*b);
        }
    };
    feed(bytes);
    if let Some(count) = collision_count {
        feed(count.to_string().as_bytes());
    }
    safe_digits(hash)
}

fn safe_digits(hash: u32) -> String {
    hash.to_string().bytes().map(|digit| SAFE_ALPHABET[usize::from(digit) % SAFE_ALPHABET.len()] as char).collect()
}

/// 32-bit FNV-1a over the concatenated parts.
pub fn fnv1a(parts: &[&[u8]]) -> u32 {
    parts
        .iter()
        .flat_map(|p| p.iter())
        .fold(0x811c_9dc5, |hash: u32, b| (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

/// FNV-1a over `bytes` and then the collision count's little-endian bytes, spelled in the safe alphabet.
///
/// ```
/// use themelios_controllers::common::hash::short_hash;
/// assert_eq!(short_hash(b"x", None), short_hash(b"x", None));
/// assert_ne!(short_hash(b"x", None), short_hash(b"x", Some(1)));
/// ```
pub fn short_hash(bytes: &[u8], collision_count: Option<i32>) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u32::from(*b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    feed(bytes);
    if let Some(count) = collision_count {
        feed(&(count as u32).to_le_bytes());
    }
    safe_digits(hash)
}
