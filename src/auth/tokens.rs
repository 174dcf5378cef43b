//! Secrets handed to callers once. They carry 256 random bits, so a fast hash
//! is enough to store them: nothing can be guessed, only looked up.
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const API_KEY_PREFIX: &str = "chk_";
pub const HUB_SESSION_PREFIX: &str = "hub_";

fn random_part() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_part())
}

pub fn new_hub_session_token() -> String {
    format!("{HUB_SESSION_PREFIX}{}", random_part())
}

/// The token in a welcome mail's activation link (URL-safe as it is).
pub fn new_activation_token() -> String {
    random_part()
}

/// What is stored and looked up: hex SHA-256 of the secret.
pub fn hash(secret: &str) -> String {
    // One formatting call for all 32 bytes: every staff call hashes its key.
    format!("{:x}", Sha256::digest(secret.as_bytes()))
}

/// The part of an API key shown in listings, to recognise it.
pub fn display_prefix(secret: &str) -> String {
    secret.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_prefixed_and_hashed() {
        let a = new_api_key();
        let b = new_api_key();
        assert!(a.starts_with(API_KEY_PREFIX));
        assert_ne!(a, b);
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(hash(&a), hash(&a));
        // SHA-256 of "abc" (FIPS 180-2): what the database holds must not change.
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(new_hub_session_token().starts_with(HUB_SESSION_PREFIX));
    }
}
