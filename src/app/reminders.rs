//! Staff reminders: types, reminders on customers, and previews.
use super::{AppState, Begin, begin_create, field_mask::mask_paths};
use crate::{
    domain::{
        DisplayName, Id, StaffPrincipal,
        format::parse_date,
        optional_text,
        page::{Page, PageRequest},
        recurrence::{self, Frequency, MonthlyBy, Repetition},
        reminder::{Receivers, Reminder, ReminderDelivery, ReminderType},
        workspace::Workspace,
    },
    error::{AppError, AppResult, Violations},
    store::{self, TransactionTrait, Tx},
};
use chrono::{NaiveDate, TimeZone, Utc, Weekday};

pub async fn create_type(state: &AppState, caller: &StaffPrincipal, name: &str) -> AppResult<ReminderType> {
    let name = DisplayName::parse(name).map_err(|e| AppError::invalid("name", e))?;
    store::reminders::insert_type(&state.db, &caller.workspace_id, name.as_str(), state.clock.now()).await
}

pub async fn list_types(
    state: &AppState,
    caller: &StaffPrincipal,
    page: PageRequest<String>,
) -> AppResult<Page<ReminderType>> {
    store::reminders::list_types(&state.reads, &caller.workspace_id, page).await
}

/// Supervisors create types; only admins delete them.
pub async fn delete_type(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<()> {
    caller.require_admin()?;
    let id = Id::parse(id).map_err(|e| AppError::invalid("reminder_type_id", e))?;
    store::reminders::delete_type(&state.db, &caller.workspace_id, &id).await
}

/// A repetition as a caller sends it.
#[derive(Debug, Clone, Default)]
pub struct RepetitionFields {
    pub frequency: Option<Frequency>,
    pub interval: i32,
    pub weekdays: Vec<Weekday>,
    /// `None`: by day of month; `Some((nth, weekday))`: by weekday (weekday may be missing).
    pub by_weekday: Option<(i32, Option<Weekday>)>,
    pub until: String,
}

/// Reminder dates stay within these years: every firing walks the rule
/// from its first date, so one typed as 0026 would cost 730,000 steps a
/// firing, and a preview from 9999 millions.
const REMINDER_YEARS: std::ops::RangeInclusive<i32> = 1970..=2199;

/// A date a reminder's schedule may use (`parse_date` within `REMINDER_YEARS`).
fn reminder_date(s: &str) -> Result<NaiveDate, &'static str> {
    let d = parse_date(s)?;
    if REMINDER_YEARS.contains(&chrono::Datelike::year(&d)) {
        Ok(d)
    } else {
        Err("must be between 1970-01-01 and 2199-12-31")
    }
}

/// As `reminder_date`; empty means none.
fn optional_reminder_date(s: &str) -> Result<Option<NaiveDate>, &'static str> {
    if s.trim().is_empty() { Ok(None) } else { reminder_date(s).map(Some) }
}

/// Parses a repetition, naming bad fields under `prefix` (e.g. `reminder.repetition`).
pub fn parse_repetition(
    f: &RepetitionFields,
    first: Option<NaiveDate>,
    prefix: &str,
    v: &mut Violations,
) -> Option<Repetition> {
    let field = |n: &str| format!("{prefix}.{n}");
    let frequency = f.frequency.unwrap_or(Frequency::Never);
    if !(0..=1000).contains(&f.interval) {
        v.add(field("interval"), "must be between 1 and 1000 (0 means 1)");
    }
    if frequency != Frequency::Weekly && !f.weekdays.is_empty() {
        v.add(field("weekdays"), "are only for weekly repetition");
    }
    let monthly_by = match f.by_weekday {
        None => MonthlyBy::DayOfMonth,
        Some((nth, weekday)) => {
            if frequency != Frequency::Monthly {
                v.add(field("monthly_by"), "is only for monthly repetition");
            }
            if !matches!(nth, 1..=4 | -1) {
                v.add(field("week_of_month"), "must be 1, 2, 3, 4 or -1 (the last)");
            }
            match weekday {
                Some(w) => MonthlyBy::Weekday { nth: nth as i8, weekday: w },
                None => {
                    v.add(field("weekday"), "is required for monthly by weekday");
                    MonthlyBy::DayOfMonth
                }
            }
        }
    };
    let until = v.check(field("until"), optional_reminder_date(&f.until)).flatten();
    if let (Some(u), Some(first)) = (until, first)
        && u < first
    {
        v.add(field("until"), "must not be before the first date");
    }
    Some(Repetition {
        frequency,
        interval: f.interval.clamp(1, 1000) as u16,
        weekdays: f.weekdays.clone(),
        monthly_by,
        until,
    })
}

