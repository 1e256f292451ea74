//! Secrets kept at rest (TOTP seeds today) are sealed with
//! XChaCha20-Poly1305 under the server's secret key, so a copy of the
//! database alone does not give them away.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};
use confab_core::{Error, Result};

/// The prefix of sealed values; values without it are from before sealing.
const SEALED: &str = "v1:";
const NONCE_BYTES: usize = 24;

/// The server's 256-bit secret key. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key from base64 text (32 bytes once decoded).
    pub fn from_base64(text: &str) -> std::result::Result<Self, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "is not base64".to_owned())?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "must be 32 bytes (44 characters of base64)".to_owned())?;
        Ok(Self(bytes))
    }

    /// A new random key.
    pub fn generate() -> Self {
        Self(rand::random())
    }

    /// The key as base64 text, for keeping it in a file.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.0))
    }

    /// Nonce and ciphertext of `plain`.
    fn encrypt(&self, plain: &str) -> Result<Vec<u8>> {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
            .map_err(|_| Error::Internal("sealing a secret failed".into()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(bytes)
    }

    /// The text sealed in `bytes` (nonce and ciphertext), if this key sealed it.
    fn decrypt(&self, bytes: &[u8]) -> Option<String> {
        if bytes.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let plain = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), sealed)
            .ok()?;
        String::from_utf8(plain).ok()
    }

    /// `plain` sealed: `v1:` and base64 of nonce and ciphertext.
    pub(crate) fn seal(&self, plain: &str) -> Result<String> {
        Ok(format!("{SEALED}{}", STANDARD.encode(self.encrypt(plain)?)))
    }

    /// The plain text of a stored value; one stored before sealing came in
    /// is returned as it is.
    pub(crate) fn open(&self, stored: &str) -> Result<String> {
        let Some(encoded) = stored.strip_prefix(SEALED) else {
            return Ok(stored.to_owned());
        };
        STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| self.decrypt(&bytes))
            .ok_or_else(|| Error::Internal("a sealed secret cannot be opened with this key".into()))
    }

    /// `plain` sealed into a token that can travel in a URL: its holder
    /// can neither read nor change it.
    pub(crate) fn seal_token(&self, plain: &str) -> Result<String> {
        Ok(URL_SAFE_NO_PAD.encode(self.encrypt(plain)?))
    }

    /// What a token of [`Self::seal_token`] holds; `None` for anything this
    /// key did not seal.
    pub(crate) fn open_token(&self, token: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        self.decrypt(&bytes)
    }
}

impl Default for SecretKey {
    /// A random key: right for tests and a single process, wrong for a
    /// server whose sealed values must outlive it (give it its key).
    fn default() -> Self {
        Self::generate()
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_their_key_only() {
        let key = SecretKey::generate();
        let sealed = key.seal("JBSWY3DPEHPK3PXP").unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_ne!(
            sealed,
            key.seal("JBSWY3DPEHPK3PXP").unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(key.open(&sealed).unwrap(), "JBSWY3DPEHPK3PXP");
        assert!(SecretKey::generate().open(&sealed).is_err());
        assert_eq!(key.open("LEGACYPLAIN").unwrap(), "LEGACYPLAIN");
        let again = SecretKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), "JBSWY3DPEHPK3PXP");
        assert!(SecretKey::from_base64("c2hvcnQ=").is_err());
        assert_eq!(format!("{key:?}"), "SecretKey(…)");
    }

    #[test]
    fn tokens_travel_in_urls_and_open_with_their_key_only() {
        let key = SecretKey::generate();
        let token = key.seal_token("{\"file\":1}").unwrap();
        assert!(token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(key.open_token(&token).as_deref(), Some("{\"file\":1}"));
        assert_eq!(SecretKey::generate().open_token(&token), None);
        let mut changed = token.into_bytes();
        changed[30] = if changed[30] == b'A' { b'B' } else { b'A' };
        assert_eq!(key.open_token(&String::from_utf8(changed).unwrap()), None);
        assert_eq!(key.open_token("not a token"), None);
    }
}
