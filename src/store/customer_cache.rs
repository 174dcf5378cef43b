//! Customers with their contacts as read a moment ago, for GetCustomer:
//! the read that backends and support make most, where two statements on
//! SQLite cost more in hand-offs to its worker thread than in SQL
//! (BENCHMARKS.md, fix 19).
//!
//! Entries are keyed by customer and hold the whole record, whatever the
//! caller's areas; `get` applies the caller's scope to what it finds, as
//! `customers::get_with_contacts` does in SQL.
//!
//! It also holds the HUB sessions (`auth::hub_session_cache`), whose
//! validity hangs on their customer and contact.
//!
//! Every transaction that changes a customer's row, any of its contacts or
//! their HUB sessions (a logout) commits through `commit_change`, naming the
//! customer it changed: every replica forgets that one and its sessions
//! (`cache::SharedCache::forget`; the NOTIFY's payload names it). A change
//! to many at once (an area deleted, which moves its customers out of it)
//! forgets all. Creating a customer or a session needs no announcement:
//! nothing can hold what did not exist.
use crate::{
    app::AppState,
    auth::hub_session_cache::HubSessionCache,
    cache::SharedCache,
    domain::{Id, caller::CustomerScope, customer::CustomerWithContacts},
    error::{AppError, AppResult},
};
use std::sync::Arc;

/// The PostgreSQL channel that says "this customer changed: forget it".
/// The payload is its id; empty means all.
pub const CHANNEL: &str = "customerhub_customers";

/// How long an entry is trusted at most.
const TTL: chrono::Duration = chrono::Duration::seconds(10);

/// Past this many customers the cache starts over rather than grow (a
/// customer with two contacts is about 1.5 KiB).
const MOST_ENTRIES: usize = 4_096;

/// The customers, and what their contacts' HUB sessions resolve to: both
/// are forgotten together, by customer, so nothing that changes a customer
/// can forget one and not the other.
pub struct CustomerCache {
    /// Entries are `(workspace, record)`: ids are unique across workspaces,
    /// and the workspace is checked on every hit.
    records: SharedCache<Id, (Id, Arc<CustomerWithContacts>)>,
    hub_sessions: HubSessionCache,
}

impl CustomerCache {
    /// `serving`: as `SharedCache::new`.
    pub fn new(serving: bool) -> Self {
        Self { records: SharedCache::new(serving, TTL, MOST_ENTRIES), hub_sessions: HubSessionCache::new(serving) }
    }

    pub fn hub_sessions(&self) -> &HubSessionCache {
        &self.hub_sessions
    }

    pub fn set_serving(&self, serving: bool) {
        self.records.set_serving(serving);
        self.hub_sessions.set_serving(serving);
    }

    /// This replica's half of `commit_change`, after the commit.
    pub fn forget(&self, changed: &Changed<'_>) {
        match changed {
            Changed::Customer(id) => {
                self.records.forget([*id]);
                self.hub_sessions.forget_customer(id);
            }
            Changed::All => {
                self.records.forget_all();
                self.hub_sessions.forget_all();
            }
        }
    }

    /// What the listener heard: a payload of `CHANNEL` (see `announce`).
    pub fn forget_announced(&self, payload: &str) {
        let id = Id::from_stored(payload.to_string());
        self.forget(&if payload.is_empty() { Changed::All } else { Changed::Customer(&id) });
    }
}

/// The customer with its contacts, if `scope` may see it (else `NOT_FOUND`).
pub async fn get(state: &AppState, scope: &CustomerScope, id: &Id) -> AppResult<Arc<CustomerWithContacts>> {
    let read = || async {
        let whole_workspace = CustomerScope { workspace_id: scope.workspace_id.clone(), areas: None };
        let (customer, contacts) = super::customers::get_with_contacts(&state.reads, &whole_workspace, id).await?;
        Ok::<_, AppError>((scope.workspace_id.clone(), Arc::new(CustomerWithContacts { customer, contacts })))
    };
    let (workspace_id, found) = state.customers.records.get_or_read(id.clone(), state.clock.now(), read).await?;
    if workspace_id != scope.workspace_id || !scope.allows_area(found.customer.area_id.as_ref()) {
        return Err(AppError::not_found("customer", id.as_str()));
    }
    Ok(found)
}

/// Which customers a transaction changed.
pub enum Changed<'a> {
    Customer(&'a Id),
    /// Too many to name (an area deleted moves all of its customers).
    All,
}

/// Commits a transaction that changed customers or their contacts; every
/// replica forgets them. The one way to commit such a change.
pub async fn commit_change(state: &AppState, tx: super::Tx, changed: Changed<'_>) -> AppResult<()> {
    announce(&tx, &changed).await?;
    tx.commit().await?;
    state.customers.forget(&changed);
    Ok(())
}

/// The NOTIFY half of `commit_change`, for a transaction that another
/// cache's `commit_change` commits; call `CustomerCache::forget` after it.
pub async fn announce(tx: &super::Tx, changed: &Changed<'_>) -> AppResult<()> {
    let payload = match changed {
        Changed::Customer(id) => id.as_str(),
        Changed::All => "",
    };
    super::notify_on_commit(tx, CHANNEL, payload).await
}