/// A reminder as a caller sends it.
#[derive(Debug, Clone, Default)]
pub struct ReminderFields {
    pub customer_id: String,
    pub name: String,
    pub first_date: String,
    pub reminder_type_id: String,
    pub text: String,
    pub repetition: RepetitionFields,
    pub delivery: Option<ReminderDelivery>,
    pub receivers: Option<Receivers>,
}

/// The next occurrence strictly after `after`.
pub fn next_after(
    state: &AppState,
    ws: &Workspace,
    r: &Reminder,
    after: chrono::DateTime<Utc>,
) -> AppResult<Option<chrono::DateTime<Utc>>> {
    let next = recurrence::occurrences_after(
        r.first_date,
        &r.repetition,
        ws.time_zone.0,
        state.settings.reminder_local_hour,
        after,
        1,
    )?;
    Ok(next.into_iter().next())
}

/// Where a new or edited reminder starts: the first occurrence from now on.
/// An occurrence earlier today, or a first date in the past, does not fire.
/// An edited reminder that was due and not yet fired (the job runs once a
/// minute) keeps that occurrence if its new rule still has it, rather than
/// lose it to the edit.
fn first_due(
    state: &AppState,
    ws: &Workspace,
    r: &Reminder,
    due_unfired: Option<chrono::DateTime<Utc>>,
) -> AppResult<Option<chrono::DateTime<Utc>>> {
    let now = state.clock.now();
    let after = due_unfired.filter(|d| *d <= now).unwrap_or(now);
    next_after(state, ws, r, after - chrono::Duration::seconds(1))
}

fn start_of_local_day(day: NaiveDate, tz: chrono_tz::Tz) -> Option<chrono::DateTime<Utc>> {
    tz.from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight")).earliest().map(|t| t.with_timezone(&Utc))
}

/// The workspace's time zone changed from `old` to its current one: each
/// scheduled reminder moves to the same occurrence, by local date, in the
/// new zone (its local hour there), in the caller's transaction. Without
/// this, the next firing would come at the old zone's hour and the one
/// after at the new zone's: twice on one day.
pub(crate) async fn follow_time_zone(state: &AppState, tx: &Tx, ws: &Workspace, old: chrono_tz::Tz) -> AppResult<()> {
    let mut nexts = vec![];
    for r in store::reminders::scheduled(tx, &ws.id).await? {
        let Some(due) = r.next_fire_at else { continue };
        let day = due.with_timezone(&old).date_naive();
        let Some(start) = start_of_local_day(day, ws.time_zone.0) else { continue };
        nexts.push((r.id.clone(), next_after(state, ws, &r, start - chrono::Duration::seconds(1))?));
    }
    store::reminders::set_next_many(tx, &nexts).await
}

async fn check_references(
    state: &AppState,
    caller: &StaffPrincipal,
    ws: &Workspace,
    r: &Reminder,
    v: &mut Violations,
) -> AppResult<()> {
    if let Some(t) = &r.reminder_type_id
        && let Err(AppError::NotFound { .. }) = store::reminders::get_type(&state.db, &caller.workspace_id, t).await
    {
        v.add("reminder.reminder_type_id", "is not a reminder type of this workspace");
    }
    if r.delivery.sms() && !ws.sms_enabled && v.is_empty() {
        return Err(AppError::precondition(
            "SMS_ADDON",
            format!("workspaces/{}", ws.id),
            "SMS delivery needs the workspace's SMS add-on",
        ));
    }
    Ok(())
}

