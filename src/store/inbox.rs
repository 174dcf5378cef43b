//! Inboxes with a gap-free sequence per recipient.
use crate::{
    clock::Timestamp,
    domain::{
        Id,
        inbox::{InboxMessage, RecipientKind},
        notification::NotificationKind,
        page::{Page, PageRequest, page_from},
    },
    error::AppResult,
};
use entity::inbox_message::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, sea_query::Expr,
};

fn to_domain(m: Model) -> InboxMessage {
    InboxMessage {
        id: Id::from_stored(m.id),
        seq: m.seq,
        kind: NotificationKind::from_stored(&m.kind),
        title: m.title,
        body: m.body,
        link: m.link,
        customer_id: m.customer_id.map(Id::from_stored),
        created_at: m.created_at,
        read_at: m.read_at,
    }
}

pub struct NewInboxMessage<'a> {
    pub workspace_id: &'a Id,
    pub recipient_kind: RecipientKind,
    pub recipient_id: &'a Id,
    pub customer_id: Option<&'a Id>,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    pub link: String,
}

/// Appends a message. The counter upsert locks the recipient's counter row
/// until commit, so concurrent writers to one inbox commit in sequence order
/// and a reader that has seen N can always ask for "after N".
pub async fn append(conn: &impl ConnectionTrait, m: NewInboxMessage<'_>, now: Timestamp) -> AppResult<InboxMessage> {
    let backend = conn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "INSERT INTO inbox_counters (recipient_id, last_seq) VALUES ($1, 1) \
             ON CONFLICT (recipient_id) DO UPDATE SET last_seq = inbox_counters.last_seq + 1 RETURNING last_seq"
        }
        _ => {
            "INSERT INTO inbox_counters (recipient_id, last_seq) VALUES (?1, 1) \
             ON CONFLICT (recipient_id) DO UPDATE SET last_seq = inbox_counters.last_seq + 1 RETURNING last_seq"
        }
    };
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [m.recipient_id.to_string().into()]))
        .await?
        .ok_or_else(|| anyhow::anyhow!("inbox counter upsert returned nothing"))?;
    let seq: i64 = row.try_get("", "last_seq")?;
    let id = Id::generate();
    let model = Model {
        id: id.to_string(),
        workspace_id: m.workspace_id.to_string(),
        recipient_kind: m.recipient_kind.as_str().into(),
        recipient_id: m.recipient_id.to_string(),
        customer_id: m.customer_id.map(Id::to_string),
        seq,
        kind: m.kind.as_str().into(),
        title: m.title,
        body: m.body,
        link: m.link,
        created_at: now,
        read_at: None,
    };
    Entity::insert(ActiveModel {
        id: Set(model.id.clone()),
        workspace_id: Set(model.workspace_id.clone()),
        recipient_kind: Set(model.recipient_kind.clone()),
        recipient_id: Set(model.recipient_id.clone()),
        customer_id: Set(model.customer_id.clone()),
        seq: Set(seq),
        kind: Set(model.kind.clone()),
        title: Set(model.title.clone()),
        body: Set(model.body.clone()),
        link: Set(model.link.clone()),
        created_at: Set(now),
        read_at: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(to_domain(model))
}

/// Messages after `seq`, oldest first: what a resuming stream replays.
pub async fn after(conn: &impl ConnectionTrait, recipient: &Id, seq: i64, limit: u64) -> AppResult<Vec<InboxMessage>> {
    Ok(Entity::find()
        .filter(Column::RecipientId.eq(recipient.as_str()))
        .filter(Column::Seq.gt(seq))
        .order_by_asc(Column::Seq)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// Newest first, by sequence.
pub async fn list(
    conn: &impl ConnectionTrait,
    recipient: &Id,
    unread_only: bool,
    page: PageRequest<i64>,
) -> AppResult<Page<InboxMessage>> {
    let mut q = Entity::find().filter(Column::RecipientId.eq(recipient.as_str()));
    if unread_only {
        q = q.filter(Column::ReadAt.is_null());
    }
    if let Some(before) = page.after {
        q = q.filter(Column::Seq.lt(before));
    }
    let rows = q.order_by_desc(Column::Seq).limit(page.size + 1).all(conn).await?;
    Ok(page_from(rows.into_iter().map(to_domain).collect(), page.size, |m: &InboxMessage| m.seq))
}

pub async fn unread_count(conn: &impl ConnectionTrait, recipient: &Id) -> AppResult<i64> {
    Ok(Entity::find()
        .filter(Column::RecipientId.eq(recipient.as_str()))
        .filter(Column::ReadAt.is_null())
        .count(conn)
        .await? as i64)
}

/// Marks the given messages (or all) of this recipient read; others' ids are ignored.
pub async fn mark_read(
    conn: &impl ConnectionTrait,
    recipient: &Id,
    ids: Option<&[Id]>,
    now: Timestamp,
) -> AppResult<()> {
    let mut q = Entity::update_many()
        .col_expr(Column::ReadAt, Expr::value(now))
        .filter(Column::RecipientId.eq(recipient.as_str()))
        .filter(Column::ReadAt.is_null());
    if let Some(ids) = ids {
        q = q.filter(Column::Id.is_in(ids.iter().map(Id::to_string)));
    }
    q.exec(conn).await?;
    Ok(())
}
