//! The transactional outbox. `enqueue` runs inside the caller's transaction;
//! the worker claims due rows with a lease, so a crashed worker's claim is
//! taken again once the lease runs out, and two workers never hold one row.
use crate::{clock::Timestamp, domain::Id, error::AppResult};
use entity::notification::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, Statement, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};

pub const QUEUED: &str = "queued";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";
pub const SUPPRESSED: &str = "suppressed";
pub const CANCELLED: &str = "cancelled";

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
    record_final(conn, n, QUEUED, None, message_domain, now).await
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
    pub kind: String,
    pub contact_id: Option<String>,
    /// Its contact as it is right now (read with the claim); none when it
    /// has none, or it was deleted.
    pub contact_now: Option<ContactNow>,
    /// Whether its customer's SMS consent is given right now.
    pub sms_consent: bool,
}

/// What decides, at send time, whether a contact may still get a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactNow {
    /// HUB access, the contact's and its customer's.
    pub hub_access: bool,
    pub subscribed: bool,
    pub email: String,
}

impl ContactNow {
    /// Read from the claim's packed column: access flag, subscription flag, e-mail.
    fn unpack(s: &str) -> Option<Self> {
        let mut chars = s.chars();
        let (access, subscribed) = (chars.next()?, chars.next()?);
        Some(Self { hub_access: access == 'o', subscribed: subscribed == 's', email: chars.as_str().to_string() })
    }
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
            kind: m.kind,
            contact_id: m.contact_id,
            contact_now: None,
            sms_consent: false,
        }
    }
}

/// Claims up to `limit` of the oldest due notifications for `owner` until
/// `lease_until`, in one statement (the worker sends them concurrently). On
/// PostgreSQL `FOR UPDATE SKIP LOCKED` lets replicas claim side by side;
/// SQLite has one writer at a time, so the plain statement is already atomic.
///
/// On PostgreSQL the statement runs in a transaction with sorting off. A
/// queue's statistics trail its bursts: planned with the statistics from
/// before 10,000 rows were queued, the claim read and sorted every queued row
/// to take the first few (28 ms a claim). With sorting off the planner walks
/// `ix_notifications_due` in the claim's order and stops at `limit`
/// (BENCHMARKS.md, fix 25).
pub async fn claim_due(
    db: &DatabaseConnection,
    owner: &str,
    now: Timestamp,
    lease_until: Timestamp,
    limit: u64,
) -> AppResult<Vec<Claimed>> {
    let backend = db.get_database_backend();
    let values = [owner.into(), lease_until.into(), now.into(), (limit as i64).into()];
    let statement = Statement::from_sql_and_values(backend, claim_sql(backend), values);
    let rows = match backend {
        DbBackend::Postgres => {
            let tx = begin_claim(db).await?;
            let rows = tx.query_all_raw(statement).await?;
            tx.commit().await?;
            rows
        }
        _ => db.query_all_raw(statement).await?,
    };
    let mut claimed = rows
        .iter()
        .map(|r| {
            let mut c: Claimed = Model::from_query_result(r, "")?.into();
            c.contact_now = r.try_get::<Option<String>>("", "contact_now")?.as_deref().and_then(ContactNow::unpack);
            c.sms_consent = r.try_get::<Option<bool>>("", "sms_consent")?.unwrap_or(false);
            Ok(c)
        })
        .collect::<AppResult<Vec<Claimed>>>()?;
    // RETURNING gives no order; ids are time-ordered (UUIDv7): oldest first.
    claimed.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(claimed)
}

/// The claim's transaction: on PostgreSQL with sorting off (see `claim_due`).
/// `claim_plan` explains the claim in the same kind of transaction.
async fn begin_claim(db: &DatabaseConnection) -> AppResult<DatabaseTransaction> {
    let tx = db.begin().await?;
    if tx.get_database_backend() == DbBackend::Postgres {
        tx.execute_unprepared("SET LOCAL enable_sort = off").await?;
    }
    Ok(tx)
}

/// What the claim reads besides the rows: the contact as it is now, packed
/// into one column (`o`pen or `c`losed HUB access, `s`ubscribed or `u`n-,
/// then the e-mail) so that one lookup serves, and the customer's SMS consent.
macro_rules! contact_now_columns {
    () => {
        "(SELECT CASE WHEN c.hub_access AND k.hub_access THEN 'o' ELSE 'c' END \
           || CASE WHEN c.subscribed THEN 's' ELSE 'u' END || c.email \
           FROM contacts c JOIN customers k ON k.id = c.customer_id \
           WHERE c.id = notifications.contact_id) AS contact_now, \
         (SELECT k.sms_consent_granted FROM customers k WHERE k.id = notifications.customer_id) AS sms_consent"
    };
}

