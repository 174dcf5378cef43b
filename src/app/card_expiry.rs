//! The daily part of punch cards: "expiring" X days before the expiry date
//! and "expired" on it, each on the workspace's local date. A card's flag is
//! set by a conditional update in the same transaction as the notification,
//! so each fires once however many replicas run this step, and a replica
//! that was down fires what it missed once, not once per missed day.
use super::AppState;
use crate::{
    domain::{
        Locale,
        caller::CustomerScope,
        format::{self, local_today},
        notification::NotificationKind,
        punch_card::PunchCard,
        workspace::Workspace,
    },
    error::{AppError, AppResult},
    notify::{self, CustomerEvent},
    store::{self, TransactionTrait},
};
use chrono::{Duration, NaiveDate};
use std::collections::BTreeMap;

/// Runs one pass over every workspace; returns how many notifications fired.
pub async fn try_run(state: &AppState) -> AppResult<usize> {
    let mut fired = 0;
    for ws in store::workspaces::all(&state.db).await? {
        fired += run_workspace(state, &ws).await?;
    }
    Ok(fired)
}

async fn run_workspace(state: &AppState, ws: &Workspace) -> AppResult<usize> {
    let today = local_today(state.clock.now(), ws.time_zone.0);
    let horizon = today + Duration::days(ws.expiring_days_before as i64);
    let scope = CustomerScope { workspace_id: ws.id.clone(), areas: None };
    let mut fired = 0;
    for candidate in store::punch_cards::expiry_candidates(&state.db, &ws.id, horizon).await? {
        if due_notice(&candidate, today, horizon).is_none() {
            continue;
        }
        // Decided again on the card as locked: staff may have moved its
        // expiry date, or used it up, since the candidates were read.
        let tx = state.db.begin().await?;
        let card = match store::punch_cards::get(&tx, &scope, &candidate.id, true).await {
            Ok(card) => card,
            Err(AppError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let (Some(kind), Some(expiry)) = (due_notice(&card, today, horizon), card.expiry_date) else { continue };
        let expired = kind == NotificationKind::CardExpired;
        if !store::punch_cards::claim_expiry_flag(&tx, &card.id, expired).await? {
            continue; // another replica did it
        }
        if expired {
            // Too late to say "expiring"; never say it after "expired".
            store::punch_cards::claim_expiry_flag(&tx, &card.id, false).await?;
        }
        let customer = store::customers::get(&tx, &scope, &card.customer_id).await?;
        let locale = customer.locale.unwrap_or(ws.default_locale);
        let vars = vars(&card, locale, (expiry - today).num_days());
        let d = notify::dispatch(
            state,
            &tx,
            ws,
            CustomerEvent {
                kind,
                customer_id: card.customer_id.clone(),
                per_item: None,
                vars,
                link_path: format!("/punch-cards/{}", card.id),
            },
        )
        .await?;
        tx.commit().await?;
        d.announce(state);
        fired += 1;
    }
    Ok(fired)
}

/// The notice a card is due on `today`, if any: "expired" from its expiry
/// date on, "expiring" from `horizon` days before; each once, and only while
/// punches remain.
fn due_notice(card: &PunchCard, today: NaiveDate, horizon: NaiveDate) -> Option<NotificationKind> {
    let expiry = card.expiry_date.filter(|e| *e <= horizon)?;
    if card.used >= card.total {
        return None;
    }
    match today >= expiry {
        true if !card.expired_fired => Some(NotificationKind::CardExpired),
        false if !card.expiring_fired => Some(NotificationKind::CardExpiring),
        _ => None,
    }
}

fn vars(card: &PunchCard, locale: Locale, days_left: i64) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    v.insert("card_name".into(), card.name.clone());
    v.insert("punches_left".into(), card.unit.format(card.remaining(), locale));
    v.insert("expiry_date".into(), card.expiry_date.map(|d| format::date(d, locale)).unwrap_or_default());
    v.insert("days_left".into(), days_left.max(0).to_string());
    v
}
