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
                    .table("contacts")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(reference("customer_id"))
                    .col(string("first_name"))
                    .col(string("last_name"))
                    .col(string("email"))
                    .col(string("phone"))
                    .col(boolean("hub_access"))
                    // The implicit contact of a private customer.
                    .col(boolean("is_primary"))
                    .col(boolean("subscribed"))
                    .col(timestamp_with_time_zone_null("welcome_first_sent_at"))
                    .col(timestamp_with_time_zone_null("welcome_last_sent_at"))
                    .col(integer("welcome_send_count"))
                    // sha256 of the newest activation token; a resend replaces it.
                    .col(string_len_null("activation_token_hash", 64))
                    .col(timestamp_with_time_zone_null("activation_expires_at"))
                    .col(string_null("password_hash"))
                    .col(timestamp_with_time_zone_null("activated_at"))
                    .col(timestamp_with_time_zone_null("last_login_at"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("contacts", "workspace_id", "workspaces", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk("contacts", "customer_id", "customers", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager.create_index(index("contacts", "ix_contacts_customer", &["customer_id", "id"])).await?;
        manager.create_index(index("contacts", "ix_contacts_workspace_email", &["workspace_id", "email"])).await?;
        manager
            .create_index(index("contacts", "ux_contacts_activation_token", &["activation_token_hash"]).unique().take())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("hub_sessions")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(reference("contact_id"))
                    .col(string_len_uniq("token_hash", 64))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(&mut fk("hub_sessions", "contact_id", "contacts", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager.create_index(index("hub_sessions", "ix_hub_sessions_contact", &["contact_id"])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("hub_sessions").take()).await?;
        manager.drop_table(Table::drop().table("contacts").take()).await
    }
}
