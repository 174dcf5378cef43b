use crate::{auth::tokens, clock::Timestamp, domain::Id, error::AppResult};
use entity::hub_session::{ActiveModel, Column, Entity};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// Starts a session and returns its token, which is not kept.
pub async fn create(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    contact_id: &Id,
    now: Timestamp,
    expires_at: Timestamp,
) -> AppResult<String> {
    let token = tokens::new_hub_session_token();
    Entity::insert(ActiveModel {
        id: Set(Id::generate().to_string()),
        workspace_id: Set(workspace_id.to_string()),
        contact_id: Set(contact_id.to_string()),
        token_hash: Set(tokens::hash(&token)),
        created_at: Set(now),
        expires_at: Set(expires_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(token)
}

pub async fn delete(conn: &impl ConnectionTrait, session_id: &Id) -> AppResult<()> {
    Entity::delete_by_id(session_id.to_string()).exec(conn).await?;
    Ok(())
}

/// Ends every session of a contact (HUB access removed, contact deleted).
pub async fn delete_for_contact(conn: &impl ConnectionTrait, contact_id: &Id) -> AppResult<()> {
    Entity::delete_many().filter(Column::ContactId.eq(contact_id.as_str())).exec(conn).await?;
    Ok(())
}

/// Whether a session still counts: unexpired, and contact and customer still have HUB access.
pub async fn is_valid(conn: &impl ConnectionTrait, session_id: &Id, now: crate::clock::Timestamp) -> AppResult<bool> {
    let Some(s) = Entity::find_by_id(session_id.to_string()).one(conn).await? else { return Ok(false) };
    if s.expires_at <= now {
        return Ok(false);
    }
    let Some(c) = entity::contact::Entity::find_by_id(s.contact_id).one(conn).await? else { return Ok(false) };
    let customer = entity::customer::Entity::find_by_id(c.customer_id).one(conn).await?;
    Ok(c.hub_access && customer.is_some_and(|k| k.hub_access))
}
