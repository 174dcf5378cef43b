//! Credentials: API keys and HUB session tokens (random secrets stored only
//! as SHA-256), HUB passwords (Argon2id), and the tower layer that resolves
//! the bearer token of every request into a `Caller`.
pub mod credential_cache;
pub mod hub_session_cache;
pub mod layer;
pub mod login_throttle;
pub mod password;
pub mod rate_limit;
pub mod tokens;

pub use layer::AuthLayer;
