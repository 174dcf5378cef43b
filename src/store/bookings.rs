//! Bookings mirrored from the booking system.
use super::is_unique_violation;
use crate::{
    clock::Timestamp,
    domain::{
        Id,
        booking::Booking,
        caller::CustomerScope,
        page::{Page, PageRequest, page_from},
    },
    error::{AppError, AppResult},
};
use entity::booking::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

fn to_domain(m: Model) -> Booking {
    Booking {
        id: Id::from_stored(m.id),
        external_id: m.external_id,
        customer_id: Id::from_stored(m.customer_id),
        contact_name: m.contact_name,
        email: m.email,
        phone: m.phone,
        start_time: m.start_time,
        paid: m.paid,
        via_reminder_id: m.via_reminder_id.map(Id::from_stored),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn to_row(workspace_id: &Id, b: &Booking) -> ActiveModel {
    ActiveModel {
        id: Set(b.id.to_string()),
        workspace_id: Set(workspace_id.to_string()),
        customer_id: Set(b.customer_id.to_string()),
        external_id: Set(b.external_id.clone()),
        contact_name: Set(b.contact_name.clone()),
        email: Set(b.email.clone()),
        phone: Set(b.phone.clone()),
        start_time: Set(b.start_time),
        paid: Set(b.paid),
        via_reminder_id: Set(b.via_reminder_id.as_ref().map(Id::to_string)),
        created_at: Set(b.created_at),
        updated_at: Set(b.updated_at),
    }
}

pub async fn insert(conn: &impl ConnectionTrait, workspace_id: &Id, b: &Booking) -> AppResult<()> {
    match Entity::insert(to_row(workspace_id, b)).exec_without_returning(conn).await {
        Ok(_) => Ok(()),
        // Two calls recorded the same external id at once; the retry finds it and updates.
        Err(e) if is_unique_violation(&e) => {
            Err(AppError::Aborted("a booking with this external_id was recorded meanwhile; retry".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Checks that the booking's customer is in the scope; outside it the booking does not exist.
async fn in_scope(conn: &impl ConnectionTrait, scope: &CustomerScope, b: Booking) -> AppResult<Booking> {
    match super::customers::require_owner_visible(conn, scope, &b.customer_id).await {
        Ok(_) => Ok(b),
        Err(AppError::NotFound { .. }) => Err(AppError::not_found("booking", b.id.as_str())),
        Err(e) => Err(e),
    }
}

/// A booking of a customer the scope may see; `lock` takes the row lock
/// (PostgreSQL) that serialises changes and reminders on one booking.
pub async fn get(conn: &impl ConnectionTrait, scope: &CustomerScope, id: &Id, lock: bool) -> AppResult<Booking> {
    let mut q = Entity::find_by_id(id.to_string()).filter(Column::WorkspaceId.eq(scope.workspace_id.as_str()));
    if lock && super::is_postgres(conn) {
        q = q.lock_exclusive();
    }
    let b = q.one(conn).await?.map(to_domain).ok_or_else(|| AppError::not_found("booking", id.as_str()))?;
    in_scope(conn, scope, b).await
}

/// The booking recorded with this external id in the workspace, whoever's
/// it is, locked like `get`. The caller compares its customer with the one
/// it may see, and says no more than that they differ.
pub async fn find_by_external_id(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    external_id: &str,
) -> AppResult<Option<Booking>> {
    let mut q =
        Entity::find().filter(Column::WorkspaceId.eq(workspace_id.as_str())).filter(Column::ExternalId.eq(external_id));
    if super::is_postgres(conn) {
        q = q.lock_exclusive();
    }
    Ok(q.one(conn).await?.map(to_domain))
}

pub async fn save(conn: &impl ConnectionTrait, workspace_id: &Id, b: &Booking, now: Timestamp) -> AppResult<Booking> {
    let mut row = to_row(workspace_id, b);
    row.updated_at = Set(now);
    row.created_at = NotSet;
    Entity::update_many()
        .set(row)
        .filter(Column::Id.eq(b.id.as_str()))
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .exec(conn)
        .await?;
    Ok(Booking { updated_at: now, ..b.clone() })
}

pub async fn delete(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id) -> AppResult<()> {
    Entity::delete_many()
        .filter(Column::Id.eq(id.as_str()))
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Where the previous page ended: start time (µs since the epoch) and id.
#[derive(Serialize, Deserialize)]
pub struct BookingCursor {
    s: i64,
    i: String,
}

/// A customer's bookings, newest start first.
pub async fn list(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    customer_id: &Id,
    page: PageRequest<BookingCursor>,
) -> AppResult<Page<Booking>> {
    let mut q = Entity::find()
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::CustomerId.eq(customer_id.as_str()));
    if let Some(c) = &page.after {
        let start = chrono::DateTime::from_timestamp_micros(c.s)
            .ok_or_else(|| AppError::invalid("page_token", "is not a token this service issued"))?;
        q = q.filter(
            Condition::any()
                .add(Column::StartTime.lt(start))
                .add(Condition::all().add(Column::StartTime.eq(start)).add(Column::Id.lt(c.i.as_str()))),
        );
    }
    let rows = q.order_by_desc(Column::StartTime).order_by_desc(Column::Id).limit(page.size + 1).all(conn).await?;
    Ok(page_from(rows.into_iter().map(to_domain).collect(), page.size, |b: &Booking| BookingCursor {
        s: b.start_time.timestamp_micros(),
        i: b.id.to_string(),
    }))
}
