//! Reminder types, reminders and their firings.
use super::is_unique_violation;
use crate::{
    clock::Timestamp,
    domain::{
        Id, Role,
        caller::CustomerScope,
        page::{Page, PageRequest, page_from},
        recurrence::{Frequency, MonthlyBy, Repetition, weekday_code, weekday_from_code},
        reminder::{Receivers, Reminder, ReminderDelivery, ReminderType},
    },
    error::{AppError, AppResult},
};
use entity::{reminder, reminder_firing, reminder_type, staff_user, staff_user_area};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TryInsertResult,
    sea_query::{Expr, LockBehavior, LockType},
};
use std::collections::{HashMap, HashSet};

fn type_out(m: reminder_type::Model) -> ReminderType {
    ReminderType { id: Id::from_stored(m.id), name: m.name, created_at: m.created_at }
}

pub async fn insert_type(conn: &impl ConnectionTrait, ws: &Id, name: &str, now: Timestamp) -> AppResult<ReminderType> {
    let m = reminder_type::Model {
        id: Id::generate().to_string(),
        workspace_id: ws.to_string(),
        name: name.into(),
        created_at: now,
    };
    let res = reminder_type::Entity::insert(reminder_type::ActiveModel {
        id: Set(m.id.clone()),
        workspace_id: Set(m.workspace_id.clone()),
        name: Set(m.name.clone()),
        created_at: Set(now),
    })
    .exec_without_returning(conn)
    .await;
    match res {
        Ok(_) => Ok(type_out(m)),
        Err(e) if is_unique_violation(&e) => Err(AppError::AlreadyExists {
            resource: "reminder type",
            description: format!("a reminder type named {name:?} exists already"),
        }),
        Err(e) => Err(e.into()),
    }
}

pub async fn get_type(conn: &impl ConnectionTrait, ws: &Id, id: &Id) -> AppResult<ReminderType> {
    reminder_type::Entity::find_by_id(id.to_string())
        .filter(reminder_type::Column::WorkspaceId.eq(ws.as_str()))
        .one(conn)
        .await?
        .map(type_out)
        .ok_or_else(|| AppError::not_found("reminder type", id.as_str()))
}

pub async fn list_types(
    conn: &impl ConnectionTrait,
    ws: &Id,
    page: PageRequest<String>,
) -> AppResult<Page<ReminderType>> {
    let mut q = reminder_type::Entity::find().filter(reminder_type::Column::WorkspaceId.eq(ws.as_str()));
    if let Some(after) = &page.after {
        q = q.filter(reminder_type::Column::Name.gt(after.as_str()));
    }
    let rows = q.order_by_asc(reminder_type::Column::Name).limit(page.size + 1).all(conn).await?;
    Ok(page_from(rows.into_iter().map(type_out).collect(), page.size, |t: &ReminderType| t.name.clone()))
}

pub async fn delete_type(conn: &impl ConnectionTrait, ws: &Id, id: &Id) -> AppResult<()> {
    let res = reminder_type::Entity::delete_many()
        .filter(reminder_type::Column::Id.eq(id.as_str()))
        .filter(reminder_type::Column::WorkspaceId.eq(ws.as_str()))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::not_found("reminder type", id.as_str()));
    }
    Ok(())
}

