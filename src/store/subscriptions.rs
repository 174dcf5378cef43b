//! E-mail subscription state of contacts, with its history.
use crate::{
    auth::tokens,
    clock::Timestamp,
    domain::{
        Id,
        inbox::{SubscriptionEvent, SubscriptionSource},
        page::{Page, PageRequest, page_from},
    },
    error::AppResult,
};
use entity::{contact, subscription_event};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

fn to_domain(m: subscription_event::Model) -> SubscriptionEvent {
    SubscriptionEvent {
        id: Id::from_stored(m.id),
        contact_id: Id::from_stored(m.contact_id),
        subscribed: m.subscribed,
        source: SubscriptionSource::from_stored(&m.source),
        shown_text: m.shown_text,
        staff_user_id: m.staff_user_id.map(Id::from_stored),
        created_at: m.created_at,
    }
}

/// Sets the contact's state and records the change.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    contact_id: &Id,
    subscribed: bool,
    source: SubscriptionSource,
    shown_text: &str,
    staff_user_id: Option<&Id>,
    now: Timestamp,
) -> AppResult<SubscriptionEvent> {
    contact::Entity::update_many()
        .col_expr(contact::Column::Subscribed, Expr::value(subscribed))
        .col_expr(contact::Column::UpdatedAt, Expr::value(now))
        .filter(contact::Column::Id.eq(contact_id.as_str()))
        .exec(conn)
        .await?;
    let m = subscription_event::Model {
        id: Id::generate().to_string(),
        workspace_id: workspace_id.to_string(),
        contact_id: contact_id.to_string(),
        subscribed,
        source: source.as_str().into(),
        shown_text: shown_text.chars().take(2000).collect(),
        staff_user_id: staff_user_id.map(Id::to_string),
        created_at: now,
    };
    subscription_event::Entity::insert(subscription_event::ActiveModel {
        id: Set(m.id.clone()),
        workspace_id: Set(m.workspace_id.clone()),
        contact_id: Set(m.contact_id.clone()),
        subscribed: Set(m.subscribed),
        source: Set(m.source.clone()),
        shown_text: Set(m.shown_text.clone()),
        staff_user_id: Set(m.staff_user_id.clone()),
        created_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(to_domain(m))
}

pub async fn list(
    conn: &impl ConnectionTrait,
    contact_id: &Id,
    page: PageRequest<String>,
) -> AppResult<Page<SubscriptionEvent>> {
    let mut q =
        subscription_event::Entity::find().filter(subscription_event::Column::ContactId.eq(contact_id.as_str()));
    if let Some(before) = &page.after {
        q = q.filter(subscription_event::Column::Id.lt(before.as_str()));
    }
    let rows = q.order_by_desc(subscription_event::Column::Id).limit(page.size + 1).all(conn).await?;
    Ok(page_from(rows.into_iter().map(to_domain).collect(), page.size, |e: &SubscriptionEvent| e.id.to_string()))
}

/// The contact an unsubscribe token belongs to: (workspace, contact, e-mail).
pub async fn find_by_token(conn: &impl ConnectionTrait, token: &str) -> AppResult<Option<(Id, Id, String)>> {
    if token.is_empty() {
        return Ok(None);
    }
    Ok(contact::Entity::find()
        .filter(contact::Column::UnsubscribeToken.eq(token))
        .one(conn)
        .await?
        .map(|m| (Id::from_stored(m.workspace_id), Id::from_stored(m.id), m.email)))
}

/// The contact's unsubscribe token, made on first use.
pub async fn token_of(conn: &impl ConnectionTrait, contact_id: &Id) -> AppResult<String> {
    let existing =
        contact::Entity::find_by_id(contact_id.to_string()).one(conn).await?.and_then(|m| m.unsubscribe_token);
    if let Some(t) = existing {
        return Ok(t);
    }
    let token = tokens::new_activation_token();
    contact::Entity::update_many()
        .col_expr(contact::Column::UnsubscribeToken, Expr::value(token.clone()))
        .filter(contact::Column::Id.eq(contact_id.as_str()))
        .filter(contact::Column::UnsubscribeToken.is_null())
        .exec(conn)
        .await?;
    Ok(contact::Entity::find_by_id(contact_id.to_string())
        .one(conn)
        .await?
        .and_then(|m| m.unsubscribe_token)
        .unwrap_or(token))
}
