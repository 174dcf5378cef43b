//! Invoicing time entries and the totals per customer and period (SPEC §5).
use super::{AppState, timesheet_input::parse_period};
use crate::{
    domain::{
        Id, StaffPrincipal,
        timesheet::{Invoicing, TimesheetTotals},
    },
    error::{AppError, AppResult, Violations},
    store::{self, TransactionTrait},
};
use std::collections::{HashMap, HashSet};

/// The most entries one call may mark: an invoice's worth, and a bounded `IN` list.
pub const MAX_ENTRIES_PER_CALL: usize = 1000;

/// Marks the named entries of one customer invoiced at one time. Entries
/// invoiced before keep their time and are reported; an id that is unknown,
/// out of scope or another customer's fails the whole call with nothing marked.
pub async fn mark_invoiced(
    state: &AppState,
    caller: &StaffPrincipal,
    customer_id: &str,
    entry_ids: &[String],
) -> AppResult<Invoicing> {
    let mut v = Violations::new();
    let customer_id = v.check("customer_id", Id::parse(customer_id));
    // Repeated ids count once; the answer keeps the order of first mention.
    let (mut ids, mut seen) = (vec![], HashSet::new());
    for (i, raw) in entry_ids.iter().enumerate() {
        if let Some(id) = v.check(format!("time_entry_ids[{i}]"), Id::parse(raw))
            && seen.insert(id.clone())
        {
            ids.push(id);
        }
    }
    if entry_ids.is_empty() {
        v.add("time_entry_ids", "name at least one time entry");
    } else if entry_ids.len() > MAX_ENTRIES_PER_CALL {
        v.add("time_entry_ids", format!("name at most {MAX_ENTRIES_PER_CALL} time entries per call"));
    }
    v.into_result()?;
    let customer_id = customer_id.expect("checked");
    let ws = &caller.workspace_id;
    let tx = state.db.begin().await?;
    store::customers::require_visible(&tx, &caller.scope(), &customer_id).await?;
    let mut found: HashMap<Id, _> = store::time_entries::of_customer_for_update(&tx, ws, &customer_id, &ids)
        .await?
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect();
    if let Some(missing) = ids.iter().find(|id| !found.contains_key(*id)) {
        // Dropping the transaction rolls it back: nothing is marked.
        return Err(AppError::not_found("time_entry", missing.as_str()));
    }
    let now = state.clock.now();
    let (mut marked, mut already_invoiced) = (vec![], vec![]);
    for id in &ids {
        let Some(mut entry) = found.remove(id) else { continue };
        if entry.is_invoiced() {
            already_invoiced.push(entry);
        } else {
            entry.invoiced_at = Some(now);
            entry.version += 1;
            entry.updated_at = now;
            marked.push(entry);
        }
    }
    let to_mark: Vec<Id> = marked.iter().map(|e| e.id.clone()).collect();
    store::time_entries::mark_invoiced(&tx, ws, &to_mark, now).await?;
    tx.commit().await?;
    Ok(Invoicing { invoiced_at: now, marked, already_invoiced })
}

pub async fn totals(
    state: &AppState,
    caller: &StaffPrincipal,
    customer_id: &str,
    from: &str,
    to: &str,
) -> AppResult<TimesheetTotals> {
    let mut v = Violations::new();
    let customer_id = v.check("customer_id", Id::parse(customer_id));
    let period = parse_period(from, to, &mut v);
    v.into_result()?;
    let customer_id = customer_id.expect("checked");
    store::customers::require_visible(&state.db, &caller.scope(), &customer_id).await?;
    store::time_entries::totals(&state.db, &caller.workspace_id, &customer_id, &period).await
}
