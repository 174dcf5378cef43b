//! SMS accounting: the provider's delivery reports flip the delivery history
//! to delivered or failed, and the usage report bills only delivered ones.
use super::AppState;
use crate::{
    domain::{
        StaffPrincipal,
        format::{local_day_start, parse_date},
        optional_text,
    },
    error::{AppError, AppResult, Violations},
    store::{self, TransactionTrait},
};

/// A provider's report on one message.
pub struct DeliveryReport {
    pub provider_message_id: String,
    /// `None` when the request named no status.
    pub delivered: Option<bool>,
    pub error: String,
}

/// Records a report; returns the delivery (notification) it concerned.
pub async fn report_delivery(
    state: &AppState,
    caller: &StaffPrincipal,
    r: DeliveryReport,
) -> AppResult<crate::domain::Id> {
    let mut v = Violations::new();
    let provider_id = r.provider_message_id.trim();
    if provider_id.is_empty() {
        v.add("provider_message_id", "is required");
    } else if provider_id.len() > 255 {
        v.add("provider_message_id", "is longer than 255 characters");
    }
    if r.delivered.is_none() {
        v.add("status", "is required (DELIVERED or FAILED)");
    }
    let error = v.check("error", optional_text(&r.error, 1000));
    v.into_result()?;
    let (Some(delivered), Some(error)) = (r.delivered, error) else { unreachable!("violations are empty") };
    let not_found = || AppError::not_found("sms", provider_id);
    let tx = state.db.begin().await?;
    let (id, customer) =
        store::sms::find_by_provider_id(&tx, &caller.workspace_id, provider_id).await?.ok_or_else(not_found)?;
    // A supervisor hears only of its own customers' messages.
    if let Some(c) = &customer
        && let Err(e) = store::customers::get(&tx, &caller.scope(), c).await
    {
        return Err(if matches!(e, AppError::NotFound { .. }) { not_found() } else { e });
    }
    let error = (!error.is_empty()).then_some(error.as_str());
    store::sms::record_report(&tx, &id, delivered, error, state.clock.now()).await?;
    tx.commit().await?;
    Ok(id)
}

/// Counts and cost of the SMS handed to the provider in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsUsage {
    pub usage: store::sms::Usage,
    pub price_minor: i64,
    pub cost_minor: i64,
    pub currency: String,
}

/// Usage between two local dates of the workspace, both inclusive (admins only).
pub async fn usage(state: &AppState, caller: &StaffPrincipal, from: &str, to: &str) -> AppResult<SmsUsage> {
    caller.require_admin()?;
    let mut v = Violations::new();
    let from = v.check("from_date", parse_date(from));
    let to = v.check("to_date", parse_date(to));
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        v.add("to_date", "must not be before from_date");
    }
    v.into_result()?;
    let (Some(from), Some(to)) = (from, to) else { unreachable!("violations are empty") };
    let ws = store::workspace_config::workspace(state, &state.reads, &caller.workspace_id).await?;
    let tz = ws.time_zone.0;
    let until = to.succ_opt().ok_or_else(|| AppError::invalid("to_date", "is too far in the future"))?;
    let usage = store::sms::usage(&state.db, &ws.id, local_day_start(from, tz), local_day_start(until, tz)).await?;
    Ok(SmsUsage {
        usage,
        price_minor: ws.sms_price_minor,
        cost_minor: usage.delivered.saturating_mul(ws.sms_price_minor),
        currency: ws.sms_currency.clone(),
    })
}
