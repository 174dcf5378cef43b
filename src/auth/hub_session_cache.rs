//! HUB sessions as resolved a moment ago, so a HUB call need not start with
//! a query (BENCHMARKS.md, fix 35). A portal page makes several calls with
//! one session, and opens its live streams with it.
//!
//! What a session resolves to depends on three rows: the session's own, its
//! contact's and its customer's (HUB access on both). Every change to a
//! customer or its contacts already commits through
//! `store::customer_cache::commit_change`, naming the customer, and so does
//! a logout; so this cache lives inside `CustomerCache`, which forgets a
//! customer's sessions whenever it forgets the customer, on every replica.
//! A session's expiry is kept with it and checked on every hit.
use crate::{
    cache::{SharedCache, Ticket},
    clock::Timestamp,
    domain::{HubPrincipal, Id},
};

/// How long an entry is trusted at most (it bounds changes made outside
/// the service, by hand in SQL).
const TTL: chrono::Duration = chrono::Duration::seconds(10);

/// More sessions than this in use on one replica within ten seconds is
/// unusual; past it the cache starts over rather than grow (an entry is
/// about 300 bytes).
const MOST_ENTRIES: usize = 10_000;

#[derive(Clone)]
struct Session {
    principal: HubPrincipal,
    expires_at: Timestamp,
}

/// Keyed by the SHA-256 of the session token.
pub struct HubSessionCache(SharedCache<String, Session>);

impl HubSessionCache {
    /// `serving`: as `SharedCache::new`.
    pub fn new(serving: bool) -> Self {
        Self(SharedCache::new(serving, TTL, MOST_ENTRIES))
    }

    /// The session read less than the TTL ago, if it has not expired since;
    /// else a ticket to remember what the database says now (`None`: do not).
    pub fn get(&self, token_hash: &String, now: Timestamp) -> Result<HubPrincipal, Option<Ticket>> {
        match self.0.get(token_hash, now) {
            Ok(s) if now < s.expires_at => Ok(s.principal),
            // Expired: the database will say so, and that is not kept.
            Ok(_) => Err(None),
            Err(ticket) => Err(ticket),
        }
    }

    /// Keeps a session that resolved to `principal` (only sessions that
    /// resolved are kept, so made-up tokens cannot fill the cache).
    pub fn remember(
        &self,
        ticket: Ticket,
        token_hash: String,
        principal: HubPrincipal,
        expires_at: Timestamp,
        now: Timestamp,
    ) {
        self.0.remember(ticket, token_hash, Session { principal, expires_at }, now);
    }

    /// Forgets the sessions of this customer's contacts.
    pub fn forget_customer(&self, customer_id: &Id) {
        self.0.forget_where(|s| s.principal.customer_id == *customer_id);
    }

    pub fn forget_all(&self) {
        self.0.forget_all();
    }

    pub fn set_serving(&self, serving: bool) {
        self.0.set_serving(serving);
    }
}
