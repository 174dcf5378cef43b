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

/// Ends every session of a customer's contacts (the customer's HUB access
/// removed, or a private customer's login e-mail changed).
pub async fn delete_for_customer(conn: &impl ConnectionTrait, customer_id: &Id) -> AppResult<()> {
    use entity::contact;
    use sea_orm::sea_query::Query;
    let contacts = Query::select()
        .column(contact::Column::Id)
        .from(contact::Entity)
        .and_where(contact::Column::CustomerId.eq(customer_id.as_str()))
        .to_owned();
    Entity::delete_many().filter(Column::ContactId.in_subquery(contacts)).exec(conn).await?;
    Ok(())
}
