//! Unsubscribing from (and resubscribing to) automatic e-mail. Every change
//! is recorded with its time, source and what the person was shown.
use super::AppState;
use crate::{
    domain::{
        HubPrincipal, Id, StaffPrincipal,
        inbox::{SubscriptionEvent, SubscriptionSource},
        optional_text,
        page::{Page, PageRequest},
    },
    error::{AppError, AppResult},
    store::{self, TransactionTrait, customer_cache::Changed},
};

/// Sets the state; records an event only when it changes. Returns the event, if any.
async fn set(
    state: &AppState,
    workspace_id: &Id,
    contact_id: &Id,
    subscribed: bool,
    source: SubscriptionSource,
    shown: &str,
    staff: Option<&Id>,
) -> AppResult<Option<SubscriptionEvent>> {
    let tx = state.db.begin().await?;
    let contact = store::contacts::get_unscoped(&tx, workspace_id, contact_id).await?;
    if contact.subscribed == subscribed {
        return Ok(None);
    }
    let event = store::subscriptions::record(
        &tx,
        workspace_id,
        contact_id,
        subscribed,
        source,
        shown,
        staff,
        state.clock.now(),
    )
    .await?;
    store::customer_cache::commit_change(state, tx, Changed::Customer(&contact.customer_id)).await?;
    Ok(Some(event))
}

/// The unsubscribe link (HUB page or one-click POST): no login needed.
pub async fn unsubscribe_with_token(
    state: &AppState,
    token: &str,
    source: SubscriptionSource,
    shown: &str,
) -> AppResult<String> {
    let token = token.trim();
    if token.is_empty() {
        return Err(AppError::invalid("token", "is required"));
    }
    let (workspace_id, contact_id, email) = store::subscriptions::find_by_token(&state.db, token)
        .await?
        .ok_or_else(|| AppError::not_found("unsubscribe link", "(token)"))?;
    let shown = optional_text(shown, 2000).map_err(|e| AppError::invalid("shown_text", e))?;
    set(state, &workspace_id, &contact_id, false, source, &shown, None).await?;
    Ok(email)
}

/// The HUB profile's switch.
pub async fn set_by_profile(state: &AppState, caller: &HubPrincipal, subscribed: bool, shown: &str) -> AppResult<()> {
    let shown = optional_text(shown, 2000).map_err(|e| AppError::invalid("shown_text", e))?;
    set(state, &caller.workspace_id, &caller.contact_id, subscribed, SubscriptionSource::Profile, &shown, None).await?;
    Ok(())
}

/// Staff acting on a contact's request.
pub async fn set_by_staff(
    state: &AppState,
    caller: &StaffPrincipal,
    contact_id: &str,
    subscribed: bool,
    note: &str,
) -> AppResult<SubscriptionEvent> {
    let id = Id::parse(contact_id).map_err(|e| AppError::invalid("contact_id", e))?;
    let note = optional_text(note, 2000).map_err(|e| AppError::invalid("note", e))?;
    store::contacts::get(&state.db, &caller.scope(), &id).await?;
    let changed = set(
        state,
        &caller.workspace_id,
        &id,
        subscribed,
        SubscriptionSource::Staff,
        &note,
        Some(&caller.staff_user_id),
    )
    .await?;
    match changed {
        Some(e) => Ok(e),
        None => Err(AppError::precondition(
            "UNCHANGED",
            format!("contacts/{id}"),
            if subscribed { "the contact is subscribed already" } else { "the contact is unsubscribed already" },
        )),
    }
}

pub async fn list_events(
    state: &AppState,
    caller: &StaffPrincipal,
    contact_id: &str,
    page: PageRequest<String>,
) -> AppResult<Page<SubscriptionEvent>> {
    let id = Id::parse(contact_id).map_err(|e| AppError::invalid("contact_id", e))?;
    store::contacts::get(&state.reads, &caller.scope(), &id).await?;
    store::subscriptions::list(&state.reads, &id, page).await
}
