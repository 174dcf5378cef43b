use crate::{fk, reference};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    /// A create with a `request_id` inserts its key here in the same
    /// transaction as the resource; a retry finds the key and returns the
    /// resource instead of creating another (insert-or-nothing).
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .col(reference("workspace_id"))
                    .col(string_len("operation", 64))
                    .col(string_len("request_id", 128))
                    .col(reference("resource_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("workspace_id").col("operation").col("request_id"))
                    .foreign_key(&mut fk("idempotency_keys", "workspace_id", "workspaces", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("idempotency_keys").take()).await
    }
}
