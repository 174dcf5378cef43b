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
                    .table("staff_users")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(string("email"))
                    .col(string("name"))
                    .col(string("phone"))
                    .col(string_len("role", 16))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("staff_users", "workspace_id", "workspaces", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index("staff_users", "ux_staff_users_workspace_email", &["workspace_id", "email"]).unique().take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("staff_user_areas")
                    .col(reference("staff_user_id"))
                    .col(reference("area_id"))
                    .col(reference("workspace_id"))
                    .primary_key(Index::create().col("staff_user_id").col("area_id"))
                    .foreign_key(&mut fk("staff_user_areas", "staff_user_id", "staff_users", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk("staff_user_areas", "area_id", "areas", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager.create_index(index("staff_user_areas", "ix_staff_user_areas_area", &["area_id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("api_keys")
                    .col(id("id"))
                    .col(reference("workspace_id"))
                    .col(reference("staff_user_id"))
                    .col(string("name"))
                    .col(string_len("prefix", 16))
                    .col(string_len_uniq("secret_hash", 64))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(&mut fk("api_keys", "workspace_id", "workspaces", ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk("api_keys", "staff_user_id", "staff_users", ForeignKeyAction::Cascade))
                    .take(),
            )
            .await?;
        manager.create_index(index("api_keys", "ix_api_keys_workspace", &["workspace_id", "id"])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("api_keys").take()).await?;
        manager.drop_table(Table::drop().table("staff_user_areas").take()).await?;
        manager.drop_table(Table::drop().table("staff_users").take()).await
    }
}
