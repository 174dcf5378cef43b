use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "time_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub customer_id: String,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub performed_on: chrono::NaiveDate,
    pub billed_minutes: i64,
    pub actual_minutes: Option<i64>,
    pub billable: bool,
    pub registered_by: String,
    pub notify: Option<bool>,
    pub invoiced_at: Option<crate::Timestamp>,
    pub version: i64,
    pub created_at: crate::Timestamp,
    pub updated_at: crate::Timestamp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
