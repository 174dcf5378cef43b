use crate::index;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    /// The delivery worker claims the oldest due notifications with
    /// `ORDER BY next_attempt_at, id LIMIT n`. With `id` in the index the
    /// database walks it in that order and stops after `n` rows; without, it
    /// read and sorted every queued row for each claim (28 ms a claim with
    /// 10,000 queued on PostgreSQL: BENCHMARKS.md, fix 25).
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_notifications_due").table("notifications").to_owned()).await?;
        manager.create_index(index("notifications", "ix_notifications_due", &["state", "next_attempt_at", "id"])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_notifications_due").table("notifications").to_owned()).await?;
        manager.create_index(index("notifications", "ix_notifications_due", &["state", "next_attempt_at"])).await
    }
}
