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
        // Thresholds of the automatic notifications.
        manager
            .alter_table(
                Table::alter().table("workspaces").add_column(integer("punches_low_threshold").default(2)).take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table("workspaces").add_column(integer("expiring_days_before").default(30)).take(),
            )
            .await?;
        // The secret of a contact's unsubscribe links (low value: it only unsubscribes).
        manager
            .alter_table(Table::alter().table("contacts").add_column(string_len_null("unsubscribe_token", 64)).take())
            .await?;
        manager
            .create_index(index("contacts", "ux_contacts_unsubscribe_token", &["unsubscribe_token"]).unique().take())
            .await?;

        // Mode and channels per kind; a missing row means the built-in default.
        manager
            .create_table(
                Table::create()
                    .table("notification_settings")
                    .col(reference("workspace_id"))
                    .col(string_len("kind", 32))
                    .col(string_len("mode", 16))
                    .col(boolean("email"))
                    .col(boolean("hub"))
                    .primary_key(Index::create().col("workspace_id").col("kind"))
                    .foreign_key(&mut fk(
                        "notification_settings",
                        "workspace_id",
                        "workspaces",
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        // A workspace's own texts; a missing row means the shipped default.
        manager
            .create_table(
                Table::create()
                    .table("notification_templates")
                    .col(reference("workspace_id"))
                    .col(string_len("kind", 32))
                    .col(string_len("locale", 8))
                    .col(string_len("tone", 16))
                    .col(text("subject"))
                    .col(text("body"))
                    .col(reference_null("updated_by"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("workspace_id").col("kind").col("locale").col("tone"))
                    .foreign_key(&mut fk(
                        "notification_templates",
                        "workspace_id",
                        "workspaces",
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        // HUB and staff inboxes. `seq` counts 1, 2, 3, ... per recipient and is
        // assigned inside the writing transaction (see inbox_counters), so a
        // reader resuming after sequence N never misses a message.
        manager
            .create_table(
                Table::create()
                    .table("inbox_messages")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(string_len("recipient_kind", 16))
                    .col(reference("recipient_id"))
                    .col(reference_null("customer_id"))
                    .col(big_integer("seq"))
                    .col(string_len("kind", 32))
                    .col(text("title"))
                    .col(text("body"))
                    .col(text("link"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("read_at"))
                    .foreign_key(&mut fk("inbox_messages", "workspace_id", "workspaces", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index("inbox_messages", "ux_inbox_messages_recipient_seq", &["recipient_id", "seq"]).unique().take(),
            )
            .await?;
        // The last sequence per recipient. Bumping it takes a row lock that
        // orders concurrent writers to one inbox by commit.
        manager
            .create_table(
                Table::create()
                    .table("inbox_counters")
                    .col(ColumnDef::new("recipient_id").string_len(36).not_null().primary_key())
                    .col(big_integer("last_seq"))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("subscription_events")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(reference("contact_id"))
                    .col(boolean("subscribed"))
                    .col(string_len("source", 16))
                    .col(text("shown_text"))
                    .col(reference_null("staff_user_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("subscription_events", "contact_id", "contacts", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("subscription_events", "ix_subscription_events_contact", &["contact_id", "id"]))
            .await?;
        manager.create_index(index("notifications", "ix_notifications_contact", &["contact_id", "id"])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_notifications_contact").table("notifications").to_owned()).await?;
        for t in [
            "subscription_events",
            "inbox_counters",
            "inbox_messages",
            "notification_templates",
            "notification_settings",
        ] {
            manager.drop_table(Table::drop().table(t).take()).await?;
        }
        manager.drop_index(Index::drop().name("ux_contacts_unsubscribe_token").table("contacts").to_owned()).await?;
        manager.alter_table(Table::alter().table("contacts").drop_column("unsubscribe_token").take()).await?;
        manager.alter_table(Table::alter().table("workspaces").drop_column("expiring_days_before").take()).await?;
        manager.alter_table(Table::alter().table("workspaces").drop_column("punches_low_threshold").take()).await
    }
}
