//! Staff API keys as resolved a moment ago, so a staff call need not start
//! with a query (BENCHMARKS.md, fix 11): a `cache::SharedCache` by the
//! SHA-256 of the key.
//!
//! Whatever can change what a key resolves to (revoking it, changing its
//! user's role or areas, deleting the user or an area) commits through
//! `store::credentials::commit_change`, which NOTIFYs `CHANNEL` on
//! PostgreSQL and forgets here after the commit (`cache` says how). Only
//! keys that resolved to a staff caller are kept, so unknown tokens cannot
//! fill it. Staff streams check their key here at every heartbeat. HUB
//! sessions have their own cache (`auth::hub_session_cache`).
use crate::{cache::SharedCache, domain::StaffPrincipal};

/// The PostgreSQL channel that says "credentials changed: forget them".
pub const CHANNEL: &str = "customerhub_credentials";

/// How long an entry is trusted at most.
const TTL: chrono::Duration = chrono::Duration::seconds(10);

/// More live keys than this on one replica is unusual; past it the cache
/// starts over rather than grow.
const MOST_ENTRIES: usize = 10_000;

pub type CredentialCache = SharedCache<String, StaffPrincipal>;

/// `serving`: whether it may answer from the start (SQLite, one process);
/// on PostgreSQL it waits for `set_serving(true)` from the listener.
pub fn new(serving: bool) -> CredentialCache {
    SharedCache::new(serving, TTL, MOST_ENTRIES)
}
