use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "book_again_reminders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub customer_id: String,
    pub booking_id: String,
    pub contact_name: String,
    pub phone: String,
    pub interval_count: i32,
    pub interval_unit: String,
    pub send_date: chrono::NaiveDate,
    pub state: String,
    pub cancel_reason: Option<String>,
    pub token: String,
    pub sent_at: Option<crate::Timestamp>,
    #[sea_orm(column_type = "Text", nullable)]
    pub message: Option<String>,
    pub delivery_id: Option<String>,
    pub created_by: Option<String>,
    pub created_at: crate::Timestamp,
    pub updated_at: crate::Timestamp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
