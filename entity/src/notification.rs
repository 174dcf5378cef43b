use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub customer_id: Option<String>,
    pub contact_id: Option<String>,
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub body_text: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub body_html: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub headers_json: String,
    pub message_id: String,
    pub state: String,
    pub suppress_reason: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: crate::Timestamp,
    pub lease_owner: Option<String>,
    pub lease_until: Option<crate::Timestamp>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: crate::Timestamp,
    pub updated_at: crate::Timestamp,
    pub sent_at: Option<crate::Timestamp>,
    pub provider_message_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
