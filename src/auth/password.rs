//! HUB passwords, hashed with Argon2id on a blocking thread so a login never
//! stalls the async workers.
use crate::domain::Password;
use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordVerifier, Version,
    password_hash::{PasswordHasher as _, SaltString},
};

#[derive(Debug, Clone, Copy)]
pub struct PasswordHasher {
    memory_kib: u32,
    iterations: u32,
}

impl PasswordHasher {
    pub fn new(memory_kib: u32, iterations: u32) -> Self {
        Self { memory_kib, iterations }
    }

    fn argon2(&self) -> anyhow::Result<Argon2<'static>> {
        let params = Params::new(self.memory_kib, self.iterations, 1, None).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    pub async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let argon2 = self.argon2()?;
        let password = password.expose().to_string();
        tokio::task::spawn_blocking(move || {
            let mut bytes = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            let salt = SaltString::encode_b64(&bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
            argon2.hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| anyhow::anyhow!("{e}"))
        })
        .await?
    }

    /// Verifies with the parameters stored in the hash itself, so hashes made
    /// with older settings keep working.
    pub async fn verify(&self, password: &str, stored: &str) -> anyhow::Result<bool> {
        let password = password.to_string();
        let stored = stored.to_string();
        tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await?
    }

    /// Burns the time of one verification, so an unknown e-mail answers as
    /// slowly as a wrong password and does not reveal who has an account.
    pub async fn verify_dummy(&self, password: &str) {
        const DUMMY: &str =
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Wk3l0bKj5E1kq2c4t6kXbqZr3yGq0t0b8QwqvQyJxOk";
        let _ = self.verify(password, DUMMY).await;
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
}
