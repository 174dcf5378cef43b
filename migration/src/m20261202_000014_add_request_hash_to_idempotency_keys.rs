use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    /// A key remembers a fingerprint of the request that created its
    /// resource, so that the same `request_id` with a different request is
    /// refused instead of answered with the first one's resource (a write
    /// silently dropped). Keys stored before have none and replay as before.
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table("idempotency_keys").add_column(string_len_null("request_hash", 64)).take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("idempotency_keys").drop_column("request_hash").take()).await
    }
}