fn reminder_out(m: reminder::Model) -> Reminder {
    let monthly_by = match (m.monthly_by.as_str(), weekday_from_code(&m.weekday)) {
        ("weekday", Some(weekday)) => MonthlyBy::Weekday { nth: m.week_of_month as i8, weekday },
        _ => MonthlyBy::DayOfMonth,
    };
    Reminder {
        id: Id::from_stored(m.id),
        customer_id: Id::from_stored(m.customer_id),
        name: m.name,
        first_date: m.first_date,
        reminder_type_id: m.reminder_type_id.map(Id::from_stored),
        text: m.text,
        repetition: Repetition {
            frequency: Frequency::from_stored(&m.frequency),
            interval: m.interval.clamp(1, u16::MAX as i32) as u16,
            weekdays: m.weekdays.split(',').filter_map(weekday_from_code).collect(),
            monthly_by,
            until: m.until,
        },
        delivery: ReminderDelivery::from_stored(&m.delivery),
        receivers: Receivers::from_stored(&m.receivers),
        created_by: m.created_by.map(Id::from_stored),
        next_fire_at: m.next_fire_at,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn reminder_row(ws: &Id, r: &Reminder) -> reminder::ActiveModel {
    let rep = &r.repetition;
    let (monthly_by, nth, weekday) = match rep.monthly_by {
        MonthlyBy::DayOfMonth => ("day", 0, ""),
        MonthlyBy::Weekday { nth, weekday } => ("weekday", nth as i32, weekday_code(weekday)),
    };
    reminder::ActiveModel {
        id: Set(r.id.to_string()),
        workspace_id: Set(ws.to_string()),
        customer_id: Set(r.customer_id.to_string()),
        name: Set(r.name.clone()),
        first_date: Set(r.first_date),
        reminder_type_id: Set(r.reminder_type_id.as_ref().map(Id::to_string)),
        text: Set(r.text.clone()),
        frequency: Set(rep.frequency.as_str().into()),
        interval: Set(rep.interval as i32),
        weekdays: Set(rep.weekdays.iter().map(|w| weekday_code(*w)).collect::<Vec<_>>().join(",")),
        monthly_by: Set(monthly_by.into()),
        week_of_month: Set(nth),
        weekday: Set(weekday.into()),
        until: Set(rep.until),
        delivery: Set(r.delivery.as_str().into()),
        receivers: Set(r.receivers.as_str().into()),
        created_by: Set(r.created_by.as_ref().map(Id::to_string)),
        next_fire_at: Set(r.next_fire_at),
        version: Set(r.version),
        created_at: Set(r.created_at),
        updated_at: Set(r.updated_at),
    }
}

pub async fn insert(conn: &impl ConnectionTrait, ws: &Id, r: &Reminder) -> AppResult<()> {
    reminder::Entity::insert(reminder_row(ws, r)).exec_without_returning(conn).await?;
    Ok(())
}

/// A reminder on a customer the scope may see; `lock` serialises firing and editing (PostgreSQL).
pub async fn get(conn: &impl ConnectionTrait, scope: &CustomerScope, id: &Id, lock: bool) -> AppResult<Reminder> {
    let mut q = reminder::Entity::find_by_id(id.to_string())
        .filter(reminder::Column::WorkspaceId.eq(scope.workspace_id.as_str()));
    if lock && super::is_postgres(conn) {
        q = q.lock_exclusive();
    }
    let r = q.one(conn).await?.map(reminder_out).ok_or_else(|| AppError::not_found("reminder", id.as_str()))?;
    match super::customers::require_owner_visible(conn, scope, &r.customer_id).await {
        Ok(_) => Ok(r),
        Err(AppError::NotFound { .. }) => Err(AppError::not_found("reminder", id.as_str())),
        Err(e) => Err(e),
    }
}

/// Reminders of one customer, or of every customer the scope may see.
pub async fn list(
    conn: &impl ConnectionTrait,
    scope: &CustomerScope,
    customer: Option<&Id>,
    page: PageRequest<String>,
) -> AppResult<Page<Reminder>> {
    let mut q = reminder::Entity::find().filter(reminder::Column::WorkspaceId.eq(scope.workspace_id.as_str()));
    match customer {
        Some(c) => q = q.filter(reminder::Column::CustomerId.eq(c.as_str())),
        None => {
            if let Some(areas) = &scope.areas {
                let visible: Vec<String> = entity::customer::Entity::find()
                    .filter(entity::customer::Column::WorkspaceId.eq(scope.workspace_id.as_str()))
                    .filter(entity::customer::Column::AreaId.is_in(areas.iter().map(Id::to_string)))
                    .select_only()
                    .column(entity::customer::Column::Id)
                    .into_tuple()
                    .all(conn)
                    .await?;
                q = q.filter(reminder::Column::CustomerId.is_in(visible));
            }
        }
    }
    if let Some(after) = &page.after {
        q = q.filter(reminder::Column::Id.gt(after.as_str()));
    }
    let rows = q.order_by_asc(reminder::Column::Id).limit(page.size + 1).all(conn).await?;
    Ok(page_from(rows.into_iter().map(reminder_out).collect(), page.size, |r: &Reminder| r.id.to_string()))
}

/// Writes the reminder if the stored version is still `r.version`; bumps it.
pub async fn save(conn: &impl ConnectionTrait, ws: &Id, r: &Reminder, now: Timestamp) -> AppResult<()> {
    let mut row = reminder_row(ws, r);
    row.version = Set(r.version + 1);
    row.updated_at = Set(now);
    row.created_at = NotSet;
    let res = reminder::Entity::update_many()
        .set(row)
        .filter(reminder::Column::Id.eq(r.id.as_str()))
        .filter(reminder::Column::Version.eq(r.version))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Aborted("the reminder was changed meanwhile; read it again".into()));
    }
    Ok(())
}