fn apply(r: &mut Reminder, f: &ReminderFields, paths: &[String], v: &mut Violations) {
    for p in paths {
        match p.as_str() {
            "name" => {
                if let Some(n) = v.check("reminder.name", DisplayName::parse(&f.name)) {
                    r.name = n.as_str().to_string();
                }
            }
            "first_date" => {
                if let Some(d) = v.check("reminder.first_date", reminder_date(&f.first_date)) {
                    r.first_date = d;
                }
            }
            "reminder_type_id" => {
                if let Some(t) = v.check("reminder.reminder_type_id", Id::parse_optional(&f.reminder_type_id)) {
                    r.reminder_type_id = t;
                }
            }
            "text" => {
                if let Some(t) = v.check("reminder.text", optional_text(&f.text, 5000)) {
                    r.text = t;
                }
            }
            "delivery" => r.delivery = f.delivery.unwrap_or(ReminderDelivery::SystemOnly),
            "receivers" => r.receivers = f.receivers.unwrap_or(Receivers::Both),
            _ => {}
        }
    }
    if paths.iter().any(|p| p == "repetition") {
        if let Some(rep) = parse_repetition(&f.repetition, Some(r.first_date), "reminder.repetition", v) {
            r.repetition = rep;
        }
    } else if let Some(until) = r.repetition.until
        && until < r.first_date
    {
        // A new first date against the stored end.
        v.add("reminder.first_date", "must not be after the repetition's end date (repetition.until)");
    }
}

pub const REMINDER_MASK_PATHS: &[&str] =
    &["name", "first_date", "reminder_type_id", "text", "repetition", "delivery", "receivers"];

