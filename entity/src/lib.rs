//! SeaORM entities, one file per table. Only `src/store` uses them: the
//! domain and the gRPC layer never see these types.
pub mod api_key;
pub mod area;
pub mod book_again_reminder;
pub mod booking;
pub mod contact;
pub mod customer;
pub mod email_suppression;
pub mod erasure_audit;
pub mod hub_session;
pub mod idempotency_key;
pub mod inbox_counter;
pub mod inbox_message;
pub mod notification;
pub mod notification_setting;
pub mod notification_template;
pub mod punch_card;
pub mod punch_registration;
pub mod reminder;
pub mod reminder_firing;
pub mod reminder_type;
pub mod sms_consent_event;
pub mod staff_user;
pub mod staff_user_area;
pub mod subscription_event;
pub mod time_entry;
pub mod workspace;

pub type Timestamp = chrono::DateTime<chrono::Utc>;
