use super::{EmailAddress, Id, Locale, Role, TimeZone, Tone};
use crate::clock::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsPayer {
    Business,
    StaffMember,
}

impl SmsPayer {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsPayer::Business => "business",
            SmsPayer::StaffMember => "staff_member",
        }
    }
    pub fn from_stored(s: &str) -> Self {
        if s == "staff_member" { SmsPayer::StaffMember } else { SmsPayer::Business }
    }
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub id: Id,
    pub name: String,
    pub time_zone: TimeZone,
    pub default_locale: Locale,
    pub default_tone: Tone,
    pub sender_name: String,
    pub sender_email: EmailAddress,
    pub hub_base_url: String,
    pub booking_url: String,
    pub sms_enabled: bool,
    pub sms_price_minor: i64,
    pub sms_currency: String,
    pub book_again_sms_payer: SmsPayer,
    pub punches_low_threshold: i32,
    pub expiring_days_before: i32,
    /// Whether tasks may still be registered on an expired punch card.
    pub allow_expired_card_registration: bool,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct Area {
    pub id: Id,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct StaffUser {
    pub id: Id,
    pub email: EmailAddress,
    pub name: String,
    pub phone: String,
    pub role: Role,
    pub area_ids: Vec<Id>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct ApiKeyInfo {
    pub id: Id,
    pub staff_user_id: Id,
    pub name: String,
    pub prefix: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}