pub async fn create(
    state: &AppState,
    caller: &StaffPrincipal,
    f: ReminderFields,
    request: &crate::domain::RequestKeyInput,
) -> AppResult<Reminder> {
    let mut v = Violations::new();
    let customer_id = v.check("reminder.customer_id", Id::parse(&f.customer_id));
    let request_id = v.check("request_id", crate::domain::RequestKey::parse(request)).flatten();
    let now = state.clock.now();
    let mut r = Reminder {
        id: Id::generate(),
        customer_id: customer_id.clone().unwrap_or_else(Id::generate),
        name: String::new(),
        first_date: NaiveDate::MIN,
        reminder_type_id: None,
        text: String::new(),
        repetition: Repetition::never(),
        delivery: ReminderDelivery::SystemOnly,
        receivers: Receivers::Both,
        created_by: Some(caller.staff_user_id.clone()),
        next_fire_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let all: Vec<String> = REMINDER_MASK_PATHS.iter().map(|s| s.to_string()).collect();
    apply(&mut r, &f, &all, &mut v);
    v.into_result()?;
    let ws = store::workspace_config::workspace(state, &state.reads, &caller.workspace_id).await?;
    let scope = caller.scope();
    store::customers::require_visible(&state.db, &scope, &r.customer_id).await?;
    let mut v = Violations::new();
    check_references(state, caller, &ws, &r, &mut v).await?;
    v.into_result()?;
    r.next_fire_at = first_due(state, &ws, &r, None)?;
    let tx = match begin_create(state, &caller.workspace_id, "CreateReminder", request_id.as_ref(), &r.id).await? {
        Begin::Replay(existing) => return store::reminders::get(&state.db, &scope, &existing, false).await,
        Begin::Fresh(tx) => tx,
    };
    store::reminders::insert(&tx, &caller.workspace_id, &r).await?;
    tx.commit().await?;
    Ok(r)
}

pub async fn get(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<Reminder> {
    let id = Id::parse(id).map_err(|e| AppError::invalid("reminder_id", e))?;
    store::reminders::get(&state.reads, &caller.scope(), &id, false).await
}

pub async fn list(
    state: &AppState,
    caller: &StaffPrincipal,
    customer_id: &str,
    page: PageRequest<String>,
) -> AppResult<Page<Reminder>> {
    let customer = Id::parse_optional(customer_id).map_err(|e| AppError::invalid("customer_id", e))?;
    let scope = caller.scope();
    if let Some(c) = &customer {
        store::customers::require_visible(&state.reads, &scope, c).await?;
    }
    store::reminders::list(&state.reads, &scope, customer.as_ref(), page).await
}

pub async fn update(
    state: &AppState,
    caller: &StaffPrincipal,
    id: &str,
    f: ReminderFields,
    mask: &[String],
    etag: Option<i64>,
) -> AppResult<Reminder> {
    let id = Id::parse(id).map_err(|e| AppError::invalid("reminder.id", e))?;
    let paths = mask_paths(mask, REMINDER_MASK_PATHS, &["id", "customer_id", "next_occurrence_time"])?;
    let ws = store::workspace_config::workspace(state, &state.reads, &caller.workspace_id).await?;
    let scope = caller.scope();
    let tx = state.db.begin().await?;
    let mut r = store::reminders::get(&tx, &scope, &id, true).await?;
    if etag.is_some_and(|e| e != r.version) {
        return Err(AppError::Aborted("etag does not match: the reminder was changed meanwhile".into()));
    }
    let mut v = Violations::new();
    apply(&mut r, &f, &paths, &mut v);
    v.into_result()?;
    if let Some(t) = &r.reminder_type_id
        && let Err(AppError::NotFound { .. }) = store::reminders::get_type(&tx, &caller.workspace_id, t).await
    {
        return Err(AppError::invalid("reminder.reminder_type_id", "is not a reminder type of this workspace"));
    }
    if r.delivery.sms() && !ws.sms_enabled {
        return Err(AppError::precondition(
            "SMS_ADDON",
            format!("workspaces/{}", ws.id),
            "SMS delivery needs the workspace's SMS add-on",
        ));
    }
    // What comes next is computed anew from the edited rule.
    r.next_fire_at = first_due(state, &ws, &r, r.next_fire_at)?;
    store::reminders::save(&tx, &caller.workspace_id, &r, state.clock.now()).await?;
    tx.commit().await?;
    store::reminders::get(&state.db, &scope, &id, false).await
}

pub async fn delete(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<()> {
    let id = Id::parse(id).map_err(|e| AppError::invalid("reminder_id", e))?;
    let tx = state.db.begin().await?;
    store::reminders::get(&tx, &caller.scope(), &id, true).await?;
    store::reminders::delete(&tx, &caller.workspace_id, &id).await?;
    tx.commit().await?;
    Ok(())
}

pub struct Preview {
    pub occurrences: Vec<chrono::DateTime<Utc>>,
    pub dates: Vec<String>,
}

pub async fn preview(
    state: &AppState,
    caller: &StaffPrincipal,
    first_date: &str,
    rep: RepetitionFields,
    count: i32,
    from_date: &str,
) -> AppResult<Preview> {
    let mut v = Violations::new();
    let first = v.check("first_date", reminder_date(first_date));
    let from = v.check("from_date", optional_reminder_date(from_date)).flatten();
    if !(0..=500).contains(&count) {
        v.add("count", "must be between 1 and 500 (0 means 10)");
    }
    let rep = parse_repetition(&rep, first, "repetition", &mut v);
    v.into_result()?;
    let (Some(first), Some(rep)) = (first, rep) else { unreachable!("violations are empty") };
    let ws = store::workspace_config::workspace(state, &state.reads, &caller.workspace_id).await?;
    let tz = ws.time_zone.0;
    let from_day = from.unwrap_or(first);
    let after = start_of_local_day(from_day, tz)
        .unwrap_or(Utc.from_utc_datetime(&from_day.and_hms_opt(0, 0, 0).expect("midnight")))
        - chrono::Duration::seconds(1);
    let count = if count == 0 { 10 } else { count as usize };
    let occurrences = recurrence::occurrences_after(first, &rep, tz, state.settings.reminder_local_hour, after, count)?;
    let dates = occurrences.iter().map(|t| recurrence::local_date(*t, tz)).collect();
    Ok(Preview { occurrences, dates })
}
