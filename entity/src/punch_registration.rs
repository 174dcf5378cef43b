use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "punch_registrations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub punch_card_id: String,
    pub customer_id: String,
    pub performed_on: chrono::NaiveDate,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub amount: i64,
    pub registered_by: Option<String>,
    pub notify: Option<bool>,
    pub version: i64,
    pub created_at: crate::Timestamp,
    pub updated_at: crate::Timestamp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
