//! Time entries. Every query filters on the workspace; callers reach an entry
//! through its customer's scope (`get`) or after checking the customer.
use crate::{
    clock::Timestamp,
    domain::{
        Id,
        caller::CustomerScope,
        page::{Page, PageRequest, page_from},
        timesheet::{Period, TimeEntry, TimeEntryFilter, TimesheetTotals},
    },
    error::{AppError, AppResult},
};
use chrono::NaiveDate;
use entity::time_entry::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};

fn to_domain(m: Model) -> TimeEntry {
    TimeEntry {
        id: Id::from_stored(m.id),
        customer_id: Id::from_stored(m.customer_id),
        title: m.title,
        description: m.description,
        performed_on: m.performed_on,
        billed_minutes: m.billed_minutes,
        actual_minutes: m.actual_minutes,
        billable: m.billable,
        registered_by: Id::from_stored(m.registered_by),
        notify: m.notify,
        invoiced_at: m.invoiced_at,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn of_workspace(workspace_id: &Id) -> Select<Entity> {
    Entity::find().filter(Column::WorkspaceId.eq(workspace_id.as_str()))
}

fn in_period(q: Select<Entity>, period: &Period) -> Select<Entity> {
    let q = match period.from {
        Some(from) => q.filter(Column::PerformedOn.gte(from)),
        None => q,
    };
    match period.to {
        Some(to) => q.filter(Column::PerformedOn.lte(to)),
        None => q,
    }
}

pub async fn insert(conn: &impl ConnectionTrait, workspace_id: &Id, e: &TimeEntry) -> AppResult<()> {
    Entity::insert(ActiveModel {
        id: Set(e.id.to_string()),
        workspace_id: Set(workspace_id.to_string()),
        customer_id: Set(e.customer_id.to_string()),
        title: Set(e.title.clone()),
        description: Set(e.description.clone()),
        performed_on: Set(e.performed_on),
        billed_minutes: Set(e.billed_minutes),
        actual_minutes: Set(e.actual_minutes),
        billable: Set(e.billable),
        registered_by: Set(e.registered_by.to_string()),
        notify: Set(e.notify),
        invoiced_at: Set(e.invoiced_at),
        version: Set(e.version),
        created_at: Set(e.created_at),
        updated_at: Set(e.updated_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

async fn get_unscoped(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id) -> AppResult<TimeEntry> {
    of_workspace(workspace_id)
        .filter(Column::Id.eq(id.as_str()))
        .one(conn)
        .await?
        .map(to_domain)
        .ok_or_else(|| AppError::not_found("time_entry", id.as_str()))
}

/// An entry whose customer the scope may see; anything else is not found.
pub async fn get(conn: &impl ConnectionTrait, scope: &CustomerScope, id: &Id) -> AppResult<TimeEntry> {
    let entry = get_unscoped(conn, &scope.workspace_id, id).await?;
    match super::customers::require_owner_visible(conn, scope, &entry.customer_id).await {
        Ok(_) => Ok(entry),
        Err(AppError::NotFound { .. }) => Err(AppError::not_found("time_entry", id.as_str())),
        Err(e) => Err(e),
    }
}

/// The position after the last entry of a page: newest day first, then id.
#[derive(Serialize, Deserialize)]
pub struct EntryCursor {
    d: NaiveDate,
    i: String,
}

pub async fn list(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    customer_id: &Id,
    filter: &TimeEntryFilter,
    page: PageRequest<EntryCursor>,
) -> AppResult<Page<TimeEntry>> {
    let mut q =
        in_period(of_workspace(workspace_id).filter(Column::CustomerId.eq(customer_id.as_str())), &filter.period);
    if let Some(billable) = filter.billable {
        q = q.filter(Column::Billable.eq(billable));
    }
    q = match filter.invoiced {
        Some(true) => q.filter(Column::InvoicedAt.is_not_null()),
        Some(false) => q.filter(Column::InvoicedAt.is_null()),
        None => q,
    };
    if let Some(c) = &page.after {
        q = q.filter(
            Condition::any()
                .add(Column::PerformedOn.lt(c.d))
                .add(Condition::all().add(Column::PerformedOn.eq(c.d)).add(Column::Id.lt(c.i.as_str()))),
        );
    }
    let rows = q.order_by_desc(Column::PerformedOn).order_by_desc(Column::Id).limit(page.size + 1).all(conn).await?;
    Ok(page_from(rows.into_iter().map(to_domain).collect(), page.size, |e: &TimeEntry| EntryCursor {
        d: e.performed_on,
        i: e.id.to_string(),
    }))
}

/// Writes the editable fields if the entry is still at `e.version` and not
/// invoiced; bumps the version.
pub async fn update(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    e: &TimeEntry,
    now: Timestamp,
) -> AppResult<TimeEntry> {
    let res = Entity::update_many()
        .set(ActiveModel {
            title: Set(e.title.clone()),
            description: Set(e.description.clone()),
            performed_on: Set(e.performed_on),
            billed_minutes: Set(e.billed_minutes),
            actual_minutes: Set(e.actual_minutes),
            billable: Set(e.billable),
            version: Set(e.version + 1),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(Column::Id.eq(e.id.as_str()))
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::Version.eq(e.version))
        .filter(Column::InvoicedAt.is_null())
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Aborted("the time entry was changed meanwhile; read it again".into()));
    }
    get_unscoped(conn, workspace_id, &e.id).await
}

/// Deletes the entry if it is still at `version` and not invoiced.
pub async fn delete(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id, version: i64) -> AppResult<()> {
    let res = Entity::delete_many()
        .filter(Column::Id.eq(id.as_str()))
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::Version.eq(version))
        .filter(Column::InvoicedAt.is_null())
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Aborted("the time entry was changed meanwhile; read it again".into()));
    }
    Ok(())
}

/// The customer's entries among `ids`, locked until commit (PostgreSQL; SQLite
/// has one writer anyway) so concurrent invoicing cannot interleave.
pub async fn of_customer_for_update(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    customer_id: &Id,
    ids: &[Id],
) -> AppResult<Vec<TimeEntry>> {
    Ok(of_workspace(workspace_id)
        .filter(Column::CustomerId.eq(customer_id.as_str()))
        .filter(Column::Id.is_in(ids.iter().map(Id::to_string)))
        .order_by_asc(Column::Id)
        .lock_exclusive()
        .all(conn)
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// Sets the invoice time on those of `ids` that have none; bumps their versions.
pub async fn mark_invoiced(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    ids: &[Id],
    now: Timestamp,
) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    Entity::update_many()
        .col_expr(Column::InvoicedAt, Expr::value(now))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::Id.is_in(ids.iter().map(Id::to_string)))
        .filter(Column::InvoicedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// The customer's sums in the period, computed by the database. SUM of a
/// BIGINT is NUMERIC on PostgreSQL, hence the casts.
pub async fn totals(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    customer_id: &Id,
    period: &Period,
) -> AppResult<TimesheetTotals> {
    let sum = |when: &str| {
        Expr::cust(format!("CAST(COALESCE(SUM(CASE WHEN {when} THEN billed_minutes ELSE 0 END), 0) AS BIGINT)"))
    };
    let q = in_period(of_workspace(workspace_id).filter(Column::CustomerId.eq(customer_id.as_str())), period);
    let row: Option<(i64, i64, i64, i64, i64)> = q
        .select_only()
        .column_as(sum("billable"), "billable_minutes")
        .column_as(sum("NOT billable"), "non_billable_minutes")
        .column_as(sum("billable AND invoiced_at IS NOT NULL"), "invoiced_minutes")
        .column_as(sum("billable AND invoiced_at IS NULL"), "not_invoiced_minutes")
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "entry_count")
        .into_tuple()
        .one(conn)
        .await?;
    let (billable_minutes, non_billable_minutes, invoiced_minutes, not_invoiced_minutes, entry_count) =
        row.unwrap_or_default();
    Ok(TimesheetTotals { billable_minutes, non_billable_minutes, invoiced_minutes, not_invoiced_minutes, entry_count })
}
