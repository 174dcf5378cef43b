use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workspaces")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub time_zone: String,
    pub default_locale: String,
    pub default_tone: String,
    pub sender_name: String,
    pub sender_email: String,
    pub hub_base_url: String,
    pub booking_url: String,
    pub sms_enabled: bool,
    pub sms_price_minor: i64,
    pub sms_currency: String,
    pub book_again_sms_payer: String,
    pub punches_low_threshold: i32,
    pub expiring_days_before: i32,
    pub allow_expired_card_registration: bool,
    pub version: i64,
    pub created_at: crate::Timestamp,
    pub updated_at: crate::Timestamp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
