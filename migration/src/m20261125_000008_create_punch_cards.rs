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
        manager
            .alter_table(
                Table::alter()
                    .table("workspaces")
                    .add_column(boolean("allow_expired_card_registration").default(false))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("punch_cards")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(reference("customer_id"))
                    .col(string("name"))
                    .col(string_len("unit", 16))
                    // Punches, or minutes for an hours card: exact, never floats.
                    .col(big_integer("total"))
                    .col(big_integer("used"))
                    .col(date("start_date"))
                    .col(date_null("expiry_date"))
                    .col(reference_null("created_by"))
                    .col(boolean_null("notify"))
                    // One flag per threshold: set when its notification fired,
                    // cleared when the balance rises back above it (re-armed).
                    .col(boolean("low_fired"))
                    .col(boolean("used_up_fired"))
                    .col(boolean("overdrawn_fired"))
                    .col(boolean("expiring_fired"))
                    .col(boolean("expired_fired"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("punch_cards", "workspace_id", "workspaces", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk("punch_cards", "customer_id", "customers", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager.create_index(index("punch_cards", "ix_punch_cards_customer", &["customer_id", "id"])).await?;
        manager.create_index(index("punch_cards", "ix_punch_cards_expiry", &["expiry_date"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("punch_registrations")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(reference("punch_card_id"))
                    .col(reference("customer_id"))
                    .col(date("performed_on"))
                    .col(text("description"))
                    .col(big_integer("amount"))
                    .col(reference_null("registered_by"))
                    .col(boolean_null("notify"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "punch_registrations",
                        "punch_card_id",
                        "punch_cards",
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("punch_registrations", "ix_punch_registrations_card", &["punch_card_id", "id"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("punch_registrations").take()).await?;
        manager.drop_table(Table::drop().table("punch_cards").take()).await?;
        manager
            .alter_table(Table::alter().table("workspaces").drop_column("allow_expired_card_registration").take())
            .await
    }
}
