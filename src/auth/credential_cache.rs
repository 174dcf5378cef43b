//! Staff API keys as resolved a moment ago, so a staff call need not start
//! with a query (BENCHMARKS.md, fix 11).
//!
//! Whatever can change what a key resolves to (revoking it, changing its
//! user's role or areas, deleting the user or an area) commits through
//! `store::credentials::commit_change`: on PostgreSQL it NOTIFYs `CHANNEL`
//! inside the transaction, which every replica's listener turns into
//! `forget_all`, and after the commit it calls `forget_all` here. So a
//! revoked key stops at once on the replica that revoked it and within a
//! notification's delay on the others.
//!
//! On PostgreSQL the cache serves only while that listener is connected:
//! without it, changes made elsewhere would go unheard. Every entry lives at
//! most `TTL` in any case, which bounds changes made outside the service
//! (by hand in SQL, or the CLI on a SQLite file the service has open).
//! Only keys that resolved to a staff caller are kept, so unknown tokens
//! cannot fill it; HUB sessions are not cached.
use crate::{clock::Timestamp, domain::StaffPrincipal};
use std::{collections::HashMap, sync::Mutex};

/// The PostgreSQL channel that says "credentials changed: forget them".
pub const CHANNEL: &str = "customerhub_credentials";

/// How long an entry is trusted at most.
const TTL: chrono::Duration = chrono::Duration::seconds(10);

/// More live keys than this on one replica is unusual; past it the cache
/// starts over rather than grow.
const MOST_ENTRIES: usize = 10_000;

pub struct CredentialCache {
    inner: Mutex<Inner>,
}

struct Inner {
    /// Bumped by every `forget_all`: a lookup that began before a change
    /// must not store what it read after the change was forgotten.
    generation: u64,
    serving: bool,
    /// By the SHA-256 of the key.
    entries: HashMap<String, (StaffPrincipal, Timestamp)>,
}

/// Taken before reading the database; `remember` stores only if nothing
/// was forgotten since.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl CredentialCache {
    /// `serving`: whether it may answer from the start (SQLite, one process);
    /// on PostgreSQL it waits for `set_serving(true)` from the listener.
    pub fn new(serving: bool) -> Self {
        Self { inner: Mutex::new(Inner { generation: 0, serving, entries: HashMap::new() }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The data is a cache: a panic elsewhere leaves nothing to repair.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The caller this key resolved to less than `TTL` ago, or a ticket to
    /// remember what the database says now (`None`: the cache is off).
    pub fn get(&self, key_hash: &str, now: Timestamp) -> Result<StaffPrincipal, Option<Ticket>> {
        let inner = self.lock();
        if !inner.serving {
            return Err(None);
        }
        match inner.entries.get(key_hash) {
            Some((principal, read_at)) if now >= *read_at && now - *read_at < TTL => Ok(principal.clone()),
            _ => Err(Some(Ticket(inner.generation))),
        }
    }

    pub fn remember(&self, ticket: Ticket, key_hash: String, principal: StaffPrincipal, read_at: Timestamp) {
        let mut inner = self.lock();
        if !inner.serving || inner.generation != ticket.0 {
            return;
        }
        if inner.entries.len() >= MOST_ENTRIES {
            inner.entries.clear();
        }
        inner.entries.insert(key_hash, (principal, read_at));
    }

    /// Drops every entry; lookups in flight will not store theirs.
    pub fn forget_all(&self) {
        self.lock().forget();
    }

    /// Turns serving on or off (the PostgreSQL listener connected or lost);
    /// either way, what was held is forgotten: changes may have gone unheard.
    pub fn set_serving(&self, serving: bool) {
        let mut inner = self.lock();
        inner.forget();
        inner.serving = serving;
    }
}

impl Inner {
    fn forget(&mut self) {
        self.generation += 1;
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Id, Role};

    fn principal() -> StaffPrincipal {
        StaffPrincipal {
            workspace_id: Id::from_stored("w".into()),
            staff_user_id: Id::from_stored("u".into()),
            api_key_id: Id::from_stored("k".into()),
            role: Role::Admin,
            area_ids: vec![],
        }
    }

    fn at(secs: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn remembers_for_the_ttl_only() {
        let cache = CredentialCache::new(true);
        let ticket = cache.get("h", at(0)).unwrap_err().unwrap();
        cache.remember(ticket, "h".into(), principal(), at(0));
        assert!(cache.get("h", at(9)).is_ok());
        assert!(cache.get("h", at(10)).is_err());
        assert!(cache.get("other", at(1)).is_err());
    }

    #[test]
    fn a_lookup_that_straddles_a_change_is_not_stored() {
        let cache = CredentialCache::new(true);
        let ticket = cache.get("h", at(0)).unwrap_err().unwrap();
        cache.forget_all();
        cache.remember(ticket, "h".into(), principal(), at(0));
        assert!(cache.get("h", at(1)).is_err());
    }

    #[test]
    fn forget_all_drops_entries() {
        let cache = CredentialCache::new(true);
        let ticket = cache.get("h", at(0)).unwrap_err().unwrap();
        cache.remember(ticket, "h".into(), principal(), at(0));
        cache.forget_all();
        assert!(cache.get("h", at(1)).is_err());
    }

    #[test]
    fn off_until_serving() {
        let cache = CredentialCache::new(false);
        assert!(matches!(cache.get("h", at(0)), Err(None)));
        cache.set_serving(true);
        let ticket = cache.get("h", at(0)).unwrap_err().unwrap();
        cache.remember(ticket, "h".into(), principal(), at(0));
        assert!(cache.get("h", at(1)).is_ok());
        cache.set_serving(false);
        assert!(matches!(cache.get("h", at(1)), Err(None)));
    }
}
