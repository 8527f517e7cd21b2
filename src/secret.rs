//! Random ids and secrets, SHA-256 digests in hex, and their comparison in constant time: what
//! tokens, setup links, the admin key, CSRF values and event signatures are made of. One place,
//! so that every secret is made and compared the same way.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Bytes in a public id (16 hex characters).
pub const ID_BYTES: usize = 8;
/// Bytes of randomness in a secret (256 bits; 43 characters of unpadded base64url).
pub const SECRET_BYTES: usize = 32;

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` random bytes from the operating system.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, getrandom::Error> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// A random public id: [`ID_BYTES`] bytes in hex.
pub fn new_id() -> Result<String, getrandom::Error> {
    random_bytes(ID_BYTES).map(|b| hex(&b))
}

/// A random secret: [`SECRET_BYTES`] bytes in unpadded base64url.
pub fn new_secret() -> Result<String, getrandom::Error> {
    random_bytes(SECRET_BYTES).map(|b| URL_SAFE_NO_PAD.encode(b))
}

/// Whether `text` is shaped like a [`new_secret`] (43 base64url characters).
pub fn is_secret(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `text` is shaped like a [`new_id`] (16 lowercase hex characters).
pub fn is_id(text: &str) -> bool {
    text.len() == 2 * ID_BYTES
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// SHA-256 of `parts` fed in order, in hex.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hex(&hasher.finalize())
}

/// Whether `a` and `b` are equal, in time that does not depend on where they differ (only on
/// their lengths).
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_secrets_digests_and_comparison() {
        let id = new_id().unwrap();
        let secret = new_secret().unwrap();
        assert!(is_id(&id) && is_secret(&secret), "{id} {secret}");
        assert!(!is_id("ABCDEF0123456789") && !is_secret("short"));
        assert_ne!(new_secret().unwrap(), secret);
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert_eq!(
            sha256_hex(&[b"ab", b"c"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd") && !same(b"abc", b"ab"));
    }
}
