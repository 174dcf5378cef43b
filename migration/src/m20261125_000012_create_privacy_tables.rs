use crate::{fk, id, reference, reference_null};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // What is left of an erased person: the SHA-256 of their e-mail address,
        // so that address is never mailed again.
        manager
            .create_table(
                Table::create()
                    .table("email_suppressions")
                    .col(reference("workspace_id"))
                    .col(string_len("email_hash", 64))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("workspace_id").col("email_hash"))
                    .foreign_key(&mut fk("email_suppressions", "workspace_id", "workspaces", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        // Who erased whom, and when (the person's data itself is gone).
        manager
            .create_table(
                Table::create()
                    .table("erasure_audits")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(reference_null("staff_user_id"))
                    .col(string_len("subject_kind", 16))
                    .col(reference("subject_id"))
                    .col(timestamp_with_time_zone("erased_at"))
                    .foreign_key(&mut fk("erasure_audits", "workspace_id", "workspaces", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("erasure_audits").take()).await?;
        manager.drop_table(Table::drop().table("email_suppressions").take()).await
    }
}
