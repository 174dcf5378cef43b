//! HUB passwords, hashed with Argon2id on a blocking thread so a login never
//! stalls the async workers.
use crate::domain::Password;
use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordVerifier, Version,
    password_hash::{PasswordHasher as _, SaltString},
};
use std::sync::Arc;
use tokio::sync::{OnceCell, Semaphore};

/// Cheap to clone: the clones share one limit on hashes at once.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    memory_kib: u32,
    iterations: u32,
    /// Each hash holds `memory_kib` for its duration: a flood of logins
    /// waits here rather than run hundreds at once on the blocking pool.
    at_once: Arc<Semaphore>,
    /// A hash made with these settings, for unknown e-mails to verify
    /// against (`verify_dummy`); made on first use, not at start-up.
    dummy: Arc<OnceCell<String>>,
}

impl PasswordHasher {
    pub fn new(memory_kib: u32, iterations: u32) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self { memory_kib, iterations, at_once: Arc::new(Semaphore::new(cores)), dummy: Arc::default() }
    }

    fn argon2(&self) -> anyhow::Result<Argon2<'static>> {
        let params = Params::new(self.memory_kib, self.iterations, 1, None).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// Runs one Argon2 computation on a blocking thread, with a permit.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = self.at_once.acquire().await?;
        tokio::task::spawn_blocking(work).await?
    }

    pub async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        self.hash_str(password.expose()).await
    }

    async fn hash_str(&self, password: &str) -> anyhow::Result<String> {
        let argon2 = self.argon2()?;
        let password = password.to_string();
        self.run(move || {
            let mut bytes = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            let salt = SaltString::encode_b64(&bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
            argon2.hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| anyhow::anyhow!("{e}"))
        })
        .await
    }

    /// Verifies with the parameters stored in the hash itself, so hashes made
    /// with older settings keep working.
    pub async fn verify(&self, password: &str, stored: &str) -> anyhow::Result<bool> {
        let password = password.to_string();
        let stored = stored.to_string();
        self.run(move || {
            let parsed = PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
    }

    /// Burns the time of one verification, so an unknown e-mail answers as
    /// slowly as a wrong password and does not reveal who has an account.
    /// The dummy is hashed with the configured settings: a fixed one would
    /// answer faster or slower than a real account once they change.
    pub async fn verify_dummy(&self, password: &str) {
        if let Ok(dummy) = self.dummy_hash().await {
            let _ = self.verify(password, dummy).await;
        }
    }

    async fn dummy_hash(&self) -> anyhow::Result<&str> {
        let dummy = self.dummy.get_or_try_init(|| self.hash_str("not anybody's password")).await?;
        Ok(dummy.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = PasswordHasher::new(1024, 1);
        let pw = Password::parse("correct horse battery").unwrap();
        let stored = h.hash(&pw).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(h.verify("correct horse battery", &stored).await.unwrap());
        assert!(!h.verify("wrong horse battery", &stored).await.unwrap());
    }

    /// The dummy costs what a real account costs: same settings.
    #[tokio::test]
    async fn the_dummy_is_hashed_with_the_configured_settings() {
        let h = PasswordHasher::new(2048, 3);
        let dummy = h.dummy_hash().await.unwrap().to_string();
        let stored = h.hash(&Password::parse("correct horse battery").unwrap()).await.unwrap();
        let params = |hash: &str| hash.split('$').nth(3).unwrap().to_string();
        assert_eq!(params(&dummy), "m=2048,t=3,p=1");
        assert_eq!(params(&dummy), params(&stored));
    }
}
