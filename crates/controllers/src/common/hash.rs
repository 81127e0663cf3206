//! The short hashes that name ReplicaSets and ControllerRevisions.

/// The characters a hash is spelled in (no vowels, so no words).
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

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
    hash.to_string().bytes().map(|digit| SAFE_ALPHABET[usize::from(digit) % SAFE_ALPHABET.len()] as char).collect()
}
