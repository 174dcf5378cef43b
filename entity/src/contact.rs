use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub customer_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub hub_access: bool,
    pub is_primary: bool,
    pub subscribed: bool,
    pub welcome_first_sent_at: Option<crate::Timestamp>,
    pub welcome_last_sent_at: Option<crate::Timestamp>,
    pub welcome_send_count: i32,
    pub activation_token_hash: Option<String>,
    pub activation_expires_at: Option<crate::Timestamp>,
    pub password_hash: Option<String>,
    pub activated_at: Option<crate::Timestamp>,
    pub last_login_at: Option<crate::Timestamp>,
    pub unsubscribe_token: Option<String>,
    pub version: i64,
    pub created_at: crate::Timestamp,
    pub updated_at: crate::Timestamp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
