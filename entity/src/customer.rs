use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub kind: String,
    pub company_name: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub sort_name: String,
    pub email: String,
    pub phone: String,
    pub address_line1: String,
    pub address_line2: String,
    pub postal_code: String,
    pub city: String,
    pub country_code: String,
    pub area_id: Option<String>,
    pub external_ref: Option<String>,
    pub hub_access: bool,
    pub module_punch_cards: bool,
    pub module_timesheets: bool,
    pub locale: Option<String>,
    pub tone: Option<String>,
    pub sms_consent_granted: bool,
    pub sms_consent_at: Option<crate::Timestamp>,
    pub sms_consent_method: Option<String>,
    pub sms_consent_note: String,
    pub sms_consent_by: Option<String>,
    pub version: i64,
    pub created_at: crate::Timestamp,
    pub updated_at: crate::Timestamp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
