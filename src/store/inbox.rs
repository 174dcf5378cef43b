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
use entity::{
    inbox_counter,
    inbox_message::{ActiveModel, Column, Entity, Model},
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Alias, Expr, ExprTrait, OnConflict},
};
use std::collections::{BTreeMap, HashMap};

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
    let mut stored = append_many(conn, std::slice::from_ref(&m), now).await?;
    Ok(stored.pop().ok_or_else(|| anyhow::anyhow!("inbox append stored nothing"))?)
}

fn new_row(m: &Model) -> ActiveModel {
    ActiveModel {
        id: Set(m.id.clone()),
        workspace_id: Set(m.workspace_id.clone()),
        recipient_kind: Set(m.recipient_kind.clone()),
        recipient_id: Set(m.recipient_id.clone()),
        customer_id: Set(m.customer_id.clone()),
        seq: Set(m.seq),
        kind: Set(m.kind.clone()),
        title: Set(m.title.clone()),
        body: Set(m.body.clone()),
        link: Set(m.link.clone()),
        created_at: Set(m.created_at),
        read_at: Set(m.read_at),
    }
}

/// Rows per multi-row insert: far under both databases' bind limits.
const ROWS_PER_STATEMENT: usize = 500;

/// Appends many messages at once, in order: each recipient's counter moves
/// by its message count in one multi-row upsert (recipients in sorted
/// order, so two batches lock shared counters in the same order and cannot
/// deadlock), then the messages go in with multi-row inserts. Returns the
/// stored messages in input order. Same locking as `append`: call it last
/// in the transaction, since the counter rows stay locked until commit.
pub async fn append_many(
    conn: &impl ConnectionTrait,
    messages: &[NewInboxMessage<'_>],
    now: Timestamp,
) -> AppResult<Vec<InboxMessage>> {
    let mut counts: BTreeMap<&Id, i64> = BTreeMap::new();
    for m in messages {
        *counts.entry(m.recipient_id).or_default() += 1;
    }
    // The next sequence number to hand out, per recipient.
    let mut next: HashMap<String, i64> = HashMap::new();
    let counts: Vec<(&Id, i64)> = counts.into_iter().collect();
    for chunk in counts.chunks(ROWS_PER_STATEMENT) {
        let rows = chunk.iter().map(|(recipient, n)| inbox_counter::ActiveModel {
            recipient_id: Set(recipient.to_string()),
            last_seq: Set(*n),
        });
        let bumped = inbox_counter::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(inbox_counter::Column::RecipientId)
                    .value(
                        inbox_counter::Column::LastSeq,
                        Expr::col((inbox_counter::Entity, inbox_counter::Column::LastSeq))
                            .add(Expr::col((Alias::new("excluded"), inbox_counter::Column::LastSeq))),
                    )
                    .to_owned(),
            )
            .exec_with_returning(conn)
            .await?;
        for row in bumped {
            let added = chunk
                .iter()
                .find(|(r, _)| r.as_str() == row.recipient_id)
                .map(|(_, n)| *n)
                .ok_or_else(|| anyhow::anyhow!("inbox counter upsert returned an unknown recipient"))?;
            next.insert(row.recipient_id, row.last_seq - added + 1);
        }
    }
    let mut stored = Vec::with_capacity(messages.len());
    for m in messages {
        let seq = next
            .get_mut(m.recipient_id.as_str())
            .ok_or_else(|| anyhow::anyhow!("inbox counter upsert returned no row for a recipient"))?;
        stored.push(Model {
            id: Id::generate().to_string(),
            workspace_id: m.workspace_id.to_string(),
            recipient_kind: m.recipient_kind.as_str().into(),
            recipient_id: m.recipient_id.to_string(),
            customer_id: m.customer_id.map(Id::to_string),
            seq: *seq,
            kind: m.kind.as_str().into(),
            title: m.title.clone(),
            body: m.body.clone(),
            link: m.link.clone(),
            created_at: now,
            read_at: None,
        });
        *seq += 1;
    }
    for chunk in stored.chunks(ROWS_PER_STATEMENT) {
        Entity::insert_many(chunk.iter().map(new_row)).exec_without_returning(conn).await?;
    }
    Ok(stored.into_iter().map(to_domain).collect())
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

/// A deleted contact's inbox goes with it (the table has no foreign key:
/// recipients are contacts or staff users).
pub async fn delete_for_recipient(conn: &impl ConnectionTrait, recipient: &Id) -> AppResult<()> {
    entity::inbox_message::Entity::delete_many()
        .filter(entity::inbox_message::Column::RecipientId.eq(recipient.as_str()))
        .exec(conn)
        .await?;
    entity::inbox_counter::Entity::delete_by_id(recipient.to_string()).exec(conn).await?;
    Ok(())
}

/// A deleted customer's messages go with it: its contacts' inboxes and the
/// staff's messages about it, whose links lead nowhere now.
pub async fn delete_for_customer(conn: &impl ConnectionTrait, customer_id: &Id) -> AppResult<()> {
    entity::inbox_message::Entity::delete_many()
        .filter(entity::inbox_message::Column::CustomerId.eq(customer_id.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}

/// The sequence number of the recipient's latest message (0: none yet).
pub async fn last_seq(conn: &impl ConnectionTrait, recipient: &Id) -> AppResult<i64> {
    let row = entity::inbox_counter::Entity::find_by_id(recipient.to_string()).one(conn).await?;
    Ok(row.map_or(0, |r| r.last_seq))
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

/// The first of `ids` that is not a message of the recipient's, if any.
pub async fn first_unknown(conn: &impl ConnectionTrait, recipient: &Id, ids: &[Id]) -> AppResult<Option<Id>> {
    super::first_unknown::<Entity>(conn, Column::RecipientId, recipient, Column::Id, ids).await
}
