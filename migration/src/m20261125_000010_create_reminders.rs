use crate::{fk, id, index, reference, reference_null};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SMS providers report delivery by their own message id.
        manager
            .alter_table(Table::alter().table("notifications").add_column(string_null("provider_message_id")).take())
            .await?;
        manager
            .create_index(index("notifications", "ix_notifications_provider_message", &["provider_message_id"]))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("reminder_types")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(string("name"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("reminder_types", "workspace_id", "workspaces", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("reminder_types", "ux_reminder_types_name", &["workspace_id", "name"]).unique().take())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("reminders")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(reference("customer_id"))
                    .col(string("name"))
                    .col(date("first_date"))
                    .col(reference_null("reminder_type_id"))
                    .col(text("text"))
                    .col(string_len("frequency", 16))
                    .col(integer("interval"))
                    // Weekly days as RFC 5545 codes, e.g. "MO,WE".
                    .col(string("weekdays"))
                    .col(string_len("monthly_by", 16))
                    .col(integer("week_of_month"))
                    .col(string_len("weekday", 2))
                    .col(date_null("until"))
                    .col(string_len("delivery", 16))
                    .col(string_len("receivers", 16))
                    .col(reference_null("created_by"))
                    // The next occurrence to fire; NULL when none is left.
                    .col(timestamp_with_time_zone_null("next_fire_at"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("reminders", "workspace_id", "workspaces", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk("reminders", "customer_id", "customers", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk("reminders", "reminder_type_id", "reminder_types", ForeignKeyAction::SetNull))
                    .take(),
            )
            .await?;
        manager.create_index(index("reminders", "ix_reminders_due", &["next_fire_at"])).await?;
        manager.create_index(index("reminders", "ix_reminders_customer", &["customer_id", "id"])).await?;
        // One row per (reminder, occurrence): the exactly-once key of firing.
        manager
            .create_table(
                Table::create()
                    .table("reminder_firings")
                    .col(reference("reminder_id"))
                    .col(timestamp_with_time_zone("occurrence_at"))
                    // "fired", or "skipped" for occurrences missed while no replica ran.
                    .col(string_len("outcome", 16))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("reminder_id").col("occurrence_at"))
                    .foreign_key(&mut fk("reminder_firings", "reminder_id", "reminders", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["reminder_firings", "reminders", "reminder_types"] {
            manager.drop_table(Table::drop().table(t).take()).await?;
        }
        manager
            .drop_index(Index::drop().name("ix_notifications_provider_message").table("notifications").to_owned())
            .await?;
        manager.alter_table(Table::alter().table("notifications").drop_column("provider_message_id").take()).await
    }
}
