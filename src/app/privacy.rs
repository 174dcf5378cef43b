//! GDPR access (export) and erasure, for admins; and the retention purge.
use super::AppState;
use crate::{
    domain::{Id, StaffPrincipal},
    error::{AppError, AppResult},
    store::{self, TransactionTrait, customer_cache::Changed},
};

async fn scoped_contact(state: &AppState, caller: &StaffPrincipal, contact_id: &str) -> AppResult<Id> {
    caller.require_admin()?;
    let id = Id::parse(contact_id).map_err(|e| AppError::invalid("contact_id", e))?;
    store::contacts::get(&state.db, &caller.scope(), &id).await?;
    Ok(id)
}

pub async fn export(state: &AppState, caller: &StaffPrincipal, contact_id: &str) -> AppResult<String> {
    let id = scoped_contact(state, caller, contact_id).await?;
    let doc = store::privacy::export(&state.reads, &caller.workspace_id, &id).await?;
    Ok(serde_json::to_string_pretty(&doc).map_err(anyhow::Error::from)?)
}

pub async fn erase(state: &AppState, caller: &StaffPrincipal, contact_id: &str) -> AppResult<crate::clock::Timestamp> {
    let id = scoped_contact(state, caller, contact_id).await?;
    let now = state.clock.now();
    let tx = state.db.begin().await?;
    let customer = store::privacy::erase(&tx, &caller.workspace_id, &id, &caller.staff_user_id, now).await?;
    store::customer_cache::commit_change(state, tx, Changed::Customer(&customer)).await?;
    tracing::info!(contact = %id, by = %caller.staff_user_id, "personal data erased");
    Ok(now)
}

/// Purges what is older than the retention period; 0 days keeps everything.
pub async fn purge(state: &AppState) -> AppResult<()> {
    let days = state.settings.retention_days;
    if days == 0 {
        return Ok(());
    }
    let cutoff = state.clock.now() - chrono::Duration::days(days as i64);
    let (n, m) = store::privacy::purge_older_than(&state.db, cutoff).await?;
    if n + m > 0 {
        tracing::info!(notifications = n, hub_messages = m, "retention purge");
    }
    Ok(())
}
