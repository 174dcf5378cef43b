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
    error::AppResult,
    notify::{self, CustomerEvent},
    store::{self, TransactionTrait},
};
use chrono::Duration;
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
    let mut fired = 0;
    for card in store::punch_cards::expiry_candidates(&state.db, &ws.id, horizon).await? {
        let Some(expiry) = card.expiry_date else { continue };
        let kind = if today >= expiry {
            if card.expired_fired {
                continue;
            }
            NotificationKind::CardExpired
        } else {
            if card.expiring_fired {
                continue;
            }
            NotificationKind::CardExpiring
        };
        let tx = state.db.begin().await?;
        let expired = kind == NotificationKind::CardExpired;
        if !store::punch_cards::claim_expiry_flag(&tx, &card.id, expired).await? {
            continue; // another replica did it
        }
        if expired {
            // Too late to say "expiring"; never say it after "expired".
            store::punch_cards::claim_expiry_flag(&tx, &card.id, false).await?;
        }
        let scope = CustomerScope { workspace_id: ws.id.clone(), areas: None };
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

fn vars(card: &PunchCard, locale: Locale, days_left: i64) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    v.insert("card_name".into(), card.name.clone());
    v.insert("punches_left".into(), card.unit.format(card.remaining(), locale));
    v.insert("expiry_date".into(), card.expiry_date.map(|d| format::date(d, locale)).unwrap_or_default());
    v.insert("days_left".into(), days_left.max(0).to_string());
    v
}
