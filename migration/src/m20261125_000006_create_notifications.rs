use crate::{fk, id, index, reference, reference_null};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    /// The transactional outbox and delivery history in one table: a row is
    /// written in the transaction of the change that causes it, then claimed,
    /// sent and marked by the delivery worker.
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("notifications")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(reference_null("customer_id"))
                    .col(reference_null("contact_id"))
                    .col(string_len("kind", 32))
                    .col(string_len("channel", 16))
                    .col(string("recipient"))
                    .col(string("subject"))
                    .col(text("body_text"))
                    .col(text_null("body_html"))
                    // Extra headers as a JSON object (List-Unsubscribe and friends).
                    .col(text("headers_json"))
                    // Stable across retries, so a resent mail is recognised as the same.
                    .col(string("message_id"))
                    .col(string_len("state", 16))
                    .col(string_null("suppress_reason"))
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(string_null("lease_owner"))
                    .col(timestamp_with_time_zone_null("lease_until"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    .foreign_key(&mut fk("notifications", "workspace_id", "workspaces", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk("notifications", "customer_id", "customers", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk("notifications", "contact_id", "contacts", ForeignKeyAction::SetNull))
                    .take(),
            )
            .await?;
        manager.create_index(index("notifications", "ix_notifications_due", &["state", "next_attempt_at"])).await?;
        manager.create_index(index("notifications", "ix_notifications_customer", &["customer_id", "id"])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("notifications").take()).await
    }
}
