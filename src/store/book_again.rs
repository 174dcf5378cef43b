//! Book-again reminders. Every change of state is a conditional update on
//! `state = 'pending'`, so a reminder is sent or cancelled exactly once
//! however many requests and replicas race for it.
use crate::{
    clock::Timestamp,
    domain::{
        Id,
        booking::{BookAgainReminder, BookAgainState, CancelReason, IntervalUnit},
        page::{Page, PageRequest, page_from},
    },
    error::{AppError, AppResult},
};
use chrono::NaiveDate;
use entity::book_again_reminder::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

const PENDING: &str = "pending";

fn to_domain(m: Model) -> BookAgainReminder {
    BookAgainReminder {
        id: Id::from_stored(m.id),
        booking_id: Id::from_stored(m.booking_id),
        customer_id: Id::from_stored(m.customer_id),
        contact_name: m.contact_name,
        phone: m.phone,
        interval_count: m.interval_count,
        interval_unit: IntervalUnit::from_stored(&m.interval_unit),
        send_date: m.send_date,
        state: BookAgainState::from_stored(&m.state),
        cancel_reason: m.cancel_reason.as_deref().and_then(CancelReason::from_stored),
        token: m.token,
        sent_at: m.sent_at,
        message: m.message,
        delivery_id: m.delivery_id.map(Id::from_stored),
        created_by: m.created_by.map(Id::from_stored),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

pub async fn insert(conn: &impl ConnectionTrait, workspace_id: &Id, r: &BookAgainReminder) -> AppResult<()> {
    Entity::insert(ActiveModel {
        id: Set(r.id.to_string()),
        workspace_id: Set(workspace_id.to_string()),
        customer_id: Set(r.customer_id.to_string()),
        booking_id: Set(r.booking_id.to_string()),
        contact_name: Set(r.contact_name.clone()),
        phone: Set(r.phone.clone()),
        interval_count: Set(r.interval_count),
        interval_unit: Set(r.interval_unit.as_str().into()),
        send_date: Set(r.send_date),
        state: Set(r.state.as_str().into()),
        cancel_reason: Set(r.cancel_reason.map(|c| c.as_str().to_string())),
        token: Set(r.token.clone()),
        sent_at: Set(r.sent_at),
        message: Set(r.message.clone()),
        delivery_id: Set(r.delivery_id.as_ref().map(Id::to_string)),
        created_by: Set(r.created_by.as_ref().map(Id::to_string)),
        created_at: Set(r.created_at),
        updated_at: Set(r.updated_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// A reminder of the workspace (the caller checks its customer's scope).
pub async fn get(conn: &impl ConnectionTrait, workspace_id: &Id, id: &Id) -> AppResult<BookAgainReminder> {
    Entity::find_by_id(id.to_string())
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .one(conn)
        .await?
        .map(to_domain)
        .ok_or_else(|| AppError::not_found("book-again reminder", id.as_str()))
}

/// The pending or sent reminder whose link carries `token`: a booking made with it came through the SMS.
pub async fn find_by_token(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    token: &str,
) -> AppResult<Option<BookAgainReminder>> {
    Ok(Entity::find()
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::Token.eq(token))
        .filter(Column::State.is_in([PENDING, BookAgainState::Sent.as_str()]))
        .one(conn)
        .await?
        .map(to_domain))
}

/// The customer any reminder of this booking belongs to: how a deleted
/// booking's history is still scoped.
pub async fn customer_of_booking(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    booking_id: &Id,
) -> AppResult<Option<Id>> {
    Ok(Entity::find()
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::BookingId.eq(booking_id.as_str()))
        .one(conn)
        .await?
        .map(|m| Id::from_stored(m.customer_id)))
}

/// Which pending reminders a cancellation concerns.
pub enum Pending<'a> {
    One(&'a Id),
    OfBooking(&'a Id),
    OfCustomer(&'a Id),
}

/// Cancels what is still pending, keeping the reason; returns how many it cancelled.
pub async fn cancel(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    which: Pending<'_>,
    reason: CancelReason,
    now: Timestamp,
) -> AppResult<u64> {
    let (col, id) = match which {
        Pending::One(id) => (Column::Id, id),
        Pending::OfBooking(id) => (Column::BookingId, id),
        Pending::OfCustomer(id) => (Column::CustomerId, id),
    };
    let res = Entity::update_many()
        .col_expr(Column::State, Expr::value(BookAgainState::Cancelled.as_str()))
        .col_expr(Column::CancelReason, Expr::value(reason.as_str()))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(col.eq(id.as_str()))
        .filter(Column::State.eq(PENDING))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// Pending reminders of a workspace due on or before `today`.
pub async fn due(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    today: NaiveDate,
) -> AppResult<Vec<BookAgainReminder>> {
    Ok(Entity::find()
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::State.eq(PENDING))
        .filter(Column::SendDate.lte(today))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// Flips a pending reminder to sent with its message and delivery; false
/// when it is no longer pending (another replica sent it, or it was cancelled).
pub async fn mark_sent(
    conn: &impl ConnectionTrait,
    id: &Id,
    message: &str,
    delivery_id: &Id,
    now: Timestamp,
) -> AppResult<bool> {
    let res = Entity::update_many()
        .col_expr(Column::State, Expr::value(BookAgainState::Sent.as_str()))
        .col_expr(Column::SentAt, Expr::value(now))
        .col_expr(Column::Message, Expr::value(message.to_string()))
        .col_expr(Column::DeliveryId, Expr::value(delivery_id.to_string()))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id.as_str()))
        .filter(Column::State.eq(PENDING))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// What a listing is restricted to.
pub struct ReminderFilter {
    pub workspace_id: Id,
    pub customer_id: Option<Id>,
    pub booking_id: Option<Id>,
    pub state: Option<BookAgainState>,
}

/// Newest first (ids are UUIDv7: creation order).
pub async fn list(
    conn: &impl ConnectionTrait,
    f: &ReminderFilter,
    page: PageRequest<String>,
) -> AppResult<Page<BookAgainReminder>> {
    let mut q = Entity::find().filter(Column::WorkspaceId.eq(f.workspace_id.as_str()));
    if let Some(c) = &f.customer_id {
        q = q.filter(Column::CustomerId.eq(c.as_str()));
    }
    if let Some(b) = &f.booking_id {
        q = q.filter(Column::BookingId.eq(b.as_str()));
    }
    if let Some(s) = f.state {
        q = q.filter(Column::State.eq(s.as_str()));
    }
    if let Some(before) = &page.after {
        q = q.filter(Column::Id.lt(before.as_str()));
    }
    let rows = q.order_by_desc(Column::Id).limit(page.size + 1).all(conn).await?;
    Ok(page_from(rows.into_iter().map(to_domain).collect(), page.size, |r: &BookAgainReminder| r.id.to_string()))
}
