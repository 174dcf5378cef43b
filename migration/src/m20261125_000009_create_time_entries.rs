use crate::{fk, id, index, reference};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("time_entries")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(reference("customer_id"))
                    .col(string("title"))
                    .col(text("description"))
                    .col(date("performed_on"))
                    .col(big_integer("billed_minutes"))
                    .col(big_integer_null("actual_minutes"))
                    .col(boolean("billable"))
                    // No foreign key: the entry keeps its history when the staff user is deleted.
                    .col(reference("registered_by"))
                    // The per-entry notification choice; NULL followed the workspace's mode.
                    .col(boolean_null("notify"))
                    // Set once; an invoiced entry is locked.
                    .col(timestamp_with_time_zone_null("invoiced_at"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("time_entries", "workspace_id", "workspaces", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk("time_entries", "customer_id", "customers", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        // The list order (newest day first, then id) and the period filter of totals.
        manager
            .create_index(index(
                "time_entries",
                "ix_time_entries_customer_performed",
                &["customer_id", "performed_on", "id"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("time_entries").take()).await
    }
}
