//! The transactional outbox. `enqueue` runs inside the caller's transaction;
//! the worker claims due rows with a lease, so a crashed worker's claim is
//! taken again once the lease runs out, and two workers never hold one row.
use crate::{clock::Timestamp, domain::Id, error::AppResult};
use entity::notification::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, Statement,
    sea_query::Expr,
};

pub const QUEUED: &str = "queued";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";
pub const SUPPRESSED: &str = "suppressed";

/// A message to deliver, fully rendered at enqueue time so that what is sent
/// is exactly what the change that caused it said.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub workspace_id: Id,
    pub customer_id: Option<Id>,
    pub contact_id: Option<Id>,
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub headers_json: String,
}

pub async fn enqueue(
    conn: &impl ConnectionTrait,
    n: NewNotification,
    message_domain: &str,
    now: Timestamp,
) -> AppResult<Id> {
    let id = Id::generate();
    Entity::insert(ActiveModel {
        id: Set(id.to_string()),
        workspace_id: Set(n.workspace_id.to_string()),
        customer_id: Set(n.customer_id.map(Id::into_string)),
        contact_id: Set(n.contact_id.map(Id::into_string)),
        kind: Set(n.kind),
        channel: Set(n.channel),
        recipient: Set(n.recipient),
        subject: Set(n.subject),
        body_text: Set(n.body_text),
        body_html: Set(n.body_html),
        headers_json: Set(n.headers_json),
        message_id: Set(format!("{id}@{message_domain}")),
        state: Set(QUEUED.into()),
        suppress_reason: Set(None),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        sent_at: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(id)
}

/// A claimed notification, ready to send.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub headers_json: String,
    pub message_id: String,
    pub attempts: i32,
    pub workspace_id: Id,
}

impl From<Model> for Claimed {
    fn from(m: Model) -> Self {
        Self {
            id: m.id,
            channel: m.channel,
            recipient: m.recipient,
            subject: m.subject,
            body_text: m.body_text,
            body_html: m.body_html,
            headers_json: m.headers_json,
            message_id: m.message_id,
            attempts: m.attempts,
            workspace_id: Id::from_stored(m.workspace_id),
        }
    }
}

/// Claims the oldest due notification for `owner` until `lease_until`.
/// On PostgreSQL `FOR UPDATE SKIP LOCKED` lets replicas claim side by side;
/// SQLite has one writer at a time, so the plain statement is already atomic.
pub async fn claim_next(
    conn: &impl ConnectionTrait,
    owner: &str,
    now: Timestamp,
    lease_until: Timestamp,
) -> AppResult<Option<Claimed>> {
    let backend = conn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE notifications SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id = (SELECT id FROM notifications WHERE state = 'queued' AND next_attempt_at <= $3 \
               AND (lease_until IS NULL OR lease_until < $3) ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING *"
        }
        _ => {
            "UPDATE notifications SET lease_owner = ?1, lease_until = ?2, attempts = attempts + 1, updated_at = ?3 \
             WHERE id = (SELECT id FROM notifications WHERE state = 'queued' AND next_attempt_at <= ?3 \
               AND (lease_until IS NULL OR lease_until < ?3) ORDER BY next_attempt_at, id LIMIT 1) \
             RETURNING *"
        }
    };
    let stmt = Statement::from_sql_and_values(backend, sql, [owner.into(), lease_until.into(), now.into()]);
    let row = conn.query_one_raw(stmt).await?;
    Ok(match row {
        Some(r) => Some(Model::from_query_result(&r, "")?.into()),
        None => None,
    })
}

pub async fn mark_sent(conn: &impl ConnectionTrait, id: &str, owner: &str, now: Timestamp) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::State, Expr::value(SENT))
        .col_expr(Column::SentAt, Expr::value(now))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseUntil, Expr::value(Option::<Timestamp>::None))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::LeaseOwner.eq(owner))
        .exec(conn)
        .await?;
    Ok(())
}

/// Releases the claim and schedules the next try, keeping the error.
pub async fn mark_retry(
    conn: &impl ConnectionTrait,
    id: &str,
    owner: &str,
    error: &str,
    at: Timestamp,
    now: Timestamp,
) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::NextAttemptAt, Expr::value(at))
        .col_expr(Column::LastError, Expr::value(error.to_string()))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseUntil, Expr::value(Option::<Timestamp>::None))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::LeaseOwner.eq(owner))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn mark_failed(
    conn: &impl ConnectionTrait,
    id: &str,
    owner: &str,
    error: &str,
    now: Timestamp,
) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::State, Expr::value(FAILED))
        .col_expr(Column::LastError, Expr::value(error.to_string()))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseUntil, Expr::value(Option::<Timestamp>::None))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::LeaseOwner.eq(owner))
        .exec(conn)
        .await?;
    Ok(())
}
