//! Hex SHA-256: keys of bounded length whatever they are made from (a URL, a request).

use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Hex SHA-256 of the parts, each length-prefixed so no two lists hash alike.
pub fn sha256_hex_of_parts(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        // Parts are length-prefixed: ["ab", "c"] and ["a", "bc"] differ, and neither is "abc".
        let (a, b) = (sha256_hex_of_parts(&["ab", "c"]), sha256_hex_of_parts(&["a", "bc"]));
        assert_ne!(a, b);
        assert_ne!(a, sha256_hex(b"abc"));
        assert_eq!(a.len(), 64);
    }
}
