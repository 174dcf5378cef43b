use super::Id;
use crate::clock::Timestamp;

#[derive(Debug, Clone)]
pub struct Contact {
    pub id: Id,
    pub customer_id: Id,
    pub first_name: String,
    pub last_name: String,
    /// Empty only for a private customer who has no e-mail.
    pub email: String,
    pub phone: String,
    pub hub_access: bool,
    pub primary: bool,
    pub subscribed: bool,
    pub welcome_first_sent_at: Option<Timestamp>,
    pub welcome_last_sent_at: Option<Timestamp>,
    pub welcome_send_count: i32,
    pub activated: bool,
    pub last_login_at: Option<Timestamp>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Contact {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name).trim().to_string()
    }
}