fn claim_sql(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            concat!(
                "UPDATE notifications SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM notifications WHERE state = 'queued' AND next_attempt_at <= $3 \
               AND (lease_until IS NULL OR lease_until < $3) ORDER BY next_attempt_at, id LIMIT $4 \
               FOR UPDATE SKIP LOCKED) \
             RETURNING *, ",
                contact_now_columns!()
            )
        }
        _ => {
            concat!(
                "UPDATE notifications SET lease_owner = ?1, lease_until = ?2, attempts = attempts + 1, updated_at = ?3 \
             WHERE id IN (SELECT id FROM notifications WHERE state = 'queued' AND next_attempt_at <= ?3 \
               AND (lease_until IS NULL OR lease_until < ?3) ORDER BY next_attempt_at, id LIMIT ?4) \
             RETURNING *, ",
                contact_now_columns!()
            )
        }
    }
}

/// The plan the claim runs with, as the database explains it (one line per
/// node), for a test that pins it and for an operator who wonders.
pub async fn claim_plan(db: &DatabaseConnection, now: Timestamp) -> AppResult<Vec<String>> {
    let backend = db.get_database_backend();
    let explain = match backend {
        DbBackend::Postgres => "EXPLAIN ",
        _ => "EXPLAIN QUERY PLAN ",
    };
    let values = ["explain".into(), now.into(), now.into(), 8i64.into()];
    let statement = Statement::from_sql_and_values(backend, format!("{explain}{}", claim_sql(backend)), values);
    let tx = begin_claim(db).await?;
    let rows = tx.query_all_raw(statement).await?;
    tx.rollback().await?;
    let column = match backend {
        DbBackend::Postgres => "QUERY PLAN",
        _ => "detail",
    };
    rows.iter().map(|r| Ok(r.try_get::<String>("", column)?)).collect()
}

pub async fn mark_sent(
    conn: &impl ConnectionTrait,
    id: &str,
    owner: &str,
    provider_message_id: Option<&str>,
    now: Timestamp,
) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::State, Expr::value(SENT))
        .col_expr(Column::ProviderMessageId, Expr::value(provider_message_id.map(str::to_string)))
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

/// Marks the e-mails `owner` sent in one statement (one commit per batch).
pub async fn mark_sent_many(conn: &impl ConnectionTrait, ids: &[String], owner: &str, now: Timestamp) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::State, Expr::value(SENT))
        .col_expr(Column::SentAt, Expr::value(now))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseUntil, Expr::value(Option::<Timestamp>::None))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.is_in(ids.iter().map(String::as_str)))
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

/// Gives back one claim `owner` still holds, unsent, for the next claim; the
/// try is not counted. A claim another worker has taken since is left alone.
pub async fn give_back(conn: &impl ConnectionTrait, id: &str, owner: &str, now: Timestamp) -> AppResult<()> {
    release_where(conn, owner, Some(id), now).await.map(|_| ())
}

/// Gives back every claim `owner` still holds (a stopping replica's), for
/// another worker to take at once. The interrupted try is not counted.
/// Returns how many were released.
pub async fn release(conn: &impl ConnectionTrait, owner: &str, now: Timestamp) -> AppResult<u64> {
    release_where(conn, owner, None, now).await
}

/// Clears `owner`'s lease on its still-queued claims (one, or all) and
/// uncounts their try.
async fn release_where(conn: &impl ConnectionTrait, owner: &str, id: Option<&str>, now: Timestamp) -> AppResult<u64> {
    let mut update = Entity::update_many()
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).sub(1))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseUntil, Expr::value(Option::<Timestamp>::None))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::LeaseOwner.eq(owner))
        .filter(Column::State.eq(QUEUED));
    if let Some(id) = id {
        update = update.filter(Column::Id.eq(id));
    }
    Ok(update.exec(conn).await?.rows_affected)
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