pub async fn delete(conn: &impl ConnectionTrait, ws: &Id, id: &Id) -> AppResult<()> {
    reminder::Entity::delete_many()
        .filter(reminder::Column::Id.eq(id.as_str()))
        .filter(reminder::Column::WorkspaceId.eq(ws.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Rows per statement in the multi-row writes below: far under the bind
/// parameter limits of both databases (SQLite 32,766; PostgreSQL 65,535).
const ROWS_PER_STATEMENT: usize = 500;

/// Every reminder of a workspace that has an occurrence ahead (or due),
/// for moving them when the workspace's time zone changes.
pub async fn scheduled(conn: &impl ConnectionTrait, ws: &Id) -> AppResult<Vec<Reminder>> {
    let rows = reminder::Entity::find()
        .filter(reminder::Column::WorkspaceId.eq(ws.as_str()))
        .filter(reminder::Column::NextFireAt.is_not_null())
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(reminder_out).collect())
}

/// Claims up to `limit` reminders due at `now`, oldest first, with their
/// workspace, for the caller's transaction. On PostgreSQL the rows stay
/// locked until commit and `SKIP LOCKED` lets replicas claim disjoint
/// batches side by side; SQLite has one writer, so the transaction alone
/// serialises firing.
pub async fn claim_due(conn: &impl ConnectionTrait, now: Timestamp, limit: u64) -> AppResult<Vec<(Id, Reminder)>> {
    let mut q = reminder::Entity::find()
        .filter(reminder::Column::NextFireAt.lte(now))
        .order_by_asc(reminder::Column::NextFireAt)
        .limit(limit);
    if super::is_postgres(conn) {
        q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    Ok(q.all(conn).await?.into_iter().map(|m| (Id::from_stored(m.workspace_id.clone()), reminder_out(m))).collect())
}

/// What happened to one occurrence of a reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FiringOutcome {
    Fired,
    /// The reminder's schedule could not be computed; it stops being due.
    Failed,
}

impl FiringOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Fired => "fired",
            Self::Failed => "failed",
        }
    }
}

/// Records occurrences insert-or-nothing on the (reminder, occurrence) key;
/// returns the (reminder, occurrence) pairs whose `Fired` row this call
/// inserted, i.e. the ones to deliver. An occurrence already recorded (by another replica, or before
/// an edit moved the reminder back) is not delivered twice.
pub async fn record_firings(
    conn: &impl ConnectionTrait,
    firings: &[(Id, Timestamp, FiringOutcome)],
    now: Timestamp,
) -> AppResult<HashSet<(Id, Timestamp)>> {
    let mut fired = HashSet::new();
    for chunk in firings.chunks(ROWS_PER_STATEMENT) {
        let rows = chunk.iter().map(|(id, at, outcome)| reminder_firing::ActiveModel {
            reminder_id: Set(id.to_string()),
            occurrence_at: Set(*at),
            outcome: Set(outcome.as_str().into()),
            created_at: Set(now),
        });
        let inserted = reminder_firing::Entity::insert_many(rows)
            .on_conflict_do_nothing_on([reminder_firing::Column::ReminderId, reminder_firing::Column::OccurrenceAt])
            .exec_with_returning_many(conn)
            .await?;
        if let TryInsertResult::Inserted(models) = inserted {
            fired.extend(
                models
                    .into_iter()
                    .filter(|m| m.outcome == FiringOutcome::Fired.as_str())
                    .map(|m| (Id::from_stored(m.reminder_id), m.occurrence_at)),
            );
        }
    }
    Ok(fired)
}

