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
                    .table("customers")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(string_len("kind", 16))
                    .col(string("company_name"))
                    .col(string("first_name"))
                    .col(string("last_name"))
                    .col(string("display_name"))
                    // Lower-cased display name: the list order and the search key.
                    .col(string("sort_name"))
                    .col(string("email"))
                    .col(string("phone"))
                    .col(string("address_line1"))
                    .col(string("address_line2"))
                    .col(string("postal_code"))
                    .col(string("city"))
                    .col(string_len("country_code", 2))
                    .col(reference_null("area_id"))
                    .col(string_null("external_ref"))
                    .col(boolean("hub_access"))
                    .col(boolean("module_punch_cards"))
                    .col(boolean("module_timesheets"))
                    .col(string_len_null("locale", 8))
                    .col(string_len_null("tone", 16))
                    .col(boolean("sms_consent_granted"))
                    .col(timestamp_with_time_zone_null("sms_consent_at"))
                    .col(string_len_null("sms_consent_method", 32))
                    .col(string("sms_consent_note"))
                    .col(reference_null("sms_consent_by"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("customers", "workspace_id", "workspaces", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk("customers", "area_id", "areas", ForeignKeyAction::SetNull))
                    .take(),
            )
            .await?;
        // NULL external refs never collide, on both databases.
        manager
            .create_index(
                index("customers", "ux_customers_workspace_external_ref", &["workspace_id", "external_ref"])
                    .unique()
                    .take(),
            )
            .await?;
        manager
            .create_index(index("customers", "ix_customers_workspace_sort", &["workspace_id", "sort_name", "id"]))
            .await?;
        manager.create_index(index("customers", "ix_customers_area", &["area_id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("sms_consent_events")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(reference("customer_id"))
                    .col(boolean("granted"))
                    .col(string_len_null("method", 32))
                    .col(string("note"))
                    .col(reference_null("staff_user_id"))
                    .col(timestamp_with_time_zone("recorded_at"))
                    .foreign_key(&mut fk("sms_consent_events", "customer_id", "customers", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager.create_index(index("sms_consent_events", "ix_sms_consent_events_customer", &["customer_id"])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("sms_consent_events").take()).await?;
        manager.drop_table(Table::drop().table("customers").take()).await
    }
}