/// Records a notification in `state`: `queued` for the worker (see `enqueue`),
/// `sent` for a HUB message written at once, or `suppressed` with the reason.
pub async fn record_final(
    conn: &impl ConnectionTrait,
    n: NewNotification,
    state: &str,
    suppress_reason: Option<&str>,
    message_domain: &str,
    now: Timestamp,
) -> AppResult<Id> {
    let id = Id::generate();
    Entity::insert(new_row(&id, n, state, suppress_reason, message_domain, now)).exec_without_returning(conn).await?;
    Ok(id)
}

/// A notification for `record_many`: queued, or recorded final with a reason.
pub struct Recorded {
    pub notification: NewNotification,
    pub state: &'static str,
    pub suppress_reason: Option<&'static str>,
}

/// Records many notifications with multi-row inserts (batched jobs).
pub async fn record_many(
    conn: &impl ConnectionTrait,
    rows: Vec<Recorded>,
    message_domain: &str,
    now: Timestamp,
) -> AppResult<()> {
    // 21 columns a row: 500 rows stay far under both databases' bind limits.
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk = rows
            .by_ref()
            .take(500)
            .map(|r| new_row(&Id::generate(), r.notification, r.state, r.suppress_reason, message_domain, now));
        Entity::insert_many(chunk).exec_without_returning(conn).await?;
    }
    Ok(())
}

fn new_row(
    id: &Id,
    n: NewNotification,
    state: &str,
    suppress_reason: Option<&str>,
    message_domain: &str,
    now: Timestamp,
) -> ActiveModel {
    ActiveModel {
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
        state: Set(state.into()),
        suppress_reason: Set(suppress_reason.map(str::to_string)),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        sent_at: Set((state == SENT).then_some(now)),
        provider_message_id: Set(None),
    }
}

/// Suppresses what is still queued for a contact, with the reason: it was
/// deleted, lost HUB access, or its address changed since the mail was
/// queued, so the mail must not reach whoever reads that address now. A
/// mail a worker is sending right now is recorded as it ends.
pub async fn suppress_queued_to_contact(
    conn: &impl ConnectionTrait,
    contact_id: &Id,
    reason: &str,
    now: Timestamp,
) -> AppResult<()> {
    suppress_queued(conn, Column::ContactId.eq(contact_id.as_str()), reason, now).await
}

/// As `suppress_queued_to_contact`, for every contact of a customer.
pub async fn suppress_queued_to_contacts_of(
    conn: &impl ConnectionTrait,
    customer_id: &Id,
    reason: &str,
    now: Timestamp,
) -> AppResult<()> {
    let which = Column::CustomerId.eq(customer_id.as_str()).and(Column::ContactId.is_not_null());
    suppress_queued(conn, which, reason, now).await
}

/// A customer's book-again SMS still queued (waiting on the gateway, say)
/// when its SMS consent is withdrawn are not sent.
pub async fn suppress_queued_book_again_sms(
    conn: &impl ConnectionTrait,
    customer_id: &Id,
    reason: &str,
    now: Timestamp,
) -> AppResult<()> {
    let which = Column::CustomerId
        .eq(customer_id.as_str())
        .and(Column::Kind.eq(crate::domain::notification::NotificationKind::BookAgain.as_str()))
        .and(Column::Channel.eq("sms"));
    suppress_queued(conn, which, reason, now).await
}

async fn suppress_queued(
    conn: &impl ConnectionTrait,
    which: sea_orm::sea_query::SimpleExpr,
    reason: &str,
    now: Timestamp,
) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::State, Expr::value(SUPPRESSED))
        .col_expr(Column::SuppressReason, Expr::value(reason.to_string()))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::State.eq(QUEUED))
        .filter(which)
        .exec(conn)
        .await?;
    Ok(())
}

/// Marks a claimed notification suppressed (e.g. unsubscribed since it was queued).
pub async fn mark_suppressed(
    conn: &impl ConnectionTrait,
    id: &str,
    owner: &str,
    reason: &str,
    now: Timestamp,
) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::State, Expr::value(SUPPRESSED))
        .col_expr(Column::SuppressReason, Expr::value(reason.to_string()))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseUntil, Expr::value(Option::<Timestamp>::None))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::LeaseOwner.eq(owner))
        .exec(conn)
        .await?;
    Ok(())
}