/// Moves reminders on to their next occurrences (or none). Reminders that
/// share a next occurrence (the same rule in one time zone fires at the
/// same local hour) move in one statement.
pub async fn set_next_many(conn: &impl ConnectionTrait, nexts: &[(Id, Option<Timestamp>)]) -> AppResult<()> {
    let mut by_next: HashMap<Option<Timestamp>, Vec<String>> = HashMap::new();
    for (id, next) in nexts {
        by_next.entry(*next).or_default().push(id.to_string());
    }
    for (next, ids) in by_next {
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            reminder::Entity::update_many()
                .col_expr(reminder::Column::NextFireAt, Expr::value(next))
                .filter(reminder::Column::Id.is_in(chunk.iter().cloned()))
                .exec(conn)
                .await?;
        }
    }
    Ok(())
}

/// Names of reminder types by id, each with its workspace.
pub async fn type_names(conn: &impl ConnectionTrait, ids: &[Id]) -> AppResult<HashMap<Id, (Id, String)>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String, String)> = reminder_type::Entity::find()
        .filter(reminder_type::Column::Id.is_in(ids.iter().map(Id::to_string)))
        .select_only()
        .column(reminder_type::Column::Id)
        .column(reminder_type::Column::WorkspaceId)
        .column(reminder_type::Column::Name)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|(id, ws, name)| (Id::from_stored(id), (Id::from_stored(ws), name))).collect())
}

/// A staff user who receives a reminder.
#[derive(Debug, Clone)]
pub struct Receiver {
    pub id: Id,
    pub name: String,
    pub email: String,
    pub phone: String,
}

/// The receivers as of now: the admins and/or the supervisors of `area`.
pub async fn receivers(
    conn: &impl ConnectionTrait,
    ws: &Id,
    who: Receivers,
    area: Option<&Id>,
) -> AppResult<Vec<Receiver>> {
    let mut ids: Vec<String> = vec![];
    if matches!(who, Receivers::Admins | Receivers::Both) {
        ids.extend(
            staff_user::Entity::find()
                .filter(staff_user::Column::WorkspaceId.eq(ws.as_str()))
                .filter(staff_user::Column::Role.eq(Role::Admin.as_str()))
                .all(conn)
                .await?
                .into_iter()
                .map(|u| u.id),
        );
    }
    if matches!(who, Receivers::Supervisors | Receivers::Both)
        && let Some(area) = area
    {
        let sup_ids: Vec<String> = staff_user_area::Entity::find()
            .filter(staff_user_area::Column::AreaId.eq(area.as_str()))
            .all(conn)
            .await?
            .into_iter()
            .map(|r| r.staff_user_id)
            .collect();
        ids.extend(
            staff_user::Entity::find()
                .filter(staff_user::Column::Id.is_in(sup_ids))
                .filter(staff_user::Column::Role.eq(Role::Supervisor.as_str()))
                .all(conn)
                .await?
                .into_iter()
                .map(|u| u.id),
        );
    }
    ids.sort();
    ids.dedup();
    Ok(staff_user::Entity::find()
        .filter(staff_user::Column::Id.is_in(ids))
        .order_by_asc(staff_user::Column::Email)
        .all(conn)
        .await?
        .into_iter()
        .map(|u| Receiver { id: Id::from_stored(u.id), name: u.name, email: u.email, phone: u.phone })
        .collect())
}

/// The oldest occurrence that is due and not yet fired: the scheduler's lag.
pub async fn oldest_due(conn: &impl ConnectionTrait, now: Timestamp) -> AppResult<Option<Timestamp>> {
    Ok(reminder::Entity::find()
        .filter(reminder::Column::NextFireAt.lte(now))
        .order_by_asc(reminder::Column::NextFireAt)
        .one(conn)
        .await?
        .and_then(|r| r.next_fire_at))
}
