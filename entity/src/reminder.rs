use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reminders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub customer_id: String,
    pub name: String,
    pub first_date: chrono::NaiveDate,
    pub reminder_type_id: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub text: String,
    pub frequency: String,
    pub interval: i32,
    pub weekdays: String,
    pub monthly_by: String,
    pub week_of_month: i32,
    pub weekday: String,
    pub until: Option<chrono::NaiveDate>,
    pub delivery: String,
    pub receivers: String,
    pub created_by: Option<String>,
    pub next_fire_at: Option<crate::Timestamp>,
    pub version: i64,
    pub created_at: crate::Timestamp,
    pub updated_at: crate::Timestamp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