fn to_delivery(m: Model) -> crate::domain::inbox::Delivery {
    use crate::domain::{
        inbox::{Delivery, DeliveryState},
        notification::NotificationKind,
    };
    Delivery {
        id: Id::from_stored(m.id),
        kind: NotificationKind::from_stored(&m.kind),
        channel: m.channel,
        recipient: m.recipient,
        contact_id: m.contact_id.map(Id::from_stored),
        customer_id: m.customer_id.map(Id::from_stored),
        subject: m.subject,
        state: DeliveryState::from_stored(&m.state),
        suppress_reason: m.suppress_reason,
        attempts: m.attempts,
        last_error: m.last_error,
        created_at: m.created_at,
        sent_at: m.sent_at,
        next_attempt_at: m.next_attempt_at,
    }
}

/// Delivery history of a customer (optionally one contact), newest first.
pub async fn history(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    customer_id: &Id,
    contact_id: Option<&Id>,
    page: crate::domain::page::PageRequest<String>,
) -> AppResult<crate::domain::page::Page<crate::domain::inbox::Delivery>> {
    use sea_orm::{QueryOrder, QuerySelect};
    let mut q = Entity::find()
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::CustomerId.eq(customer_id.as_str()));
    if let Some(c) = contact_id {
        q = q.filter(Column::ContactId.eq(c.as_str()));
    }
    if let Some(before) = &page.after {
        q = q.filter(Column::Id.lt(before.as_str()));
    }
    let rows = q.order_by_desc(Column::Id).limit(page.size + 1).all(conn).await?;
    Ok(crate::domain::page::page_from(rows.into_iter().map(to_delivery).collect(), page.size, |d| d.id.to_string()))
}

/// Per channel: queued count and the oldest queued notification's creation time.
pub async fn queue_stats(conn: &impl ConnectionTrait) -> AppResult<Vec<(String, i64, Option<Timestamp>)>> {
    use sea_orm::QuerySelect;
    let rows: Vec<(String, i64, Option<Timestamp>)> = Entity::find()
        .select_only()
        .column(Column::Channel)
        .column_as(Column::Id.count(), "n")
        .column_as(Column::CreatedAt.min(), "oldest")
        .filter(Column::State.eq(QUEUED))
        .group_by(Column::Channel)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows)
}

/// The workspace's failed deliveries, newest first.
pub async fn failed(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    page: crate::domain::page::PageRequest<String>,
) -> AppResult<crate::domain::page::Page<crate::domain::inbox::Delivery>> {
    use sea_orm::{QueryOrder, QuerySelect};
    let mut q = Entity::find().filter(Column::WorkspaceId.eq(workspace_id.as_str())).filter(Column::State.eq(FAILED));
    if let Some(before) = &page.after {
        q = q.filter(Column::Id.lt(before.as_str()));
    }
    let rows = q.order_by_desc(Column::Id).limit(page.size + 1).all(conn).await?;
    Ok(crate::domain::page::page_from(rows.into_iter().map(to_delivery).collect(), page.size, |d| d.id.to_string()))
}

/// Queues failed deliveries again (the given ones, or all) with a fresh set of attempts.
pub async fn retry_failed(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    ids: Option<&[Id]>,
    now: Timestamp,
) -> AppResult<u64> {
    let mut q = Entity::update_many()
        .col_expr(Column::State, Expr::value(QUEUED))
        .col_expr(Column::Attempts, Expr::value(0))
        .col_expr(Column::NextAttemptAt, Expr::value(now))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::State.eq(FAILED));
    if let Some(ids) = ids {
        q = q.filter(Column::Id.is_in(ids.iter().map(Id::to_string)));
    }
    Ok(q.exec(conn).await?.rows_affected)
}

/// Cancels queued deliveries that no worker holds right now.
pub async fn cancel_queued(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    ids: &[Id],
    now: Timestamp,
) -> AppResult<u64> {
    Ok(Entity::update_many()
        .col_expr(Column::State, Expr::value(CANCELLED))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::WorkspaceId.eq(workspace_id.as_str()))
        .filter(Column::State.eq(QUEUED))
        .filter(sea_orm::Condition::any().add(Column::LeaseUntil.is_null()).add(Column::LeaseUntil.lt(now)))
        .filter(Column::Id.is_in(ids.iter().map(Id::to_string)))
        .exec(conn)
        .await?
        .rows_affected)
}

/// The first of `ids` that is not a notification of the workspace, if any.
pub async fn first_unknown(conn: &impl ConnectionTrait, workspace_id: &Id, ids: &[Id]) -> AppResult<Option<Id>> {
    super::first_unknown::<Entity>(conn, Column::WorkspaceId, workspace_id, Column::Id, ids).await
}
