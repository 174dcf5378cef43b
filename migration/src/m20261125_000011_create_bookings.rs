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
            .create_table(
                Table::create()
                    .table("bookings")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(reference("customer_id"))
                    // The booking system's id: RecordBooking upserts by it.
                    .col(string_len_null("external_id", 128))
                    .col(string("contact_name"))
                    // Empty when the booking has none.
                    .col(string("email"))
                    .col(string_len("phone", 32))
                    .col(timestamp_with_time_zone("start_time"))
                    .col(boolean("paid"))
                    // The book-again reminder whose link it was made through.
                    .col(reference_null("via_reminder_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("bookings", "workspace_id", "workspaces", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk("bookings", "customer_id", "customers", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        // NULLs are distinct on both databases: bookings without an external id never collide.
        manager
            .create_index(
                index("bookings", "ux_bookings_external_id", &["workspace_id", "external_id"]).unique().take(),
            )
            .await?;
        manager
            .create_index(index("bookings", "ix_bookings_customer_start", &["customer_id", "start_time", "id"]))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("book_again_reminders")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(reference("customer_id"))
                    // No foreign key: a deleted booking's reminders stay as history.
                    .col(reference("booking_id"))
                    // Copies of the booking's name and phone, kept when the booking goes.
                    .col(string("contact_name"))
                    .col(string_len("phone", 32))
                    .col(integer("interval_count"))
                    .col(string_len("interval_unit", 16))
                    .col(date("send_date"))
                    .col(string_len("state", 16))
                    .col(string_len_null("cancel_reason", 32))
                    // The `ref` of the SMS's booking link.
                    .col(string_len("token", 64))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    .col(text_null("message"))
                    .col(reference_null("delivery_id"))
                    .col(reference_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "book_again_reminders",
                        "workspace_id",
                        "workspaces",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk("book_again_reminders", "customer_id", "customers", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("book_again_reminders", "ux_book_again_reminders_token", &["token"]).unique().take())
            .await?;
        // At most one pending reminder per booking, whatever runs concurrently.
        manager
            .create_index(
                index("book_again_reminders", "ux_book_again_reminders_pending", &["booking_id"])
                    .unique()
                    .and_where(Expr::col("state").eq("pending"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("book_again_reminders", "ix_book_again_reminders_due", &["state", "send_date"]))
            .await?;
        manager
            .create_index(index("book_again_reminders", "ix_book_again_reminders_booking", &["booking_id", "id"]))
            .await?;
        manager
            .create_index(index("book_again_reminders", "ix_book_again_reminders_customer", &["customer_id", "id"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("book_again_reminders").take()).await?;
        manager.drop_table(Table::drop().table("bookings").take()).await
    }
}
