//! Idempotent creates: the key row is inserted in the creating transaction.
use crate::domain::Id;
use crate::{clock::Timestamp, error::AppResult};
use entity::idempotency_key::{ActiveModel, Entity};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

/// The resource an earlier call with this key created, if any.
pub async fn find(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    operation: &str,
    request_id: &str,
) -> AppResult<Option<Id>> {
    let row =
        Entity::find_by_id((workspace_id.to_string(), operation.to_string(), request_id.to_string())).one(conn).await?;
    Ok(row.map(|r| Id::from_stored(r.resource_id)))
}

/// Records the key; fails with a unique violation when a concurrent call won.
pub async fn insert(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    operation: &str,
    request_id: &str,
    resource_id: &Id,
    now: Timestamp,
) -> Result<(), sea_orm::DbErr> {
    Entity::insert(ActiveModel {
        workspace_id: Set(workspace_id.to_string()),
        operation: Set(operation.to_string()),
        request_id: Set(request_id.to_string()),
        resource_id: Set(resource_id.to_string()),
        created_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}
