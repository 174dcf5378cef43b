use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "punch_cards")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub customer_id: String,
    pub name: String,
    pub unit: String,
    pub total: i64,
    pub used: i64,
    pub start_date: chrono::NaiveDate,
    pub expiry_date: Option<chrono::NaiveDate>,
    pub created_by: Option<String>,
    pub notify: Option<bool>,
    pub low_fired: bool,
    pub used_up_fired: bool,
    pub overdrawn_fired: bool,
    pub expiring_fired: bool,
    pub expired_fired: bool,
    pub version: i64,
    pub created_at: crate::Timestamp,
    pub updated_at: crate::Timestamp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
