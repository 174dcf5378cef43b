//! Time entries (SPEC §5): register, read, correct and delete until invoiced.
//! Registering billable time notifies the customer in the same transaction.
use super::{
    AppState, Begin, begin_create,
    timesheet_input::{Change, TimeEntryFields, parse_changes, parse_new, parse_period},
};
use crate::{
    domain::{
        HubPrincipal, Id, Module, StaffPrincipal,
        caller::CustomerScope,
        customer::Customer,
        format,
        notification::NotificationKind,
        page::{Page, PageRequest},
        timesheet::{TimeEntry, TimeEntryFilter},
        workspace::Workspace,
    },
    error::{AppError, AppResult, Violations},
    notify::{self, CustomerEvent},
    store::{self, TransactionTrait, time_entries::EntryCursor},
};
use std::collections::BTreeMap;

pub struct CreateTimeEntry {
    pub customer_id: String,
    pub fields: TimeEntryFields,
    pub request: crate::domain::RequestKeyInput,
}

pub async fn create(state: &AppState, caller: &StaffPrincipal, req: CreateTimeEntry) -> AppResult<TimeEntry> {
    let mut v = Violations::new();
    let customer_id = v.check("customer_id", Id::parse(&req.customer_id));
    let values = parse_new(&req.fields, "time_entry", &mut v);
    let request_id = v.check("request_id", crate::domain::RequestKey::parse(&req.request)).flatten();
    v.into_result()?;
    let (customer_id, values) = (customer_id.expect("checked"), values.expect("checked"));
    let ws = &caller.workspace_id;
    let scope = caller.scope();
    let customer = store::customers::get(&state.db, &scope, &customer_id).await?;
    let workspace = store::workspace_config::workspace(state, &state.reads, ws).await?;
    let id = Id::generate();
    let tx = match begin_create(state, ws, "CreateTimeEntry", request_id.as_ref(), &id).await? {
        Begin::Replay(existing) => return store::time_entries::get(&state.db, &scope, &existing).await,
        Begin::Fresh(tx) => tx,
    };
    let now = state.clock.now();
    let entry = TimeEntry {
        id,
        customer_id,
        title: values.title,
        description: values.description,
        performed_on: values.performed_on.unwrap_or_else(|| format::local_today(now, workspace.time_zone.0)),
        billed_minutes: values.billed_minutes,
        actual_minutes: values.actual_minutes,
        billable: values.billable,
        registered_by: caller.staff_user_id.clone(),
        notify: values.notify,
        invoiced_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store::time_entries::insert(&tx, ws, &entry).await?;
    // SPEC §3: only billable time is announced, at registration.
    let dispatched = if entry.billable {
        Some(notify::dispatch(state, &tx, &workspace, registered_event(&workspace, &customer, &entry)).await?)
    } else {
        None
    };
    tx.commit().await?;
    if let Some(d) = dispatched {
        d.announce(state);
    }
    Ok(entry)
}

/// The "time registered" event, its placeholders in the customer's language.
fn registered_event(workspace: &Workspace, customer: &Customer, entry: &TimeEntry) -> CustomerEvent {
    let locale = customer.locale.unwrap_or(workspace.default_locale);
    let vars = BTreeMap::from([
        ("entry_title".to_string(), entry.title.clone()),
        ("entry_date".to_string(), format::date(entry.performed_on, locale)),
        ("entry_duration".to_string(), format::duration(entry.billed_minutes, locale)),
        ("entry_description".to_string(), entry.description.clone()),
    ]);
    CustomerEvent {
        kind: NotificationKind::TimeRegistered,
        customer_id: entry.customer_id.clone(),
        per_item: entry.notify,
        vars,
        link_path: format!("/timesheet/{}", entry.id),
    }
}

pub async fn get(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<TimeEntry> {
    let id = Id::parse(id).map_err(|e| AppError::invalid("time_entry_id", e))?;
    store::time_entries::get(&state.reads, &caller.scope(), &id).await
}

pub struct ListTimeEntries {
    pub customer_id: String,
    pub from: String,
    pub to: String,
    pub billable: Option<bool>,
    pub invoiced: Option<bool>,
}

pub async fn list(
    state: &AppState,
    caller: &StaffPrincipal,
    req: ListTimeEntries,
    page: PageRequest<EntryCursor>,
) -> AppResult<Page<TimeEntry>> {
    let mut v = Violations::new();
    let customer_id = v.check("customer_id", Id::parse(&req.customer_id));
    let period = parse_period(&req.from, &req.to, &mut v);
    v.into_result()?;
    let customer_id = customer_id.expect("checked");
    store::customers::require_visible(&state.reads, &caller.scope(), &customer_id).await?;
    let filter = TimeEntryFilter { period, billable: req.billable, invoiced: req.invoiced };
    store::time_entries::list(&state.reads, &caller.workspace_id, &customer_id, &filter, page).await
}

/// The contact's own customer's entries; the customer needs the Timesheets module.
pub async fn list_for_hub(
    state: &AppState,
    caller: &HubPrincipal,
    from: &str,
    to: &str,
    page: PageRequest<EntryCursor>,
) -> AppResult<Page<TimeEntry>> {
    let mut v = Violations::new();
    let period = parse_period(from, to, &mut v);
    v.into_result()?;
    let scope = CustomerScope { workspace_id: caller.workspace_id.clone(), areas: None };
    let customer = store::customers::get(&state.reads, &scope, &caller.customer_id).await?;
    if !customer.modules.contains(&Module::Timesheets) {
        return Err(AppError::PermissionDenied("the timesheet is not enabled for this customer".into()));
    }
    let filter = TimeEntryFilter { period, ..Default::default() };
    store::time_entries::list(&state.reads, &caller.workspace_id, &customer.id, &filter, page).await
}

fn locked(entry: &TimeEntry) -> AppError {
    AppError::precondition(
        "INVOICED",
        format!("time_entries/{}", entry.id),
        "the time entry is invoiced and can no longer be changed or deleted",
    )
}

fn check_etag(entry: &TimeEntry, etag: Option<i64>) -> AppResult<()> {
    match etag {
        Some(etag) if etag != entry.version => {
            Err(AppError::Aborted("etag does not match: the time entry was changed meanwhile".into()))
        }
        _ => Ok(()),
    }
}

pub struct UpdateTimeEntry {
    pub id: String,
    pub fields: TimeEntryFields,
    pub mask: Vec<String>,
    pub etag: Option<i64>,
}

pub async fn update(state: &AppState, caller: &StaffPrincipal, req: UpdateTimeEntry) -> AppResult<TimeEntry> {
    let mut v = Violations::new();
    let id = v.check("time_entry.id", Id::parse(&req.id));
    let changes = parse_changes(&req.fields, &req.mask, "time_entry", &mut v);
    v.into_result()?;
    let id = id.expect("checked");
    let tx = state.db.begin().await?;
    let mut entry = store::time_entries::get(&tx, &caller.scope(), &id).await?;
    if entry.is_invoiced() {
        return Err(locked(&entry));
    }
    check_etag(&entry, req.etag)?;
    for change in changes {
        match change {
            Change::Title(t) => entry.title = t,
            Change::Description(d) => entry.description = d,
            Change::PerformedOn(d) => entry.performed_on = d,
            Change::BilledMinutes(m) => entry.billed_minutes = m,
            Change::ActualMinutes(m) => entry.actual_minutes = m,
            Change::Billable(b) => entry.billable = b,
        }
    }
    let updated = store::time_entries::update(&tx, &caller.workspace_id, &entry, state.clock.now()).await?;
    tx.commit().await?;
    Ok(updated)
}

pub async fn delete(state: &AppState, caller: &StaffPrincipal, id: &str, etag: Option<i64>) -> AppResult<()> {
    let id = Id::parse(id).map_err(|e| AppError::invalid("time_entry_id", e))?;
    let tx = state.db.begin().await?;
    let entry = store::time_entries::get(&tx, &caller.scope(), &id).await?;
    if entry.is_invoiced() {
        return Err(locked(&entry));
    }
    check_etag(&entry, etag)?;
    store::time_entries::delete(&tx, &caller.workspace_id, &id, entry.version).await?;
    tx.commit().await?;
    Ok(())
}
