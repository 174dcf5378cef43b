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
                    .table("workspaces")
                    .col(id("id"))
                    .col(string("name"))
                    .col(string("time_zone"))
                    .col(string_len("default_locale", 8))
                    .col(string_len("default_tone", 16))
                    .col(string("sender_name"))
                    .col(string("sender_email"))
                    .col(string("hub_base_url"))
                    .col(string("booking_url"))
                    .col(boolean("sms_enabled"))
                    .col(big_integer("sms_price_minor"))
                    .col(string_len("sms_currency", 3))
                    .col(string_len("book_again_sms_payer", 16))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("areas")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(string("name"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("areas", "workspace_id", "workspaces", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager.create_index(index("areas", "ux_areas_workspace_name", &["workspace_id", "name"]).unique().take()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("areas").take()).await?;
        manager.drop_table(Table::drop().table("workspaces").take()).await
    }
}
