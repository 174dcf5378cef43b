use crate::index;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

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
    ///
    /// On PostgreSQL each page also keeps half its room free. A notification
    /// is rewritten on every claim and record; with room on its page the new
    /// row version stays there and no index changes (a HOT update), instead
    /// of five index entries per write (BENCHMARKS.md, fix 26). SQLite updates
    /// in place and has no such setting. The setting applies to pages written
    /// from now on; rows already stored keep their packed pages until they
    /// are purged, so nothing is rewritten while the migration holds its lock.
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_notifications_due").table("notifications").to_owned()).await?;
        manager
            .create_index(index("notifications", "ix_notifications_due", &["state", "next_attempt_at", "id"]))
            .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager.get_connection().execute_unprepared("ALTER TABLE notifications SET (fillfactor = 50)").await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager.get_connection().execute_unprepared("ALTER TABLE notifications RESET (fillfactor)").await?;
        }
        manager.drop_index(Index::drop().name("ix_notifications_due").table("notifications").to_owned()).await?;
        manager.create_index(index("notifications", "ix_notifications_due", &["state", "next_attempt_at"])).await
    }
}
