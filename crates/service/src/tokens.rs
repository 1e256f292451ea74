//! Bearer secrets (session, login challenge and invitation tokens). Only
//! their SHA-256 is stored, so a copy of the database holds no usable token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// A new random token (256 bits) and its stored hash.
pub(crate) fn new_token() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// The stored form of a token: lowercase hex SHA-256.
pub fn hash_token(token: &str) -> String {
    confab_core::id::hex(&Sha256::digest(token.as_bytes()))
}

/// The public name of a session: lets its owner pick it out (to revoke it)
/// without the API ever showing the stored hash of its token.
pub fn session_handle(session_id: &str) -> String {
    let digest = Sha256::digest(format!("session-handle:{session_id}").as_bytes());
    confab_core::id::hex(&digest[..12])
}

/// Whether `token` has the shape of a token Confab issued (cheap filter
/// before any lookup).
pub(crate) fn looks_like_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_token();
        let (b, hb) = new_token();
        assert_ne!(a, b);
        assert_ne!(ha, hb);
        assert!(looks_like_token(&a));
        assert_eq!(hash_token(&a), ha);
        assert_eq!(ha.len(), 64);
        assert!(!looks_like_token("short"));
    }
}
