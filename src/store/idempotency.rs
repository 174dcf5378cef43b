//! Idempotent creates: the key row is inserted in the creating transaction.
use crate::domain::{Id, RequestKey};
use crate::{clock::Timestamp, error::AppResult};
use entity::idempotency_key::{ActiveModel, Entity};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

/// What an earlier call with a key created, and the fingerprint of its request.
pub struct Stored {
    pub resource_id: Id,
    /// None on keys stored before fingerprints were kept.
    pub request_hash: Option<String>,
}

/// The resource an earlier call with this key created, if any.
pub async fn find(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    operation: &str,
    request_id: &str,
) -> AppResult<Option<Stored>> {
    let row =
        Entity::find_by_id((workspace_id.to_string(), operation.to_string(), request_id.to_string())).one(conn).await?;
    Ok(row.map(|r| Stored { resource_id: Id::from_stored(r.resource_id), request_hash: r.request_hash }))
}

/// Records the key; fails with a unique violation when a concurrent call won.
pub async fn insert(
    conn: &impl ConnectionTrait,
    workspace_id: &Id,
    operation: &str,
    key: &RequestKey,
    resource_id: &Id,
    now: Timestamp,
) -> Result<(), sea_orm::DbErr> {
    Entity::insert(ActiveModel {
        workspace_id: Set(workspace_id.to_string()),
        operation: Set(operation.to_string()),
        request_id: Set(key.id.clone()),
        resource_id: Set(resource_id.to_string()),
        request_hash: Set(Some(key.fingerprint.clone())),
        created_at: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}
